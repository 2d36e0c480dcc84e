"""The Sparkplug host's session rules without a broker (collector.sparkplug is pure), and its settings."""

from __future__ import annotations

from pathlib import Path

import pytest

import wire
from collector.decode import Limits, Message, reason_of
from collector.errors import CollectorError
from collector.settings import load_settings
from collector.sparkplug import DeviceType, Host, Outcome
from tests.collector.sparkplugutil import Edge
from wire import sparkplug as sp
from wire.sparkplug import DataType, Metric

TEMP = Metric(DataType.DOUBLE, 20.0, name="temp", alias=1)


def feed(host: Host, *messages: tuple[str, bytes], now_s: float = 0.0) -> Outcome:
    return host.interpret([Message(t, p) for t, p in messages], now_s)


def reasons(out: Outcome) -> list[str]:
    return [reason_of(r.letter.error) for r in out.refused]


def test_seq_wraps_from_255_to_0() -> None:
    host, edge = Host(Limits()), Edge("g", "n")
    feed(host, edge.nbirth(), edge.dbirth("m", [TEMP]))
    edge.seq = 254
    host._nodes[("g", "n")].seq = 254  # the session has run for a while
    out = feed(host, *(edge.ddata("m", [Metric(DataType.DOUBLE, float(i), alias=1)]) for i in range(3)))
    assert out.refused == [] and [i.identity.seq for i in out.interpreted] == [255, 0, 1]


def test_a_stale_ndeath_is_ignored_and_the_current_one_ends_the_session() -> None:
    host, edge = Host(Limits()), Edge("g", "n", bdseq=3)
    feed(host, edge.nbirth())
    old = Edge("g", "n", bdseq=2).ndeath()
    out = feed(host, old)
    assert (out.ignored, out.interpreted) == (1, [])
    out = feed(host, edge.ndeath())
    assert [i.online for i in out.interpreted] == [False]
    out = feed(host, edge.ddata("m", [Metric(DataType.DOUBLE, 1.0, alias=1)]))
    assert reasons(out) == ["no_birth"] and out.rebirths == [("g", "n")]


def test_an_nbirth_again_keeps_the_session() -> None:
    host, edge = Host(Limits()), Edge("g", "n")
    nbirth = edge.nbirth()
    feed(host, nbirth, edge.dbirth("m", [TEMP]))
    out = feed(host, nbirth, edge.ddata("m", [Metric(DataType.DOUBLE, 1.0, alias=1)]))
    assert out.duplicates == 1 and len(out.interpreted) == 1 and out.refused == []
    # an older session's NBIRTH redelivered after a newer one: no restart of the old session
    edge.bdseq += 1
    feed(host, edge.nbirth(), edge.dbirth("m", [TEMP]))
    out = feed(host, nbirth, edge.ddata("m", [Metric(DataType.DOUBLE, 2.0, alias=1)]))
    assert out.duplicates == 1 and out.refused == [] and [i.identity.bdseq for i in out.interpreted] == [1]


def test_rebirth_requests_are_paced_per_node() -> None:
    host = Host(Limits(), rebirth_interval_s=10)
    a, b = Edge("g", "a", seq=9), Edge("g", "b", seq=9)
    data = lambda e: e.ddata("m", [Metric(DataType.DOUBLE, 1.0, alias=1)])  # noqa: E731
    assert feed(host, data(a), data(a), data(b), now_s=100).rebirths == [("g", "a"), ("g", "b")]
    assert feed(host, data(a), now_s=105).rebirths == []
    assert feed(host, data(a), now_s=111).rebirths == [("g", "a")]


def test_a_birth_without_a_device_type_is_refused_unless_mapped() -> None:
    edge = Edge("g", "n")
    nbirth = edge.nbirth()
    bare = sp.encode_payload(sp.Payload(timestamp=1, seq=1, metrics=(TEMP,)))
    topic = sp.edge_topic("g", sp.MessageType.DBIRTH, "n", "press7")
    out = feed(Host(Limits()), nbirth, (topic, bare))
    assert reasons(out) == ["no_device_type"] and out.rebirths == []
    mapped = Host(Limits(), [DeviceType("g/n/press*", "press", "C34", "discrete")])
    out = feed(mapped, nbirth, (topic, bare))
    birth = out.interpreted[1].envelope
    assert isinstance(birth, wire.Birth) and (birth.device.type, birth.dev) == ("press", "press7")


def test_node_metrics_are_a_device_named_after_the_edge_node() -> None:
    edge = Edge("g", "n")
    out = feed(Host(Limits(), [DeviceType("g/n/n", "pump", "C34", "process")]), edge.nbirth([TEMP]))
    birth = out.interpreted[0].envelope
    assert isinstance(birth, wire.Birth) and (birth.gw, birth.dev) == ("g/n", "n")
    assert [p.name for p in birth.points] == ["temp"], "bdSeq and Node Control/* are no points"


