"""The collector as a Sparkplug B host application, on real Mosquitto and PostgreSQL: edge nodes from
pysparkplug (PyPI, its own EdgeNode), Eclipse Tahu JS payloads, and our codec where a test needs
a fault (a gap, a duplicate, a Quality property) no foreign edge node makes on request."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from collections.abc import Callable

import psycopg
import pytest

from collector import sparkplug_store
from collector.decode import Message, reason_of
from collector.figures import queries
from collector.figures.compute import Parameters
from collector.figures.window import Window
from collector.ingest import Pipeline
from tests.collector.mqttutil import Publisher
from tests.collector.sparkplugutil import (
    DEVICE_PROPERTIES,
    Edge,
    Observer,
    PysparkplugEdge,
    collector_settings,
    now_ms,
    quality,
    running,
    until,
)
from tests.servers import MosquittoServer
from tests.wire.sparkplug import interop
from wire import sparkplug as sp
from wire.sparkplug import DataType, Metric


def rows(dsn: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return list(conn.execute(sql, args).fetchall())


def rows_deleted(dsn: str, sql: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(sql)


def one(dsn: str, sql: str, *args: object) -> object:
    return rows(dsn, sql, *args)[0][0]


READINGS = (
    "SELECT p.name, (extract(epoch FROM r.time) * 1000)::bigint, r.value, r.quality FROM readings r"
    " JOIN points p USING (point_id) JOIN devices d USING (device_id) WHERE d.site = %s AND d.dev = %s"
    " ORDER BY r.time, p.name"
)
LETTERS = "SELECT error FROM dead_letters ORDER BY id"
TEMP = Metric(DataType.DOUBLE, 20.0, name="temp", alias=1)
RUNNING = Metric(DataType.BOOLEAN, False, name="running", alias=2)


def at(metric: Metric, ms: int) -> Metric:
    return Metric(metric.datatype, metric.value, name=metric.name, alias=metric.alias, timestamp=ms)


def rebirths(observer: Observer, group: str, node: str) -> list[sp.Payload]:
    topic = sp.edge_topic(group, sp.MessageType.NCMD, node)
    return [sp.decode_payload(p) for t, p in observer.seen if t == topic]


async def test_a_pysparkplug_edge_node_is_registered_and_its_readings_land_once(
    db: str, mosquitto_factory: Callable[..., MosquittoServer]
) -> None:
    broker = mosquitto_factory()
    group, node = f"plant{uuid.uuid4().hex[:4]}", "edge1"
    async with running(collector_settings(db, broker.url)):
        edge = PysparkplugEdge(broker.host, broker.port, group, node)  # NBIRTH on connect
        try:
            props = [{"name": m.name, "datatype": "STRING", "value": m.value} for m in DEVICE_PROPERTIES]
            t0 = now_ms() - 10_000
            birth = [{"name": "temp", "datatype": "DOUBLE", "value": 20.0, "timestamp": t0},
                     {"name": "running", "datatype": "BOOLEAN", "value": False, "timestamp": t0}]  # fmt: skip
            edge.send(op="register", device="m1", metrics=props + birth)
            for i in range(3):
                at = t0 + 1000 * (i + 1)
                edge.send(op="update_device", device="m1", metrics=[
                    {"name": "temp", "datatype": "DOUBLE", "value": 21.5 + i, "timestamp": at},
                    {"name": "running", "datatype": "BOOLEAN", "value": i % 2 == 0, "timestamp": at},
                ])  # fmt: skip
            await until(lambda: len(rows(db, READINGS, group, "m1")) == 8, 30, "eight readings")
            edge.send(op="deregister", device="m1")  # DDEATH
            await until(lambda: one(db, "SELECT count(*) FROM devices WHERE online") == 0, 30, "DDEATH")
            assert edge.send(op="commands")["commands"] == [], "a clean session asks for no rebirth"
            # a message out of its sequence (seq 200): the edge node itself receives the rebirth request
            stray = Edge(group, node, seq=199).ddata("m1", [Metric(DataType.DOUBLE, 1.0, name="temp")])
            pub = Publisher(broker.host, broker.port)
            pub.publish([stray])
            pub.close()
            await until(lambda: edge.send(op="commands")["commands"], 30, "the NCMD at pysparkplug")
            ncmd = edge.send(op="commands")["commands"]
            assert ncmd == [
                {"topic": f"spBv1.0/{group}/NCMD/{node}", "metrics": [{"name": sp.REBIRTH, "value": True}]}
            ]
        finally:
            # Killed, so the broker sends its Will: the NDEATH with the bdSeq of its NBIRTH. (pysparkplug
            # 0.6.1's own NDEATH on disconnect carries the next session's bdSeq, which a host ignores.)
            edge.proc.kill()
            edge.proc.wait(10)
        gw = f"{group}/{node}"
        await until(
            lambda: one(db, "SELECT status FROM gateways WHERE gw = %s", gw) == "offline", 30, "NDEATH"
        )
    got = rows(db, READINGS, group, "m1")
    assert got == [("running", t0, 0.0, 0), ("temp", t0, 20.0, 0)] + [  # the DBIRTH's values, then DDATA's
        (name, t0 + 1000 * (i + 1), value, 0)
        for i in range(3)
        for name, value in sorted([("running", 1.0 if i % 2 == 0 else 0.0), ("temp", 21.5 + i)])
    ]
    device = rows(
        db, "SELECT gw, type, industry, sector, protocol, online FROM devices WHERE site = %s", group
    )
    assert device == [(gw, "cnc_machine", "C34", "discrete", "sparkplug_b", False)]
    kinds = rows(db, "SELECT p.name, p.kind, p.dtype FROM points p ORDER BY name")
    assert kinds == [("running", "switch", "bool"), ("temp", "analog", "float64")]
    assert [reason_of(str(e)) for (e,) in rows(db, LETTERS)] == ["seq_gap"]  # the stray message
    # NBIRTH, DBIRTH, 3 DDATA, DDEATH, NDEATH: each once in the Sparkplug ledger
    assert one(db, "SELECT count(*) FROM sparkplug_messages") == 7
    assert one(db, "SELECT count(*) FROM envelopes WHERE source = 'sparkplug' AND kind = 'data'") == 3
    assert one(db, "SELECT count(DISTINCT envelope_id) FROM readings") == 4
    # the figures count the Sparkplug device like any other
    today = dt.datetime.now(dt.UTC).date()
    window = Window(today, today + dt.timedelta(days=1))
    figures, _ = queries.figures(db, Parameters(window, dt.datetime.now(dt.UTC), 0.5, False))
    connected = figures.connected_equipment.default
    assert connected.value == 1
    assert [m.device for m in connected.members] == [f"{group}/m1"]
    assert dict(connected.by_type) == {"cnc_machine": 1}


async def test_values_quality_and_times_and_a_redelivery_is_stored_once(
    db: str, mosquitto_factory: Callable[..., MosquittoServer]
) -> None:
    broker = mosquitto_factory()
    edge = Edge(f"g{uuid.uuid4().hex[:4]}", "n1", bdseq=7)
    observer = Observer(broker.host, broker.port)
    pub = Publisher(broker.host, broker.port)
    t = now_ms() - 5_000
    births = [edge.nbirth(), edge.dbirth("m1", [at(TEMP, t - 1000), at(RUNNING, t - 1000)])]
    # by alias only: named from the DBIRTH's aliases
    data = edge.ddata("m1", [
        Metric(DataType.DOUBLE, 1.5, alias=1, timestamp=t),
        quality(Metric(DataType.DOUBLE, 2.5, alias=1, timestamp=t + 1), sp.SP_QUALITY_STALE),
        quality(Metric(DataType.DOUBLE, None, alias=1, timestamp=t + 2), sp.SP_QUALITY_BAD),
        Metric(DataType.BOOLEAN, True, alias=2),  # no metric timestamp: the payload's
    ], ts=t + 3)  # fmt: skip
    try:
        async with running(collector_settings(db, broker.url)) as pipeline:
            pub.publish([*births, data])
            await until(lambda: len(rows(db, READINGS, edge.group, "m1")) == 6, 30, "six readings",
                        lambda: (rows(db, READINGS, edge.group, "m1"), rows(db, LETTERS)))  # fmt: skip
            pub.publish([data])  # the same message again: a redelivery
            second = edge.ddata("m1", [Metric(DataType.DOUBLE, 9.0, alias=1, timestamp=t + 4)])
            pub.publish([second])
            await until(lambda: len(rows(db, READINGS, edge.group, "m1")) == 7, 30, "the next message")
            assert pipeline.metrics.duplicates._value.get() == 1
        # a restarted collector resumes the saved session: the redelivered message is known as one,
        # and the next DDATA is read with the DBIRTH's aliases, no rebirth asked for
        async with running(collector_settings(db, broker.url)) as pipeline:
            assert pipeline.host.sessions == 1
            pub.publish([data])
            await until(lambda: pipeline.metrics.duplicates._value.get() == 1, 30, "the duplicate counted")
            third = edge.ddata("m1", [Metric(DataType.DOUBLE, 10.0, alias=1, timestamp=t + 5)])
            pub.publish([third])
            await until(lambda: len(rows(db, READINGS, edge.group, "m1")) == 8, 30, "the DDATA after")
            assert rebirths(observer, edge.group, edge.node) == []
        sessions = rows(db, "SELECT bdseq, seq, alive FROM sparkplug_sessions")
        # without its saved session a restarted collector asks for a rebirth, and still knows the
        # redelivered message from the ledger
        rows_deleted(db, "DELETE FROM sparkplug_sessions")
        async with running(collector_settings(db, broker.url)) as pipeline:
            pub.publish([data])
            await until(lambda: len(rebirths(observer, edge.group, edge.node)) == 1, 30, "a rebirth request")
            await until(lambda: pipeline.metrics.duplicates._value.get() == 1, 30, "the duplicate counted")
    finally:
        pub.close()
        observer.close()
    assert rows(db, READINGS, edge.group, "m1") == [
        ("running", t - 1000, 0.0, 0), ("temp", t - 1000, 20.0, 0),
        ("temp", t, 1.5, 0), ("temp", t + 1, 2.5, 1), ("temp", t + 2, None, 2), ("running", t + 3, 1.0, 0),
        ("temp", t + 4, 9.0, 0), ("temp", t + 5, 10.0, 0),
    ]  # fmt: skip
    assert one(db, "SELECT count(*) FROM dead_letters") == 0
    assert rows(db, "SELECT bdseq, seq FROM sparkplug_messages ORDER BY id") == [
        (7, 0),
        (7, 1),
        (7, 2),
        (7, 3),
        (7, 4),
    ]
    assert sessions == [(7, 4, True)]


@pytest.mark.parametrize("tahu", [False, True], ids=["ours", "tahu-js"])
async def test_a_seq_gap_asks_for_a_rebirth_and_refuses_until_it(
    db: str, mosquitto_factory: Callable[..., MosquittoServer], tahu: bool
) -> None:
    if tahu:
        interop.tahu("decode", [])  # skips where Tahu JS cannot run
    broker = mosquitto_factory()
    edge = Edge(f"g{uuid.uuid4().hex[:4]}", "n1", tahu=tahu)
    observer = Observer(broker.host, broker.port)
    pub = Publisher(broker.host, broker.port)
    t = now_ms() - 5_000
    value = lambda v, dt_ms: Metric(DataType.DOUBLE, v, alias=1, timestamp=t + dt_ms)  # noqa: E731
    try:
        async with running(collector_settings(db, broker.url)) as pipeline:
            birth = [at(TEMP, t - 1000)]
            pub.publish([edge.nbirth(), edge.dbirth("m1", birth), edge.ddata("m1", [value(1.0, 0)])])
            edge.seq += 1  # one message lost on the way
            gap = edge.ddata("m1", [value(2.0, 1)])
            after = edge.ddata("m1", [value(3.0, 2)])
            pub.publish([gap, after])
            await until(lambda: one(db, "SELECT count(*) FROM dead_letters") == 2, 30, "two dead letters")
            asked = rebirths(observer, edge.group, edge.node)
            assert len(asked) == 1, "one request per interval, not one per refused message"
            assert sp.is_rebirth_request(asked[0])
            # the rebirth: a new session, and its data is stored again
            edge.bdseq += 1
            pub.publish([edge.nbirth(), edge.dbirth("m1", birth), edge.ddata("m1", [value(4.0, 3)])])
            await until(lambda: len(rows(db, READINGS, edge.group, "m1")) == 3, 30, "data after the rebirth")
            assert pipeline.metrics.sparkplug_rebirths._value.get() == 1
    finally:
        pub.close()
        observer.close()
    # the second DBIRTH's value is the first's again (same time, same value): stored once
    assert [r[2] for r in rows(db, READINGS, edge.group, "m1")] == [20.0, 1.0, 4.0]
    letters = rows(db, "SELECT error, payload FROM dead_letters ORDER BY id")
    assert [reason_of(str(e)) for e, _ in letters] == ["seq_gap", "seq_gap"]
    assert str(letters[0][0]).startswith("sparkplug: seq gap: expected 3, got 4")
    assert [bytes(p) for _, p in letters] == [gap[1], after[1]], "dead letters keep the payloads"


async def test_data_before_birth_is_dead_lettered_and_asks_for_a_rebirth(
    db: str, mosquitto_factory: Callable[..., MosquittoServer]
) -> None:
    broker = mosquitto_factory()
    edge = Edge(f"g{uuid.uuid4().hex[:4]}", "n9")
    observer = Observer(broker.host, broker.port)
    pub = Publisher(broker.host, broker.port)
    edge.seq = 41
    orphan = edge.ddata("m1", [Metric(DataType.DOUBLE, 1.0, alias=1)])
    unknown = Edge(edge.group, "n10")
    try:
        async with running(collector_settings(db, broker.url)):
            pub.publish([orphan])
            await until(lambda: len(rebirths(observer, edge.group, edge.node)) == 1, 30, "a rebirth request")
            # born, but the DATA names an alias its DBIRTH did not announce
            pub.publish([unknown.nbirth(), unknown.dbirth("m1", [TEMP]),
                         unknown.ddata("m1", [Metric(DataType.DOUBLE, 1.0, alias=5)])])  # fmt: skip
            await until(
                lambda: len(rebirths(observer, unknown.group, unknown.node)) == 1, 30, "a rebirth request"
            )
            await until(lambda: one(db, "SELECT count(*) FROM dead_letters") == 2, 30, "two dead letters")
    finally:
        pub.close()
        observer.close()
    letters = rows(db, "SELECT topic, error FROM dead_letters ORDER BY id")
    unknown_topic = sp.edge_topic(edge.group, sp.MessageType.DDATA, "n10", "m1")
    assert [(t, reason_of(str(e))) for t, e in letters] == [
        (orphan[0], "no_birth"), (unknown_topic, "unknown_metric")
    ]  # fmt: skip
    assert rows(db, "SELECT value FROM readings") == [(20.0,)], "the DBIRTH's value, none of the refused DATA"


async def test_the_host_state_is_published_with_a_will(
    db: str, mosquitto_factory: Callable[..., MosquittoServer]
) -> None:
    broker = mosquitto_factory()
    host = f"h{uuid.uuid4().hex[:4]}"
    states = Observer(broker.host, broker.port, sp.state_topic(host))
    try:
        async with running(collector_settings(db, broker.url, host_id=host)) as pipeline:
            await until(lambda: states.seen, 30, "STATE online")
            first = sp.decode_state(states.seen[0][1])
            assert first.online and abs(first.timestamp - now_ms()) < 60_000
            # the connection breaks without a DISCONNECT: the broker publishes the Will, then the
            # collector reconnects and is online again under the new connection's time
            assert pipeline.source is not None
            pipeline.source.client.socket().shutdown(socket.SHUT_RDWR)
            await until(lambda: len(states.seen) >= 3, 30, "the Will, then STATE online again")
        await until(lambda: len(states.seen) >= 4, 30, "STATE offline at a clean stop")
    finally:
        states.close()
    decoded = [sp.decode_state(p) for _, p in states.seen]
    will, again, stopped = decoded[1:4]
    assert will == sp.HostState(False, first.timestamp), "the Will names the CONNECT time"
    assert again.online and again.timestamp >= first.timestamp
    assert stopped == sp.HostState(False, again.timestamp)
    assert rows(db, "SELECT count(*) FROM dead_letters") == [(0,)], "STATE messages are no dead letters"


def test_a_sparkplug_message_the_database_refuses_costs_only_itself(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = collector_settings(db, "mqtt://127.0.0.1:1")  # never connected: written directly
    pipeline = Pipeline(settings)
    edge = Edge("g", "n")
    t = now_ms() - 5_000
    sent = [edge.nbirth(), edge.dbirth("m1", [at(TEMP, t)]), edge.dbirth("bad", [at(TEMP, t)]),
            edge.ddata("m1", [Metric(DataType.DOUBLE, 1.0, alias=1, timestamp=t + 1)])]  # fmt: skip
    real = sparkplug_store._envelopes

    def refuse_bad(conn: psycopg.Connection, items: list[tuple[object, ...]]) -> list[int]:
        if any(getattr(env, "dev", None) == "bad" for _, _, env, _ in items):  # type: ignore[misc]
            raise RuntimeError("injected: refused by the database")
        return real(conn, items)  # type: ignore[arg-type]

    monkeypatch.setattr(sparkplug_store, "_envelopes", refuse_bad)
    messages = [Message(topic, payload) for topic, payload in sent]
    result = pipeline._write(messages, pipeline._prepare(messages))
    pipeline.store.close()
    assert [r[2] for r in rows(db, READINGS, "g", "m1")] == [20.0, 1.0]
    letters = rows(db, "SELECT topic, error FROM dead_letters")
    assert letters == [(sent[2][0], "could not be stored: RuntimeError: injected: refused by the database")]
    assert reason_of(str(letters[0][1])) == "store_refused" and len(result.dead_letters) == 1


async def test_an_edge_node_with_metrics_of_its_own_is_a_device_typed_by_the_mapping(
    db: str, mosquitto_factory: Callable[..., MosquittoServer]
) -> None:
    broker = mosquitto_factory()
    edge = Edge(f"g{uuid.uuid4().hex[:4]}", "pump-station")
    mapping = [{"match": f"{edge.group}/pump-*/*", "type": "pump", "industry": "D46", "sector": "process"}]
    pub = Publisher(broker.host, broker.port)
    t = now_ms() - 5_000
    flow = Metric(DataType.FLOAT, 12.5, name="flow", alias=7, timestamp=t,
                  properties={sp.ENG_UNIT: sp.PropertyValue(DataType.STRING, "m3/h")})  # fmt: skip
    try:
        async with running(collector_settings(db, broker.url, devices=mapping)):
            pub.publish([edge.nbirth([flow])])
            ndata = sp.encode_payload(sp.Payload(timestamp=t + 1, seq=1, metrics=(
                Metric(DataType.FLOAT, 13.0, alias=7),)))  # fmt: skip
            pub.publish([(sp.edge_topic(edge.group, sp.MessageType.NDATA, edge.node), ndata)])
            await until(lambda: len(rows(db, READINGS, edge.group, edge.node)) == 2, 30, "two readings",
                        lambda: rows(db, LETTERS))  # fmt: skip
    finally:
        pub.close()
    assert rows(db, READINGS, edge.group, edge.node) == [("flow", t, 12.5, 0), ("flow", t + 1, 13.0, 0)]
    assert rows(db, "SELECT type, industry, sector, gw FROM devices") == [
        ("pump", "D46", "process", f"{edge.group}/{edge.node}")
    ]
    assert rows(db, "SELECT name, kind, dtype, unit FROM points") == [("flow", "analog", "float32", "m3/h")]
