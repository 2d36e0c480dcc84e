"""End to end with a real pymodbus server and a real Mosquitto: data, births, commands, device loss."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.config import load_config
from gateway.runner import Gateway
from simulators.servers.modbus import SimModbusServer
from tests.gateway.helpers import RampSource, Subscriber, modbus_device, write_config
from tests.servers import MosquittoServer
from wire import Birth, Command, CommandResult, Data, Death, decode, encode


@pytest.fixture()
async def sim() -> AsyncIterator[SimModbusServer]:
    server = SimModbusServer(RampSource({"cnc-1": 1, "cnc-2": 2}), port=0)
    await server.start()
    yield server
    await server.stop()


def _latest(sub: Subscriber, dev: str) -> dict[str, object]:
    values: dict[str, object] = {}
    for env in sub.envelopes("data"):
        if isinstance(env, Data) and env.dev == dev:
            for point, _ts, value, _q in env.samples:
                values[point] = value
    return values


async def test_modbus_to_mqtt_with_commands_and_device_loss(
    tmp_path: Path, mqtt_broker: MosquittoServer, sim: SimModbusServer
) -> None:
    gw = f"gw-{uuid.uuid4().hex[:6]}"
    devices = [modbus_device("cnc-1", sim.port, 1), modbus_device("cnc-2", sim.port, 2, area="a2", line="l2")]
    cfg = load_config(
        write_config(
            tmp_path, mqtt_broker.url, devices, gateway_id=gw, link_lost_after_s=1.0, metrics={"port": 0}
        )
    )
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"pp/v1/site1/{gw}/#").start()
    gateway = Gateway(cfg)
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.started.wait(), 30)

        def both_reporting(_m: object) -> bool:
            return all(
                len({e.seq for e in sub.envelopes("data") if isinstance(e, Data) and e.dev == d}) >= 3
                for d in ("cnc-1", "cnc-2")
            )

        await asyncio.to_thread(sub.wait_for, both_reporting, 60)
        births = {e.dev: e for e in sub.envelopes("birth") if isinstance(e, Birth)}
        assert births["cnc-2"].device.area == "a2" and births["cnc-2"].device.managed
        assert births["cnc-2"].device.simulated and births["cnc-2"].device.protocol == "modbus"
        assert {p.name for p in births["cnc-1"].points} == {p.name for p in cfg.devices[0].device_type.points}
        assert next(p for p in births["cnc-1"].points if p.name == "energy").wrap == pytest.approx(
            2**32 * 0.01
        )
        # values decoded from real registers match what the server holds
        latest = _latest(sub, "cnc-1")
        expected = sim.expected("cnc-1")
        for point in ("state", "spindle_speed", "spindle_temp", "door_open", "feed_override"):
            assert latest[point] == expected[point], point
        # counters rise; samples of one device come in seq order with rising timestamps
        totals = [
            (e.seq, s[1], s[2])
            for e in sub.envelopes("data")
            if isinstance(e, Data) and e.dev == "cnc-1"
            for s in e.samples
            if s[0] == "parts_total"
        ]
        assert totals == sorted(totals) and totals[-1][2] > totals[0][2]  # type: ignore[operator]

        # --- commands -------------------------------------------------------------------------
        results = await asyncio.to_thread(
            _ask,
            mqtt_broker,
            gw,
            [
                Command(id="c1", dev="cnc-1", op="ping", sent=time.time_ns()),
                Command(id="c2", dev="cnc-1", op="read_config", sent=time.time_ns()),
                Command(
                    id="c3",
                    dev="cnc-2",
                    op="write_setpoint",
                    sent=time.time_ns(),
                    args={"point": "feed_override", "value": 80},
                ),
                Command(
                    id="c4",
                    dev="cnc-2",
                    op="write_setpoint",
                    sent=time.time_ns(),
                    args={"point": "state", "value": 1},
                ),
                Command(id="c5", dev="nope", op="ping", sent=time.time_ns()),
            ],
            b"{not json",
        )
        assert results["c1"].ok and results["c1"].gw == gw
        pong = results["c1"].result or {}
        assert pong["pong"] is True and pong["read"]["point"] == "state" and pong["read"]["quality"] == 0
        config = results["c2"].result or {}
        assert config["type"] == "cnc_machine" and len(config["points"]) == 9
        assert "host" not in str(config) and "endpoint" not in config
        assert results["c3"].ok
        assert results["c3"].result == {"point": "feed_override", "requested": 80, "written": 80, "raw": 80}
        assert sim.expected("cnc-2")["feed_override"] == 80  # the register really changed
        assert not results["c4"].ok and "not writable" in (results["c4"].error or "")
        assert not results["c5"].ok and "unknown device" in (results["c5"].error or "")
        assert not results["invalid"].ok
        await asyncio.to_thread(sub.wait_for, lambda _m: _latest(sub, "cnc-2").get("feed_override") == 80, 30)

        # --- one device lost: a death for it, the other keeps reporting ---------------------------
        sim.silence_unit("cnc-2")
        await asyncio.to_thread(
            sub.wait_for,
            lambda _m: any(isinstance(e, Death) and e.dev == "cnc-2" for e in sub.envelopes("death")),
            60,
        )
        seen = len(sub.envelopes("data"))
        await asyncio.to_thread(
            sub.wait_for, lambda _m: any(e.dev == "cnc-1" for e in sub.envelopes("data")[seen:]), 30
        )
        sim.clear_faults("cnc-2")  # back: a new birth before its data
        await asyncio.to_thread(
            sub.wait_for, lambda _m: len([e for e in sub.envelopes("birth") if e.dev == "cnc-2"]) >= 2, 60
        )

        # metrics endpoint
        import urllib.request

        assert gateway.metrics_port
        text = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{gateway.metrics_port}/metrics").read().decode()
        )
        assert 'plantproof_gateway_points_read_total{device="cnc-1"}' in text
        assert "plantproof_gateway_spool_dropped_total 0.0" in text
        assert 'plantproof_gateway_link_up{device="cnc-1"} 1.0' in text
        assert "plantproof_gateway_publish_latency_seconds_count" in text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sub.stop()
    # seq is one counter over data, births and deaths: no gaps, no repeats
    seqs = sorted({e.seq for e in sub.envelopes() if isinstance(e, Data | Birth | Death)})
    assert seqs == list(range(len(seqs)))


def _ask(
    broker: MosquittoServer, gw: str, commands: list[Command], garbage: bytes
) -> dict[str, CommandResult]:
    """Publish commands as the platform does and collect the answers by id."""
    sub = Subscriber(broker.host, broker.port, topic=f"pp/v1/site1/{gw}/+/cmd/res").start()
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    for cmd in commands:
        client.publish(f"pp/v1/site1/{gw}/{cmd.dev}/cmd", encode(cmd), qos=1).wait_for_publish(10)
    client.publish(f"pp/v1/site1/{gw}/cnc-1/cmd", garbage, qos=1).wait_for_publish(10)
    msgs = sub.wait_for(lambda m: len(m) >= len(commands) + 1, 60)
    client.loop_stop()
    sub.stop()
    out: dict[str, CommandResult] = {}
    for m in msgs:
        res = decode(m.payload)
        assert isinstance(res, CommandResult)
        out[res.id] = res
    return out
