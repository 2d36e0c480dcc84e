"""`plantproof manage` end to end: a real pymodbus device, the gateway, Mosquitto, the collector and
PostgreSQL. What it records is what makes managed equipment."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from typer.testing import CliRunner

from collector.figures import queries
from collector.figures.compute import Parameters
from collector.figures.window import parse_window
from collector.ingest import Pipeline
from collector.migrate import migrate
from collector.settings import load_settings
from devicemodel.loader import load_device_type
from gateway.config import load_config
from gateway.runner import Gateway
from plantproof.cli import app
from simulators.servers.modbus import SimModbusServer
from tests.collector.mqttutil import scalar, wait_until
from tests.gateway.helpers import BIG, SETPOINTS_TYPE, SetpointSource, modbus_device, write_config


def _manage(*args: str) -> Any:
    return CliRunner().invoke(app, ["manage", *args])


async def test_manage_ping_read_config_and_exact_write(tmp_path: Path, mqtt_broker: Any, pg_dsn: str) -> None:
    migrate(pg_dsn)
    (tmp_path / "generic.yaml").write_text(SETPOINTS_TYPE)
    sim = SimModbusServer(SetpointSource(load_device_type(tmp_path / "generic.yaml")), port=0)
    await sim.start()
    gw = f"gw-{uuid.uuid4().hex[:6]}"
    device = modbus_device("m1", sim.port, 1, type="generic.yaml")
    cfg = load_config(write_config(tmp_path, mqtt_broker.url, [device], gateway_id=gw, link_lost_after_s=1.0))
    settings = load_settings(
        None, dsn=pg_dsn, metrics_port=None,
        mqtt={"url": mqtt_broker.url, "client_id": f"c-{uuid.uuid4().hex[:8]}",
              "topics": [f"pp/v1/site1/{gw}/#"]},  # retained births of other tests stay out
    )  # fmt: skip
    stop = asyncio.Event()
    tasks = [asyncio.create_task(Gateway(cfg).run()), asyncio.create_task(Pipeline(settings).run(stop))]
    common = ["--dsn", pg_dsn, "--mqtt", mqtt_broker.url, "--timeout", "10"]
    try:
        await asyncio.to_thread(
            wait_until,
            lambda: scalar(pg_dsn, "SELECT count(*) FROM devices WHERE dev = 'm1'") == 1,
            60,
            "the birth",
        )
        ping = await asyncio.to_thread(_manage, "ping", "m1", *common, "--json")
        assert ping.exit_code == 0, ping.output
        out = json.loads(ping.output)
        assert out["ok"] and out["reached"] and out["gateway"] == gw and out["device"] == "site1/m1"
        assert out["result"]["read"] == {**out["result"]["read"], "point": "level", "raw": 21.5, "quality": 0}

        write = await asyncio.to_thread(_manage, "write", "site1/m1", "big_sp", str(BIG), *common, "--json")
        assert write.exit_code == 0, write.output
        assert json.loads(write.output)["result"] == {
            "point": "big_sp", "requested": BIG, "written": BIG, "raw": BIG,
        }  # fmt: skip

        text = await asyncio.to_thread(_manage, "read-config", "m1", *common)
        assert text.exit_code == 0, text.output
        assert (
            "ok in" in text.output and "device not read" in text.output and '"type": "generic"' in text.output
        )

        refused = await asyncio.to_thread(_manage, "write", "m1", "f_sp", str(BIG), *common)
        assert refused.exit_code == 1 and "cannot be represented exactly as float64" in refused.output

        sim.silence_unit("m1")
        down = await asyncio.to_thread(_manage, "ping", "m1", *common)
        assert down.exit_code == 1 and "FAILED" in down.output and "device read failed" in down.output
        unknown = await asyncio.to_thread(_manage, "ping", "nope", *common)
        assert unknown.exit_code == 2 and "unknown device 'nope'" in unknown.output
    finally:
        stop.set()
        for task in tasks[:1]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sim.stop()
    with psycopg.connect(pg_dsn) as conn:
        ops = conn.execute(
            "SELECT op, ok, reached, requested_by LIKE 'cli:%%', answered_at <= deadline"
            " FROM management_ops ORDER BY sent_at"
        ).fetchall()
    assert ops == [
        ("ping", True, True, True, True),
        ("write_setpoint", True, True, True, True),
        ("read_config", True, False, True, True),
        ("write_setpoint", False, False, True, True),
        ("ping", False, False, True, True),
    ]
    now = datetime.now(UTC)
    figures, _ = queries.figures(pg_dsn, Parameters(parse_window(now.strftime("%Y-%m"), now), now))
    managed = figures.managed_equipment
    assert managed.value == 0 and managed.simulated == 1  # the test device is flagged simulated
    assert [m.device for m in managed.simulated_members] == ["site1/m1"]
    # the reached ping and write, both sent by `plantproof manage`
    assert managed.simulated_members[0].ops_by == {"sweep": 0, "api": 0, "cli": 2, "other": 0}
