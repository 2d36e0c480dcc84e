"""Gateway offline end to end: a real gateway on a simulated Modbus device, Mosquitto (with `$SYS`),
the collector, PostgreSQL and the platform service with its alarm rules; webhooks to a real HTTP
listener. Stopping the gateway raises "gateway offline" within its delay, its return clears it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client import start_http_server

from api.alarm_rules import DROPPED_TOPIC
from api.settings import ApiSettings
from api.store import create_tenant, create_token
from collector.ingest import Pipeline
from collector.metrics import Metrics
from collector.migrate import migrate
from collector.settings import load_settings
from devicemodel.loader import load_device_type
from gateway.config import load_config
from gateway.runner import Gateway
from plantproof.embedded import MosquittoServer
from simulators.servers.modbus import SimModbusServer
from tests.api.receiver import receiving
from tests.api.world import client
from tests.collector.mqttutil import scalar, wait_until
from tests.gateway.helpers import SETPOINTS_TYPE, SetpointSource, modbus_device, write_config
from tests.servers import free_port

DELAY_S = 5.0  # the gateway_offline delay; a `$status offline` raises at once
INTERVAL_S = 0.5


def _alarms_yaml(path: Path, broker: str, collector_port: int, gateway_port: int, hook: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "interval_s": INTERVAL_S,
                "sources": {
                    "collectors": [
                        {"name": "collector", "url": f"http://127.0.0.1:{collector_port}/metrics"}
                    ],
                    "gateways": [
                        {
                            "name": "gw-metrics",
                            "url": f"http://127.0.0.1:{gateway_port}/metrics",
                            "site": "site1",
                        }
                    ],
                    "broker": {"url": broker},
                    "disks": [str(path.parent)],
                    "scrape_timeout_s": 2,
                },
                "rules": {"gateway_offline": {"delay_s": DELAY_S}, "device_offline": {"delay_s": 60}},
                "webhooks": [{"name": "ops", "url": hook, "backoff_initial_s": 0.2, "backoff_max_s": 1}],
            }
        )
    )
    return path


def _is(event: str, rule: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: body["event"] == event and body["alarm"]["rule"] == rule


async def test_stopping_a_gateway_raises_gateway_offline_and_its_return_clears_it(
    tmp_path: Path, mosquitto_factory: Callable[..., MosquittoServer], pg_dsn: str
) -> None:
    broker = mosquitto_factory(extra_conf="sys_interval 1")
    migrate(pg_dsn)
    create_tenant(pg_dsn, "plant", ["site1"])
    token = create_token(pg_dsn, "plant", "operator").token
    auth = {"Authorization": f"Bearer {token}"}
    (tmp_path / "generic.yaml").write_text(SETPOINTS_TYPE)
    sim = SimModbusServer(SetpointSource(load_device_type(tmp_path / "generic.yaml")), port=0)
    await sim.start()
    gw, gateway_port, collector_port = f"gw-{uuid.uuid4().hex[:6]}", free_port(), free_port()
    device = modbus_device("m1", sim.port, 1, type="generic.yaml")
    cfg = load_config(
        write_config(tmp_path, broker.url, [device], gateway_id=gw, link_lost_after_s=1.0,
                     metrics={"port": gateway_port})
    )  # fmt: skip
    collector = load_settings(
        None, dsn=pg_dsn, metrics_port=collector_port,
        mqtt={"url": broker.url, "client_id": f"c-{uuid.uuid4().hex[:8]}", "topics": [f"pp/v1/site1/{gw}/#"]},
    )  # fmt: skip
    stop, collector_metrics = asyncio.Event(), Metrics()
    exporter, _ = start_http_server(collector_port, addr="127.0.0.1", registry=collector_metrics.registry)
    pipeline = asyncio.create_task(Pipeline(collector, collector_metrics).run(stop))
    gateway = asyncio.create_task(Gateway(cfg).run())
    try:
        with receiving() as receiver:
            alarms = _alarms_yaml(
                tmp_path / "alarms.yaml", broker.url, collector_port, gateway_port, receiver.url
            )
            await asyncio.to_thread(
                wait_until,
                lambda: scalar(pg_dsn, "SELECT count(*) FROM devices WHERE dev = 'm1' AND online") == 1,
                60,
                "the birth",
            )
            async with client(ApiSettings(dsn=pg_dsn, alarms=alarms)) as (http, app):
                evaluator = app.state.evaluator
                await _settled(http, evaluator)
                assert DROPPED_TOPIC in (evaluator.broker.values() or {})  # `$SYS` is read
                assert (await http.get("/api/v1/alarms", headers=auth)).json() == []  # nothing fires

                gateway.cancel()
                await asyncio.gather(gateway, return_exceptions=True)
                stopped = time.monotonic()
                raised = await asyncio.to_thread(receiver.wait_event, _is("raised", "gateway_offline"), 30)
                took = time.monotonic() - stopped
                alarm = raised["alarm"]
                assert took <= DELAY_S + 2 * INTERVAL_S, took
                assert alarm["subject"] == f"site1/{gw}" and alarm["site"] == "site1"
                assert alarm["severity"] == "critical" and alarm["cleared_at"] is None
                listed = (await http.get("/api/v1/alarms?state=active", headers=auth)).json()
                assert alarm["id"] in [a["id"] for a in listed]
                metrics = (await http.get("/metrics")).text
                assert 'plantproof_alarms_active{rule="gateway_offline",severity="critical"} 1.0' in metrics
                # its metrics endpoint went with it
                await asyncio.to_thread(receiver.wait_event, _is("raised", "source_down"), 30)

                restarted = asyncio.create_task(Gateway(cfg).run())
                try:
                    cleared = await asyncio.to_thread(
                        receiver.wait_event, _is("cleared", "gateway_offline"), 60
                    )
                    assert (
                        cleared["alarm"]["id"] == alarm["id"] and cleared["alarm"]["cleared_at"] is not None
                    )
                    await asyncio.to_thread(receiver.wait_event, _is("cleared", "source_down"), 30)
                    one = (await http.get(f"/api/v1/alarms/{alarm['id']}", headers=auth)).json()
                    assert (
                        one["raised_at"] == alarm["raised_at"]
                        and one["cleared_at"] == cleared["alarm"]["cleared_at"]
                    )
                finally:
                    restarted.cancel()
                    await asyncio.gather(restarted, return_exceptions=True)
            rules = {(b["event"], b["alarm"]["rule"]) for b in receiver.accepted}
            # the device's alarm stays with its gateway's; the collector and the broker were read throughout
            assert rules == {
                ("raised", "gateway_offline"), ("cleared", "gateway_offline"),
                ("raised", "source_down"), ("cleared", "source_down"),
            }, receiver.accepted  # fmt: skip
    finally:
        gateway.cancel()
        stop.set()
        await asyncio.gather(gateway, pipeline, return_exceptions=True)
        await sim.stop()
        exporter.shutdown()
        exporter.server_close()


async def _settled(http: httpx.AsyncClient, evaluator: Any) -> None:
    """Until the rules ran twice with every source read (the collector's CPU needs two samples)."""
    for _ in range(200):
        text = (await http.get("/metrics")).text
        runs = next((float(line.split()[-1]) for line in text.splitlines()
                     if line.startswith("plantproof_alarm_evaluations_total ")), 0.0)  # fmt: skip
        if runs >= 3 and evaluator.broker.values():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the alarm rules did not run with every source")