def test_oversized_and_malformed_messages_are_dead_letters() -> None:
    host = Host(Limits(max_payload_bytes=1024))
    topic = sp.edge_topic("g", sp.MessageType.DDATA, "n", "m")
    out = feed(host, (topic, b"\x00" * 2000), (topic, b"\xff\xff"))
    assert reasons(out) == ["oversized", "sparkplug_payload"]


def test_settings_sources_group_filter_and_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert load_settings(None).session().topics == ("pp/v1/#",)
    s = load_settings(None, mqtt={"sources": ["pp_v1", "sparkplug"]})
    assert s.session().topics == ("pp/v1/#", "spBv1.0/#") and s.session().presence is None
    monkeypatch.setenv("PLANTPROOF_COLLECTOR_MQTT__SOURCES", '["sparkplug"]')
    monkeypatch.setenv("PLANTPROOF_COLLECTOR_SPARKPLUG__GROUP_FILTER", "plant1")
    monkeypatch.setenv("PLANTPROOF_COLLECTOR_SPARKPLUG__HOST_ID", "scada")
    s = load_settings(None)
    session = s.session()
    assert session.topics == ("spBv1.0/plant1/#",)
    assert session.presence is not None and session.presence.topic == "spBv1.0/STATE/scada"
    assert sp.decode_state(session.presence.payload(False, 5)) == sp.HostState(False, 5)
    monkeypatch.setenv("PLANTPROOF_COLLECTOR_SPARKPLUG__GROUP_FILTER", "a/b")
    with pytest.raises(CollectorError, match=r"PLANTPROOF_COLLECTOR_SPARKPLUG__GROUP_FILTER"):
        load_settings(None)
    monkeypatch.delenv("PLANTPROOF_COLLECTOR_SPARKPLUG__GROUP_FILTER")
    path = tmp_path / "c.yaml"
    path.write_text("mqtt:\n  group: g1\n")
    with pytest.raises(CollectorError, match=r"mqtt\.group cannot be set with source sparkplug"):
        load_settings(path)
    path.write_text(
        "sparkplug:\n  devices:\n    - {match: 'g/*', type: Press, industry: C34, sector: discrete}\n"
    )
    with pytest.raises(CollectorError, match=r"c\.yaml:3: .*sparkplug\.devices\.0\.type"):
        load_settings(path)


def test_data_of_another_datatype_than_its_birth_is_refused_and_asks_for_a_rebirth() -> None:
    host, edge = Host(Limits()), Edge("g", "n")
    feed(host, edge.nbirth(), edge.dbirth("m", [TEMP]))
    out = feed(host, edge.ddata("m", [Metric(DataType.INT32, 3, alias=1)]))
    assert reasons(out) == ["datatype_mismatch"] and out.rebirths == [("g", "n")]
    assert "is Int32 here and Double in the BIRTH" in out.refused[0].letter.error


def test_ndata_of_control_metrics_only_stores_nothing_and_refuses_nothing() -> None:
    host, edge = Host(Limits()), Edge("g", "n")
    feed(host, edge.nbirth())  # bdSeq and Node Control/Rebirth only: no device
    topic = sp.edge_topic("g", sp.MessageType.NDATA, "n")
    payload = sp.encode_payload(sp.Payload(timestamp=1, seq=1, metrics=(sp.rebirth_metric(1),)))
    out = feed(host, (topic, payload))
    assert out.refused == [] and out.rebirths == []
    assert [(i.identity.seq, i.envelope) for i in out.interpreted] == [(1, None)]


def test_a_birth_says_state_points_wraps_ideal_rate_and_simulated_as_json_does() -> None:
    state = Metric(
        DataType.STRING,
        "running",
        name="state",
        alias=2,
        properties={"kind": sp.PropertyValue(DataType.STRING, "state")},
    )
    props = {
        "kind": sp.PropertyValue(DataType.STRING, "counter"),
        "wrap": sp.PropertyValue(DataType.DOUBLE, 2.0**32),
    }
    parts = Metric(DataType.UINT32, 7, name="parts", alias=3, properties=props)
    flag = Metric(DataType.BOOLEAN, True, name="Properties/simulated")
    rate = Metric(DataType.DOUBLE, 40.0, name="Properties/ideal_rate_per_hour")
    edge = Edge("g", "n")
    nbirth = edge.nbirth()
    sim_birth = edge.dbirth("sim", [TEMP, state, parts, flag, rate])
    out = feed(Host(Limits()), nbirth, sim_birth, edge.dbirth("real", [TEMP]))
    sim, real = (i.envelope for i in out.interpreted[1:])
    assert isinstance(sim, wire.Birth) and isinstance(real, wire.Birth)
    assert (sim.device.simulated, real.device.simulated) == (True, False)
    assert (sim.device.ideal_rate_per_hour, real.device.ideal_rate_per_hour) == (40.0, None)
    points = {p.name: p for p in sim.points}
    assert (points["parts"].wrap, points["temp"].wrap) == (2.0**32, None)
    # stored as a state code (the KPI engine's state timeline), not as text
    assert (points["state"].kind, points["state"].dtype) == ("state", "int16")
