"""The gateway as a Sparkplug B edge node, against a real Mosquitto and a real Modbus server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devicemodel.loader import load_device_type
from gateway.config import load_config
from gateway.errors import GatewayConfigError
from gateway.runner import Gateway
from gateway.sparkplug import SparkplugNode
from gateway.spool import SpoolEntry
from simulators.servers.modbus import SimModbusServer
from tests.gateway.helpers import (
    BIG,
    ROOT,
    SETPOINTS_TYPE,
    RampSource,
    SetpointSource,
    Subscriber,
    modbus_device,
    write_config,
)
from tests.gateway.sparkplug_helpers import check_seqs, names_by_alias, of
from tests.servers import MosquittoServer
from tests.wire.sparkplug import interop
from wire import Data, encode
from wire import sparkplug as sp
from wire.sparkplug import DataType, MessageType

STEADY = ("state", "spindle_speed", "spindle_temp", "door_open", "feed_override")


@pytest.fixture()
async def sim() -> AsyncIterator[SimModbusServer]:
    server = SimModbusServer(RampSource({"cnc-1": 1, "cnc-2": 2}), port=0)
    await server.start()
    yield server
    await server.stop()


def sparkplug_config(tmp: Path, broker_url: str, port: int, edge: str, **sparkplug: object) -> Path:
    devices = [modbus_device("cnc-1", port, 1), modbus_device("cnc-2", port, 2)]
    return write_config(
        tmp,
        broker_url,
        devices,
        gateway_id=edge,
        mqtt={"format": "sparkplug"},
        sparkplug={"group_id": "plant1", **sparkplug},
        link_lost_after_s=1.0,
    )


def _publish(broker: MosquittoServer, topic: str, payload: bytes, retain: bool = False) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"host-{uuid.uuid4().hex[:6]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


async def _wait(sub: Subscriber, predicate: Callable[[object], bool], within_s: float = 60) -> None:
    await asyncio.to_thread(sub.wait_for, predicate, within_s)


async def test_edge_node_births_data_rebirth_and_orderly_death(
    tmp_path: Path, mqtt_broker: MosquittoServer, sim: SimModbusServer
) -> None:
    edge = f"gw-{uuid.uuid4().hex[:6]}"
    cfg = load_config(sparkplug_config(tmp_path, mqtt_broker.url, sim.port, edge))
    assert cfg.spool.delete_on == "puback"
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"spBv1.0/plant1/+/{edge}/#").start()
    gateway = Gateway(cfg)
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.started.wait(), 30)

        def reporting(_m: object) -> bool:
            data = of(sub, edge, MessageType.DDATA)
            return all(sum(m.topic.device_id == d for m in data) >= 3 for d in ("cnc-1", "cnc-2"))

        await _wait(sub, reporting)
        messages = of(sub, edge)
        assert messages[0].kind == MessageType.NBIRTH
        nbirth = messages[0].payload
        assert nbirth.seq == 0 and sp.bdseq_of(nbirth) == 0 and nbirth.timestamp is not None
        rebirth = next(m for m in nbirth.metrics if m.name == sp.REBIRTH)
        assert (rebirth.datatype, rebirth.value, rebirth.alias) == (DataType.BOOLEAN, False, None)
        bdseq_metric = next(m for m in nbirth.metrics if m.name == sp.BDSEQ)
        assert bdseq_metric.datatype == DataType.INT64

        dbirths = {m.topic.device_id: m.payload for m in messages if m.kind == MessageType.DBIRTH}
        assert set(dbirths) == {"cnc-1", "cnc-2"}
        points = {p.name: p for p in cfg.devices[0].device_type.points}
        birth = {m.name: m for m in dbirths["cnc-1"].metrics if m.alias is not None}
        assert set(birth) == set(points)
        described = {m.name: m.value for m in dbirths["cnc-1"].metrics if m.alias is None}
        assert described == {"Properties/type": "cnc_machine", "Properties/industry": "C34",
                             "Properties/sector": "discrete", "Properties/simulated": True,
                             "Properties/ideal_rate_per_hour": 40.0}  # fmt: skip
        assert birth["spindle_speed"].datatype == DataType.DOUBLE
        assert birth["state"].datatype == DataType.STRING
        assert birth["door_open"].datatype == DataType.BOOLEAN
        for name, metric in birth.items():
            props = metric.properties or {}
            assert props[sp.ENG_UNIT].value == points[name].unit, name
            assert props[sp.SCALE].value == points[name].scale, name
            assert props["kind"].value == points[name].kind, name
            assert (props["wrap"].value if "wrap" in props else None) == points[name].wrap, name
        aliases = names_by_alias(messages)
        assert len(aliases) == 2 * len(points), "aliases are unique across the edge node"
        assert check_seqs(messages) >= 7

        latest: dict[tuple[str, str], object] = {}
        for m in messages:
            if m.kind != MessageType.DDATA:
                continue
            assert m.payload.timestamp is not None
            for metric in m.payload.metrics:
                assert metric.name is None and metric.alias in aliases, "DATA carries aliases only"
                assert metric.timestamp is not None and sp.QUALITY in (metric.properties or {})
                assert aliases[metric.alias][0] == m.topic.device_id
                latest[aliases[metric.alias]] = metric.value
        for dev in ("cnc-1", "cnc-2"):
            expected = sim.expected(dev)
            for point in STEADY:
                assert latest[(dev, point)] == expected[point], (dev, point)
        assert isinstance(latest[("cnc-1", "parts_total")], int)

        # a host asks for a rebirth: NBIRTH again (same bdSeq, seq 0) and every DBIRTH
        before = len(of(sub, edge))
        _publish(mqtt_broker, f"spBv1.0/plant1/NCMD/{edge}", sp.encode_payload(sp.rebirth_request(1)))

        def reborn(_m: object) -> bool:
            later = of(sub, edge)[before:]
            return sum(m.kind == MessageType.DBIRTH for m in later) >= 2

        await _wait(sub, reborn, 30)
        later = of(sub, edge)[before:]
        again = next(m for m in later if m.kind == MessageType.NBIRTH)
        assert again.payload.seq == 0 and sp.bdseq_of(again.payload) == 0
        after = later[later.index(again) :]
        assert [m.kind for m in after[1:3]] == [MessageType.DBIRTH] * 2
        assert {m.topic.device_id for m in after[1:3]} == {"cnc-1", "cnc-2"}
        reborn_values = {m.name: m.value for m in after[1].payload.metrics}
        assert reborn_values["spindle_speed"] == sim.expected(str(after[1].topic.device_id))["spindle_speed"]

        # a device lost for link_lost_after_s: DDEATH; back: DBIRTH before its data
        sim.silence_unit("cnc-2")
        await _wait(sub, lambda _m: bool(of(sub, edge, MessageType.DDEATH)), 30)
        death = of(sub, edge, MessageType.DDEATH)[0]
        assert death.topic.device_id == "cnc-2" and not death.payload.metrics
        sim.clear_faults("cnc-2")
        since = of(sub, edge).index(death)

        def back(_m: object) -> bool:
            later = of(sub, edge)[since:]
            return any(m.kind == MessageType.DDATA and m.topic.device_id == "cnc-2" for m in later)

        await _wait(sub, back, 30)
        later = [m for m in of(sub, edge)[since + 1 :] if m.topic.device_id == "cnc-2"]
        assert later[0].kind == MessageType.DBIRTH
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # an orderly stop publishes the NDEATH itself, with this session's bdSeq
    await _wait(sub, lambda _m: bool(of(sub, edge, MessageType.NDEATH)), 20)
    sub.stop()
    messages = of(sub, edge)
    assert messages[-1].kind == MessageType.NDEATH and sp.bdseq_of(messages[-1].payload) == 0
    check_seqs(messages)
    assert (tmp_path / "spool.db.bdseq").read_text().strip() == "0"


async def test_broker_restart_starts_a_new_session_and_renumbers_what_waited(
    tmp_path: Path, mosquitto_factory: Callable[..., MosquittoServer], sim: SimModbusServer
) -> None:
    broker = mosquitto_factory()
    edge = f"gw-{uuid.uuid4().hex[:6]}"
    cfg = load_config(sparkplug_config(tmp_path, broker.url, sim.port, edge))
    sub = Subscriber(broker.host, broker.port, topic=f"spBv1.0/plant1/+/{edge}/#").start()
    gateway = Gateway(cfg)
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.started.wait(), 30)
        await _wait(sub, lambda _m: len(of(sub, edge, MessageType.DDATA)) >= 4)
        broker.stop()
        spooled = gateway.spool.stats().next_seq
        deadline = time.monotonic() + 20
        while gateway.spool.stats().next_seq < spooled + 4 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # data keeps coming and waits in the spool
        assert gateway.spool.stats().depth > 0
        broker.start()

        def second_session(_m: object) -> bool:
            births = of(sub, edge, MessageType.NBIRTH)
            return len(births) >= 2 and len(of(sub, edge, MessageType.DDATA)) >= 12

        await _wait(sub, second_session)
        deadline = time.monotonic() + 20
        while gateway.spool.stats().depth > 0 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sub.stop()
    messages = of(sub, edge)
    nbirths = [m for m in messages if m.kind == MessageType.NBIRTH]
    assert [sp.bdseq_of(m.payload) for m in nbirths[:2]] == [0, 1], "one bdSeq per session"
    second = messages[messages.index(nbirths[1]) :]
    # the new session announces both devices before any of their data, then numbers on from 0
    kinds = [m.kind for m in second]
    assert kinds[1:3] == [MessageType.DBIRTH, MessageType.DBIRTH]
    check_seqs(messages)
    # what the spool held through the outage went out in the new session, in order
    parts = [
        (m.payload.seq, metric.timestamp)
        for m in second
        if m.kind == MessageType.DDATA and m.topic.device_id == "cnc-1"
        for metric in m.payload.metrics
        if names_by_alias(messages).get(metric.alias or 0) == ("cnc-1", "parts_total")
    ]
    stamps = [ts for _seq, ts in parts]
    assert len(stamps) >= 3 and stamps == sorted(stamps)


def test_config_sparkplug_settings(
    tmp_path: Path, mqtt_broker: MosquittoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = sparkplug_config(tmp_path, mqtt_broker.url, 1, "gw1")
    cfg = load_config(base)
    assert cfg.edge_node_id == "gw1" and cfg.sparkplug is not None and cfg.sparkplug.group_id == "plant1"
    monkeypatch.setenv("PLANTPROOF_GATEWAY_SPARKPLUG__EDGE_NODE_ID", "edge-7")
    monkeypatch.setenv("PLANTPROOF_GATEWAY_SPARKPLUG__GROUP_ID", "plant2")
    cfg = load_config(base)
    assert (cfg.edge_node_id, cfg.sparkplug and cfg.sparkplug.group_id) == ("edge-7", "plant2")
    monkeypatch.delenv("PLANTPROOF_GATEWAY_SPARKPLUG__EDGE_NODE_ID")
    monkeypatch.delenv("PLANTPROOF_GATEWAY_SPARKPLUG__GROUP_ID")
    devices = [modbus_device("cnc-1", 1, 1)]
    missing = write_config(tmp_path, mqtt_broker.url, devices, mqtt={"format": "sparkplug"})
    with pytest.raises(GatewayConfigError, match="sparkplug"):
        load_config(missing)
    stored = write_config(
        tmp_path,
        mqtt_broker.url,
        devices,
        mqtt={"format": "sparkplug"},
        sparkplug={"group_id": "g"},
        spool={"delete_on": "stored"},
    )
    with pytest.raises(GatewayConfigError, match="delete_on"):
        load_config(stored)
    bad = write_config(
        tmp_path, mqtt_broker.url, devices, mqtt={"format": "sparkplug"}, sparkplug={"group_id": "a/b"}
    )
    with pytest.raises(GatewayConfigError, match="group_id"):
        load_config(bad)
    assert load_config(write_config(tmp_path, mqtt_broker.url, devices)).mqtt.format == "json"


async def test_tahu_decodes_the_births_and_data_the_gateway_sends(
    tmp_path: Path, mqtt_broker: MosquittoServer, sim: SimModbusServer
) -> None:
    # Tahu's JavaScript decoder reads each message on its own: DATA with datatypes, as configured
    edge = f"gw-{uuid.uuid4().hex[:6]}"
    cfg = load_config(sparkplug_config(tmp_path, mqtt_broker.url, sim.port, edge, data_datatypes=True))
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"spBv1.0/plant1/+/{edge}/#").start()
    task = asyncio.create_task(Gateway(cfg).run())
    try:
        await _wait(sub, lambda _m: len(of(sub, edge, MessageType.DDATA)) >= 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sub.stop()
    messages = of(sub, edge)
    chosen = [
        next(m for m in messages if m.kind == kind) for kind in (MessageType.NBIRTH, MessageType.DBIRTH)
    ]
    chosen += [m for m in messages if m.kind == MessageType.DDATA][:2]
    cases = [{"id": str(i), "b64": interop.b64(m.raw)} for i, m in enumerate(chosen)]
    results = interop.tahu("decode", cases)
    uint32 = 0
    for i, m in enumerate(chosen):
        result = results[str(i)]
        assert result["ok"], result
        theirs = interop.from_tahu_payload(result["payload"])
        ours = sp.decode_payload(m.raw)
        assert (theirs.seq, theirs.timestamp, len(theirs.metrics)) == (
            ours.seq,
            ours.timestamp,
            len(ours.metrics),
        )
        for a, b in zip(theirs.metrics, ours.metrics, strict=True):
            if b.datatype == DataType.UINT32 and b.value is not None:
                # Tahu reads UInt32 only from long_value (TAHU_DIFFERS in the codec's interop test)
                assert a == msgspec.structs.replace(b, value=None), m.kind
                uint32 += 1
            else:
                assert a == b, m.kind
    assert uint32 > 0, "the UInt32 difference was seen, so the comparison above ran on real values"


async def test_dcmd_writes_setpoints_with_read_back(tmp_path: Path, mqtt_broker: MosquittoServer) -> None:
    (tmp_path / "generic.yaml").write_text(SETPOINTS_TYPE)
    server = SimModbusServer(SetpointSource(load_device_type(tmp_path / "generic.yaml")), port=0)
    await server.start()
    edge = f"gw-{uuid.uuid4().hex[:6]}"
    device = modbus_device("m1", server.port, 1, type="generic.yaml")
    config = write_config(
        tmp_path,
        mqtt_broker.url,
        [device],
        gateway_id=edge,
        mqtt={"format": "sparkplug"},
        sparkplug={"group_id": "plant1"},
    )
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"spBv1.0/plant1/+/{edge}/#").start()
    gateway = Gateway(load_config(config))
    task = asyncio.create_task(gateway.run())

    def value_seen(point: str, value: object) -> Callable[[object], bool]:
        def check(_m: object) -> bool:
            messages = of(sub, edge)
            aliases = names_by_alias(messages)
            return any(
                aliases.get(metric.alias or 0) == ("m1", point) and metric.value == value
                for m in messages
                if m.kind == MessageType.DDATA
                for metric in m.payload.metrics
            )

        return check

    try:
        await _wait(sub, lambda _m: bool(of(sub, edge, MessageType.DDATA)))
        birth = {m.name: m for m in of(sub, edge, MessageType.DBIRTH)[0].payload.metrics}
        assert birth["big_sp"].datatype == DataType.INT64 and birth["tenths_sp"].datatype == DataType.DOUBLE
        command = sp.Payload(
            timestamp=1,
            metrics=(
                sp.Metric(DataType.INT64, BIG, name="big_sp"),  # by name, exact beyond 2^53
                sp.Metric(DataType.DOUBLE, 21.5, alias=birth["tenths_sp"].alias),  # by alias
                sp.Metric(DataType.DOUBLE, 99.0, name="level"),  # not writable: refused
            ),
        )
        topic = f"spBv1.0/plant1/DCMD/{edge}/m1"
        _publish(mqtt_broker, topic, sp.encode_payload(command, with_datatypes=False))
        await _wait(sub, value_seen("big_sp", BIG), 30)
        await _wait(sub, value_seen("tenths_sp", 21.5), 30)
        connection = gateway.connections["m1"]
        held = {r.point: r.value for r in await connection.read_once(["big_sp", "tenths_sp", "level"])}
        assert held == {"big_sp": BIG, "tenths_sp": 215, "level": 21.5}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sub.stop()
        await server.stop()
    assert not value_seen("level", 99.0)(None)


def test_the_shipped_sparkplug_sample_loads() -> None:
    cfg = load_config(ROOT / "configs" / "gateways" / "sparkplug.yaml")
    assert cfg.mqtt.format == "sparkplug" and cfg.edge_node_id == cfg.gateway_id
    assert cfg.spool.delete_on == "puback"
    node = SparkplugNode(cfg)
    aliases = [d.alias for defs in node.defs.values() for d in defs.values()]
    assert len(aliases) == len(set(aliases)) == sum(len(d.device_type.points) for d in cfg.devices)


async def test_primary_host_state_gates_publishing(
    tmp_path: Path, mqtt_broker: MosquittoServer, sim: SimModbusServer
) -> None:
    edge = f"gw-{uuid.uuid4().hex[:6]}"
    host = f"scada-{uuid.uuid4().hex[:6]}"
    state = f"spBv1.0/STATE/{host}"
    cfg = load_config(sparkplug_config(tmp_path, mqtt_broker.url, sim.port, edge, primary_host_id=host))
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"spBv1.0/plant1/+/{edge}/#").start()
    gateway = Gateway(cfg)
    task = asyncio.create_task(gateway.run())

    def say(online: bool, ts: int) -> None:
        _publish(mqtt_broker, state, sp.encode_state(sp.HostState(online, ts)), retain=True)

    async def quiet_while_spooling() -> None:
        await asyncio.sleep(1.0)  # what was already in flight lands
        heard, numbered = len(of(sub, edge)), gateway.spool.stats().next_seq
        await asyncio.sleep(2.0)
        assert len(of(sub, edge)) == heard, "published while the primary host is not online"
        assert gateway.spool.stats().next_seq > numbered, "data kept coming into the spool"

    try:
        await asyncio.wait_for(gateway.started.wait(), 30)
        await asyncio.wait_for(gateway.client.connected.wait(), 30)
        await quiet_while_spooling()
        assert not of(sub, edge), "nothing before the primary host's STATE"
        t0 = int(time.time() * 1000)
        say(True, t0)
        await _wait(sub, lambda _m: len(of(sub, edge, MessageType.DDATA)) >= 4)
        first = of(sub, edge)
        assert first[0].kind == MessageType.NBIRTH and sp.bdseq_of(first[0].payload) == 0
        connects = gateway.client.connects
        say(False, t0 + 1)
        # the host left: the session ends as an orderly one (NDEATH of its bdSeq, then DISCONNECT)
        # and a new one waits for the host
        await _wait(sub, lambda _m: bool(of(sub, edge, MessageType.NDEATH)), 30)
        assert sp.bdseq_of(of(sub, edge, MessageType.NDEATH)[0].payload) == 0
        await quiet_while_spooling()
        assert gateway.client.connects == connects + 1 and gateway.client.connected.is_set()
        say(True, t0)  # older than the last STATE seen: ignored
        await quiet_while_spooling()
        held = len(of(sub, edge))
        back_ms = int(time.time() * 1000)
        say(True, t0 + 2)
        await _wait(sub, lambda _m: len(of(sub, edge)) > held + 4)
        await _wait(sub, lambda _m: any(m.payload.timestamp > back_ms + 500 for m in of(sub, edge)[held:]))
        again = of(sub, edge)[held:]
        assert again[0].kind == MessageType.NBIRTH and sp.bdseq_of(again[0].payload) == 1  # a new session
        assert {m.kind for m in again[1:3]} == {MessageType.DBIRTH}
        # what waited in the spool is flagged historical, what is read after the return is not
        flags = [(m.payload.timestamp < back_ms, metric.is_historical)
                 for m in again if m.kind == MessageType.DDATA for metric in m.payload.metrics]  # fmt: skip
        assert (True, True) in flags and (False, False) in flags
        assert all(historical for waited, historical in flags if waited)
        assert not any(historical for waited, historical in flags[-4:])
        check_seqs(of(sub, edge))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sub.stop()
        _publish(mqtt_broker, state, b"", retain=True)  # clear the retained STATE


def test_a_ddata_larger_than_the_message_limit_is_split_in_seq_order(tmp_path: Path) -> None:
    cfg = load_config(sparkplug_config(tmp_path, "mqtt://127.0.0.1:1", 1, "gw1"))
    node = SparkplugNode(cfg)
    node.limit = 200  # below what one DDATA of every point takes
    points = [p.name for p in cfg.devices[0].device_type.points]
    samples = [(name, 1_700_000_000_000_000_000 + i, float(i), 0) for i, name in enumerate(points)]
    envelope = encode(Data(gw="gw1", dev="cnc-1", seq=0, sent=1_700_000_001_000_000_000, samples=samples))
    node.seq = 254  # across the wrap
    out = node.frame(SpoolEntry(0, "pp/v1/site1/gw1/cnc-1/data", envelope, False, "cnc-1", len(samples)))
    assert out[0][0].endswith("/DBIRTH/gw1/cnc-1")  # no DBIRTH on this session yet
    datas = [sp.decode_payload(p, datatypes={d.alias: d.datatype for d in node.defs["cnc-1"].values()})
             for t, p, _ in out[1:]]  # fmt: skip
    assert len(datas) > 1 and all(len(p) <= 200 for _, p, _ in out[1:])
    assert [d.seq for d in datas] == [(255 + i) % 256 for i in range(len(datas))]
    by_alias = {d.alias: d.name for d in node.defs["cnc-1"].values()}
    assert [by_alias[m.alias or 0] for d in datas for m in d.metrics] == points
    assert node.seq == (255 + len(datas)) % 256


def test_check_names_the_edge_node(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    path = sparkplug_config(tmp_path, "mqtt://127.0.0.1:1", 1, "gw1", primary_host_id="scada")
    result = CliRunner().invoke(app, ["check", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "Sparkplug B edge node spBv1.0/plant1/…/gw1: 18 metrics (aliases 1..18)" in result.output
    assert "waits for primary host scada" in result.output
    # a device type whose DBIRTH cannot fit the broker's message limit is refused before it runs
    points = "".join(
        f"  - {{name: p{i}, kind: analog, dtype: float32, unit: kWh,"
        f" modbus: {{table: holding, address: {2 * i}}}}}\n"
        for i in range(200)
    )
    (tmp_path / "wide.yaml").write_text(f"type: generic\nindustry: C34\nsector: discrete\npoints:\n{points}")
    wide = write_config(
        tmp_path,
        "mqtt://127.0.0.1:1",
        [modbus_device("w1", 1, 1, type="wide.yaml")],
        mqtt={"format": "sparkplug", "max_message_bytes": 4096},
        sparkplug={"group_id": "g"},
    )
    result = CliRunner().invoke(app, ["check", "-c", str(wide)])
    assert result.exit_code == 2 and "its DBIRTH takes" in result.output, result.output


def test_bdseq_is_persisted_per_connect_and_wraps(tmp_path: Path) -> None:
    cfg = load_config(sparkplug_config(tmp_path, "mqtt://127.0.0.1:1", 1, "gw1"))
    (tmp_path / "spool.db.bdseq").write_text("254\n")
    node = SparkplugNode(cfg)
    wills = [node.will_for_connect() for _ in range(3)]
    assert [sp.bdseq_of(sp.decode_payload(w.payload)) for w in wills] == [255, 0, 1]
    assert all(w.topic == "spBv1.0/plant1/NDEATH/gw1" and not w.retain for w in wills)
    assert sp.decode_payload(wills[0].payload).seq is None
    assert (tmp_path / "spool.db.bdseq").read_text().strip() == "1"
    births = node.births()
    assert sp.decode_payload(births[0][1]).seq == 0 and sp.bdseq_of(sp.decode_payload(births[0][1])) == 1
    assert sp.bdseq_of(sp.decode_payload(SparkplugNode(cfg).will_for_connect().payload)) == 2  # restart
    (tmp_path / "spool.db.bdseq").write_text("garbage")
    assert sp.bdseq_of(sp.decode_payload(SparkplugNode(cfg).will_for_connect().payload)) == 0
