"""Gateway offline end to end: a real gateway process on a simulated Modbus device, Mosquitto (with
`$SYS`), the collector, PostgreSQL and the platform service with its alarm rules; webhooks to a real
HTTP listener. A frozen gateway (silent, still connected) raises "gateway offline" after its delay, a
stopped one at once (its `$status offline`); its return clears the alarm and a "cleared" arrives."""

from __future__ import annotations

import asyncio
import os
import signal
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
from plantproof.embedded import MosquittoServer
from simulators.servers.modbus import SimModbusServer
from tests.api.receiver import Receiver, receiving
from tests.api.world import client
from tests.collector.mqttutil import scalar, wait_until
from tests.gateway.helpers import SETPOINTS_TYPE, SetpointSource, modbus_device, write_config
from tests.processes import GatewayProcess
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
                    "scrape_timeout_s": 1,
                },
                "rules": {"gateway_offline": {"delay_s": DELAY_S}, "device_offline": {"delay_s": 60}},
                "webhooks": [{"name": "ops", "url": hook, "backoff_initial_s": 0.2, "backoff_max_s": 1}],
            }
        )
    )
    return path


def _since(receiver: Receiver, start: int) -> Callable[[str, str], Callable[[dict[str, Any]], bool]]:
    """A matcher of the events accepted after the first `start` ones."""

    def matcher(event: str, rule: str) -> Callable[[dict[str, Any]], bool]:
        def match(body: dict[str, Any]) -> bool:
            later = body in receiver.accepted[start:]
            return later and body["event"] == event and body["alarm"]["rule"] == rule

        return match

    return matcher


async def _event(
    receiver: Receiver, event: str, rule: str, after: int, timeout_s: float = 30
) -> dict[str, Any]:
    return await asyncio.to_thread(receiver.wait_event, _since(receiver, after)(event, rule), timeout_s)


async def test_a_silent_or_stopped_gateway_raises_gateway_offline_and_its_return_clears_it(
    tmp_path: Path, mosquitto_factory: Callable[..., MosquittoServer], pg_dsn: str
) -> None:
    broker = mosquitto_factory(extra_conf="sys_interval 1")
    migrate(pg_dsn)
    create_tenant(pg_dsn, "plant", ["site1"])
    auth = {"Authorization": f"Bearer {create_token(pg_dsn, 'plant', 'operator').token}"}
    (tmp_path / "generic.yaml").write_text(SETPOINTS_TYPE)
    sim = SimModbusServer(SetpointSource(load_device_type(tmp_path / "generic.yaml")), port=0)
    await sim.start()
    gw, gateway_port, collector_port = f"gw-{uuid.uuid4().hex[:6]}", free_port(), free_port()
    # re-published every second while steady: the gateway is never silent for DELAY_S while it runs
    device = modbus_device("m1", sim.port, 1, type="generic.yaml", edge={"default": {"max_silence_s": 1.0}})
    config = write_config(
        tmp_path, broker.url, [device], gateway_id=gw, link_lost_after_s=1.0, metrics={"port": gateway_port}
    )
    collector = load_settings(
        None, dsn=pg_dsn, metrics_port=collector_port,
        mqtt={"url": broker.url, "client_id": f"c-{uuid.uuid4().hex[:8]}", "topics": [f"pp/v1/site1/{gw}/#"]},
    )  # fmt: skip
    stop, collector_metrics = asyncio.Event(), Metrics()
    exporter, _ = start_http_server(collector_port, addr="127.0.0.1", registry=collector_metrics.registry)
    pipeline = asyncio.create_task(Pipeline(collector, collector_metrics).run(stop))
    gateway = GatewayProcess(config, tmp_path / "gateway.log")
    gateway.start()
    try:
        with receiving() as receiver:
            alarms = _alarms_yaml(
                tmp_path / "alarms.yaml", broker.url, collector_port, gateway_port, receiver.url
            )
            born = "SELECT count(*) FROM devices WHERE dev = 'm1' AND online"
            try:
                await asyncio.to_thread(wait_until, lambda: scalar(pg_dsn, born) == 1, 60, "the birth")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; the gateway said: {gateway.output()[-3000:]}") from None
            async with client(ApiSettings(dsn=pg_dsn, alarms=alarms)) as (http, app):
                evaluator = app.state.evaluator
                await _settled(http, evaluator)
                assert DROPPED_TOPIC in (evaluator.broker.values() or {})  # `$SYS` is read
                assert (await http.get("/api/v1/alarms", headers=auth)).json() == []  # nothing fires

                # silent: the process is frozen, its broker connection still open
                os.kill(gateway.pid, signal.SIGSTOP)
                frozen = time.monotonic()
                raised = (await _event(receiver, "raised", "gateway_offline", 0))["alarm"]
                took = time.monotonic() - frozen
                assert DELAY_S - 2 <= took <= DELAY_S + 5, took  # its last data came at most ~1 s before
                assert raised["subject"] == f"site1/{gw}" and raised["site"] == "site1"
                assert raised["severity"] == "critical" and "no birth, heartbeat or data" in raised["message"]
                listed = (await http.get("/api/v1/alarms?state=active", headers=auth)).json()
                assert raised["id"] in [a["id"] for a in listed]
                metrics = (await http.get("/metrics")).text
                assert 'plantproof_alarms_active{rule="gateway_offline",severity="critical"} 1.0' in metrics
                os.kill(gateway.pid, signal.SIGCONT)
                cleared = (await _event(receiver, "cleared", "gateway_offline", 0))["alarm"]
                assert cleared["id"] == raised["id"] and cleared["cleared_at"] > raised["raised_at"]

                # stopped: its `$status offline` raises at once, well within the delay
                seen = len(receiver.accepted)
                gateway.stop()
                stopped = time.monotonic()
                raised = (await _event(receiver, "raised", "gateway_offline", seen))["alarm"]
                assert time.monotonic() - stopped <= DELAY_S, time.monotonic() - stopped
                assert "went offline" in raised["message"]
                await _event(receiver, "raised", "source_down", seen)  # its metrics endpoint went with it
                gateway.start()
                cleared = (await _event(receiver, "cleared", "gateway_offline", seen, 60))["alarm"]
                assert cleared["id"] == raised["id"]
                await _event(receiver, "cleared", "source_down", seen)
                one = (await http.get(f"/api/v1/alarms/{raised['id']}", headers=auth)).json()
                assert one["raised_at"] == raised["raised_at"] and one["cleared_at"] == cleared["cleared_at"]
            rules = {(b["event"], b["alarm"]["rule"]) for b in receiver.accepted}
            # the device's alarm stays with its gateway's; the collector and the broker were read throughout
            assert rules <= {
                ("raised", "gateway_offline"), ("cleared", "gateway_offline"),
                ("raised", "source_down"), ("cleared", "source_down"),
            }, receiver.accepted  # fmt: skip
    finally:
        if gateway.alive():
            os.kill(gateway.pid, signal.SIGCONT)
        gateway.stop()
        stop.set()
        await asyncio.gather(pipeline, return_exceptions=True)
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
