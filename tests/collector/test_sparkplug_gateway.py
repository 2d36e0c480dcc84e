"""Our gateway as a Sparkplug B edge node and our collector as its primary host, end to end on real
Mosquitto, PostgreSQL and a Modbus simulator: the collector's STATE lets the gateway publish, the
DBIRTH registers the device with its type, and the readings land with the simulator's values."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from gateway.config import load_config
from gateway.runner import Gateway
from simulators.servers.modbus import SimModbusServer
from tests.collector.sparkplugutil import collector_settings, running, until
from tests.collector.test_sparkplug_host import READINGS, rows
from tests.gateway.helpers import RampSource, modbus_device, write_config
from tests.servers import MosquittoServer


async def test_the_gateway_as_edge_node_lands_in_the_collector_as_host(
    db: str, mqtt_broker: MosquittoServer, tmp_path: Path
) -> None:
    sim = SimModbusServer(RampSource({"cnc-1": 1}), port=0)
    await sim.start()
    tag = uuid.uuid4().hex[:6]
    group, edge, host = f"plant{tag}", f"gw-{tag}", f"scada-{tag}"
    device = modbus_device("cnc-1", sim.port, 1, area="machining", line="line1")
    config = write_config(
        tmp_path,
        mqtt_broker.url,
        [device],
        gateway_id=edge,
        mqtt={"format": "sparkplug"},
        sparkplug={"group_id": group, "primary_host_id": host},
    )
    try:
        async with running(collector_settings(db, mqtt_broker.url, host_id=host)):
            task = asyncio.create_task(Gateway(load_config(config)).run())
            try:
                # steady points are sent once (then every max_silence_s); the counter moves
                parts = f"SELECT count(*) FROM ({READINGS}) r WHERE r.name = 'parts_total'"
                await until(
                    lambda: rows(db, parts, group, "cnc-1")[0][0] >= 20,
                    60,
                    "readings",
                    lambda: rows(db, "SELECT error FROM dead_letters ORDER BY id DESC LIMIT 3"),
                )
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await until(
                lambda: rows(db, "SELECT online FROM devices WHERE site = %s", group) == [(False,)],
                30,
                "the NDEATH of the orderly stop",
            )
    finally:
        await sim.stop()
    [(gw, kind, industry, sector, line, area)] = rows(
        db, "SELECT gw, type, industry, sector, line, area FROM devices WHERE site = %s", group
    )
    assert (gw, kind, industry, sector, line, area) == (
        f"{group}/{edge}",
        "cnc_machine",
        "C34",
        "discrete",
        "line1",
        "machining",
    )
    readings = rows(db, READINGS, group, "cnc-1")
    expected = sim.expected("cnc-1")
    for point in ("spindle_speed", "spindle_temp", "feed_override"):
        values = {value for name, _ts, value, _q in readings if name == point}
        assert values == {expected[point]}, point
    assert all(q == 0 for *_, q in readings), "every reading good"
    letters = rows(db, "SELECT error FROM dead_letters")
    assert not [e for (e,) in letters if group in str(e)], letters
