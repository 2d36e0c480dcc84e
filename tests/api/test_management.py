"""Management operations through the API, end to end: a real pymodbus device, the gateway,
Mosquitto, the collector and PostgreSQL. What the API sends reaches the device and counts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client import generate_latest

from api.store import create_tenant, create_token
from collector.figures import queries
from collector.figures.compute import Parameters
from collector.figures.window import parse_window
from collector.ingest import Pipeline
from collector.settings import load_settings
from devicemodel.loader import load_device_type
from gateway.config import load_config
from gateway.runner import Gateway
from simulators.servers.modbus import SimModbusServer
from tests.api.world import World, build, client
from tests.collector.mqttutil import scalar, wait_until
from tests.gateway.helpers import BIG, SETPOINTS_TYPE, SetpointSource, modbus_device, write_config

M1 = "/api/v1/devices/site1/m1"


@asynccontextmanager
async def plant(tmp_path: Path, broker: str, dsn: str) -> AsyncIterator[tuple[SimModbusServer, str]]:
    """A pymodbus device behind a running gateway and collector, once its birth is registered."""
    (tmp_path / "generic.yaml").write_text(SETPOINTS_TYPE)
    sim = SimModbusServer(SetpointSource(load_device_type(tmp_path / "generic.yaml")), port=0)
    await sim.start()
    gw = f"gw-{uuid.uuid4().hex[:6]}"
    device = modbus_device("m1", sim.port, 1, type="generic.yaml")
    cfg = load_config(write_config(tmp_path, broker, [device], gateway_id=gw, link_lost_after_s=1.0))
    settings = load_settings(
        None, dsn=dsn, metrics_port=None,
        mqtt={"url": broker, "client_id": f"c-{uuid.uuid4().hex[:8]}",
              "topics": [f"pp/v1/site1/{gw}/#"]},  # retained births of other tests stay out
    )  # fmt: skip
    stop = asyncio.Event()
    tasks = [asyncio.create_task(Gateway(cfg).run()), asyncio.create_task(Pipeline(settings).run(stop))]
    try:
        await asyncio.to_thread(
            wait_until,
            lambda: scalar(dsn, "SELECT count(*) FROM devices WHERE dev = 'm1'") == 1,
            60,
            "the birth",
        )
        yield sim, gw
    finally:
        stop.set()
        tasks[0].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sim.stop()


def _managed(dsn: str) -> dict[str, dict[str, int]]:
    """Managed equipment this month: each member with who sent the operations it answered."""
    now = datetime.now(UTC)
    window = parse_window(now.strftime("%Y-%m"), now)
    figures, _ = queries.figures(dsn, Parameters(window, now, include_simulated=True))
    return {m.device: dict(m.ops_by) for m in figures.managed_equipment.members}


async def test_management_through_the_api_reaches_the_device_and_counts(
    tmp_path: Path, mqtt_broker: Any, pg_dsn: str
) -> None:
    world = build(pg_dsn)  # tenants alpha (site-a) and beta (site-b)
    create_tenant(pg_dsn, "plant", ["site1"])
    tokens = {r: create_token(pg_dsn, "plant", r) for r in ("operator", "auditor")}
    auth = {r: {"Authorization": f"Bearer {t.token}"} for r, t in tokens.items()}
    api = world.settings(mqtt_url=mqtt_broker.url, limits={"management_timeout_s": 10})
    async with plant(tmp_path, mqtt_broker.url, pg_dsn) as (sim, gw), client(api) as (http, _):
        ping = await http.post(f"{M1}/ping", headers=auth["operator"])
        assert ping.status_code == 200, ping.text
        out = ping.json()
        assert out["ok"] and out["reached"] and out["gateway"] == gw and out["device"] == "site1/m1"
        assert out["result"]["read"]["point"] == "level" and out["result"]["read"]["raw"] == 21.5
        write = await http.post(
            f"{M1}/write", json={"point": "big_sp", "value": BIG}, headers=auth["operator"]
        )
        assert write.status_code == 200, write.text
        assert write.json()["result"] == {"point": "big_sp", "requested": BIG, "written": BIG, "raw": BIG}
        config = await http.post(f"{M1}/read-config", headers=auth["operator"])
        assert config.status_code == 200 and config.json()["ok"] and not config.json()["reached"]
        refused = await http.post(
            f"{M1}/write", json={"point": "f_sp", "value": BIG}, headers=auth["operator"]
        )
        assert refused.status_code == 502 and "cannot be represented exactly" in refused.json()["error"]
        bad = await http.post(f"{M1}/write", json={"point": "big_sp", "value": "7"}, headers=auth["operator"])
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:2] == ["body", "value"]
        slow = await http.post(f"{M1}/ping?timeout=3600", headers=auth["operator"])
        assert slow.status_code == 422 and slow.json()["detail"][0]["loc"] == ["query", "timeout"]
        assert (await http.post(f"{M1}/ping", headers=auth["auditor"])).status_code == 403
        theirs = await http.post(f"{M1}/ping", headers=world.auth("alpha", "operator"))
        assert theirs.status_code == 404  # another tenant's device does not exist
        sim.silence_unit("m1")
        down = await http.post(f"{M1}/ping", headers=auth["operator"])
        assert down.status_code == 502 and "device read failed" in down.json()["error"]
        metrics = (await http.get("/metrics")).text
    with psycopg.connect(pg_dsn) as conn:
        ops = conn.execute(
            "SELECT op, ok, reached, requested_by FROM management_ops ORDER BY sent_at"
        ).fetchall()
        audit = conn.execute(
            "SELECT token_id, path, status, detail FROM audit_log WHERE method = 'POST' ORDER BY id"
        ).fetchall()
    by = f"api:plant:token:{tokens['operator'].id}"
    assert ops == [
        ("ping", True, True, by), ("write_setpoint", True, True, by), ("read_config", True, False, by),
        ("write_setpoint", False, False, by), ("ping", False, False, by),
    ]  # fmt: skip
    sent = [a for a in audit if a[0] == tokens["operator"].id]
    assert [(a[1].rsplit("/", 1)[1], a[2]) for a in sent] == [
        ("ping", 200), ("write", 200), ("read-config", 200), ("write", 502), ("ping", 422), ("ping", 502),
    ]  # fmt: skip
    assert "device reached" in sent[0][3] and "failed: " in sent[-1][3]
    assert sent[4][3] == "ping site1/m1 refused: query.timeout: at most 10.0 seconds"
    others = [(a[0], a[2], a[3]) for a in audit if a[0] != tokens["operator"].id]
    assert others == [
        (tokens["auditor"].id, 403, "role auditor may not use this route"),
        (world.token_ids["alpha", "operator"], 404, "ping site1/m1 refused: no device site1/m1"),
    ]
    # the API's reached ping and write count, and the figure says the API sent them
    assert _managed(pg_dsn) == {"site1/m1": {"sweep": 0, "api": 2, "cli": 0, "other": 0}}
    counted = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("plantproof_api_management_operations_total{")}  # fmt: skip
    name = "plantproof_api_management_operations_total"
    assert counted == {
        f'{name}{{by="api",op="ping",outcome="reached"}}': 1.0,
        f'{name}{{by="api",op="write_setpoint",outcome="reached"}}': 1.0,
        f'{name}{{by="api",op="read_config",outcome="answered"}}': 1.0,
        f'{name}{{by="api",op="write_setpoint",outcome="failed"}}': 1.0,
        f'{name}{{by="api",op="ping",outcome="failed"}}': 1.0,
    }


async def test_without_a_broker_management_is_503_and_audited(world: World, http: Any) -> None:
    res = await http.post("/api/v1/devices/site-a/press-a/ping", headers=world.auth("alpha", "operator"))
    assert res.status_code == 503 and "mqtt_url" in res.text
    with psycopg.connect(world.dsn) as conn:
        rows = conn.execute("SELECT status, detail FROM audit_log WHERE method = 'POST'").fetchall()
    assert rows == [(503, "ping site-a/press-a refused: management is not configured (mqtt_url)")]


async def test_the_sweep_manages_every_managed_device_again_and_again(
    tmp_path: Path, mqtt_broker: Any, pg_dsn: str
) -> None:
    world = build(pg_dsn)
    sweep = {"enabled": True, "interval_s": 1, "per_second": 1, "timeout_s": 5}
    async with (
        plant(tmp_path, mqtt_broker.url, pg_dsn),
        client(world.settings(mqtt_url=mqtt_broker.url, sweep=sweep)) as (_, app),
    ):
        stats = app.state.sweep.stats  # type: ignore[attr-defined]
        await asyncio.to_thread(wait_until, lambda: stats.sweeps >= 2, 60, "two sweeps")
        assert stats.reached >= 2 and stats.failed_sweeps == 0
        metrics = generate_latest(app.state.alarm_metrics.registry).decode()  # type: ignore[attr-defined]
    assert "plantproof_api_sweeps_total" in metrics and "plantproof_api_sweep_failures_total 0.0" in metrics
    assert 'plantproof_api_management_operations_total{by="sweep",op="ping",outcome="reached"}' in metrics
    count = "SELECT count(*) FROM management_ops WHERE requested_by = 'api:sweep' AND reached"
    assert scalar(pg_dsn, count) >= stats.reached  # a sweep cut short by the shutdown may add one
    with psycopg.connect(pg_dsn) as conn:
        ops = conn.execute("SELECT DISTINCT site, dev, op FROM management_ops").fetchall()
    assert ops == [("site1", "m1", "ping")]  # only the managed device: the seeded ones have no cmd channel
    assert _managed(pg_dsn) == {"site1/m1": {"sweep": scalar(pg_dsn, count), "api": 0, "cli": 0, "other": 0}}


def test_a_sweep_without_a_broker_is_refused_naming_the_field() -> None:
    from pydantic import ValidationError

    from api.settings import ApiSettings

    with pytest.raises(ValidationError, match=r"sweep\.enabled needs mqtt_url"):
        ApiSettings(sweep={"enabled": True})
    with pytest.raises(ValidationError, match="per_second"):
        ApiSettings(mqtt_url="mqtt://127.0.0.1:1", sweep={"enabled": True, "per_second": 0})
