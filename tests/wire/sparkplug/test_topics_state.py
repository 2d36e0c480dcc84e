"""Sparkplug topics, the host's STATE message and the sequence rules."""

from __future__ import annotations

import pytest

from wire import QUALITY_BAD, QUALITY_GOOD, QUALITY_UNCERTAIN, WireError
from wire import sparkplug as sp
from wire.sparkplug import DataType, MessageType, Metric, PropertyValue, SparkplugTopic


@pytest.mark.parametrize(
    ("topic", "parsed"),
    [
        ("spBv1.0/plant-1/NBIRTH/gw-line1", SparkplugTopic(MessageType.NBIRTH, "plant-1", "gw-line1")),
        (
            "spBv1.0/plant-1/DDATA/gw-line1/cnc-01",
            SparkplugTopic(MessageType.DDATA, "plant-1", "gw-line1", "cnc-01"),
        ),
        (
            "spBv1.0/Sparkplug B Devices/NCMD/Raspberry Pi",
            SparkplugTopic(MessageType.NCMD, "Sparkplug B Devices", "Raspberry Pi"),
        ),
        ("spBv1.0/车间/DCMD/网关/设备", SparkplugTopic(MessageType.DCMD, "车间", "网关", "设备")),
        ("spBv1.0/STATE/scada-host", SparkplugTopic(MessageType.STATE, host_id="scada-host")),
        (
            "spBv1.0/STATE/NDATA/edge",
            SparkplugTopic(MessageType.NDATA, "STATE", "edge"),
        ),  # a group named STATE
    ],
)
def test_topics_parse_and_rebuild(topic: str, parsed: SparkplugTopic) -> None:
    assert sp.parse_topic(topic) == parsed
    assert str(parsed) == topic


def test_builders_match_the_parser() -> None:
    for message_type in MessageType:
        if message_type == MessageType.STATE:
            continue
        device = "d1" if message_type.is_device else None
        topic = sp.edge_topic("g", message_type, "e", device)
        assert sp.parse_topic(topic) == SparkplugTopic(message_type, "g", "e", device)
    assert sp.state_topic("h") == "spBv1.0/STATE/h"
    assert sp.subscription() == "spBv1.0/+/+/+/#"
    assert sp.subscription("plant-1") == "spBv1.0/plant-1/+/+/#"


@pytest.mark.parametrize(
    ("topic", "field"),
    [
        ("pp/v1/site/gw/dev/data", "topic"),
        ("spBv1.0/g/NBIRTH", "topic"),
        ("spBv1.0/g/NBIRTH/e/d", "device_id"),
        ("spBv1.0/g/DDATA/e", "device_id"),
        ("spBv1.0/g/NOPE/e", "message_type"),
        ("spBv1.0/g/STATE/e", "message_type"),
        ("spBv1.0//NDATA/e", "group_id"),
        ("spBv1.0/g/NDATA/e+", "edge_node_id"),
        ("spBv1.0/g/DDATA/e/d#", "device_id"),
        ("spBv1.0/STATE/", "host_id"),
    ],
)
def test_bad_topics_name_the_level(topic: str, field: str) -> None:
    with pytest.raises(WireError) as err:
        sp.parse_topic(topic)
    assert err.value.field == field


def test_builders_refuse_bad_ids_and_misplaced_device_ids() -> None:
    with pytest.raises(WireError, match="needs device id"):
        sp.edge_topic("g", MessageType.DBIRTH, "e")
    with pytest.raises(WireError, match="takes no device id"):
        sp.edge_topic("g", MessageType.NDATA, "e", "d")
    with pytest.raises(WireError) as err:
        sp.edge_topic("g/h", MessageType.NDATA, "e")
    assert err.value.field == "group_id"
    with pytest.raises(WireError):
        sp.edge_topic("g", MessageType.NDATA, "x" * 256)
    with pytest.raises(WireError):
        sp.state_topic("a\0b")


def test_state_encodes_and_decodes() -> None:
    state = sp.HostState(online=False, timestamp=1_780_000_000_000)
    assert sp.encode_state(state) == b'{"online":false,"timestamp":1780000000000}'
    assert sp.decode_state(sp.encode_state(state)) == state
    # Key order and extra keys from other hosts do not matter.
    assert sp.decode_state(b'{"timestamp": 5, "online": true, "host": "x"}') == sp.HostState(True, 5)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"online", "$"),
        (b'{"online": "yes", "timestamp": 1}', "$.online"),
        (b'{"online": true}', "$.timestamp"),
        (b'{"online": true, "timestamp": -1}', "$.timestamp"),
        (b'{"online": true, "timestamp": 1.5}', "$.timestamp"),
        (b" " * 5000, "$"),
    ],
)
def test_bad_state_is_refused(payload: bytes, field: str) -> None:
    with pytest.raises(WireError) as err:
        sp.decode_state(payload)
    assert err.value.field == field


def test_seq_and_bdseq_wrap_at_256() -> None:
    assert [sp.next_seq(s) for s in (0, 254, 255)] == [1, 255, 0]
    assert sp.next_bdseq(255) == 0
    assert sp.seq_follows(255, 0) and sp.seq_follows(7, 8)
    assert not sp.seq_follows(7, 9) and not sp.seq_follows(7, 7) and not sp.seq_follows(255, 256)


def test_bdseq_metric_and_ndeath() -> None:
    death = sp.ndeath_payload(7, timestamp=10)
    assert death.seq is None
    assert death.metrics == (Metric(DataType.INT64, 7, name="bdSeq"),)
    assert sp.bdseq_of(sp.decode_payload(sp.encode_payload(death))) == 7
    with pytest.raises(WireError):
        sp.bdseq_metric(256)
    with pytest.raises(WireError, match="no bdSeq"):
        sp.bdseq_of(sp.Payload(metrics=(sp.rebirth_metric(),)))
    # Some edge nodes send bdSeq as UInt64 (the specification's own NDEATH example does).
    assert sp.bdseq_of(sp.Payload(metrics=(Metric(DataType.UINT64, 3, name="bdSeq"),))) == 3


def test_rebirth_request_round_trips() -> None:
    birth_metric = sp.rebirth_metric(5)
    assert birth_metric == Metric(DataType.BOOLEAN, False, name="Node Control/Rebirth", timestamp=5)
    request = sp.decode_payload(sp.encode_payload(sp.rebirth_request(9)))
    assert sp.is_rebirth_request(request)
    assert not sp.is_rebirth_request(sp.Payload(metrics=(birth_metric,)))


@pytest.mark.parametrize(
    ("quality", "code"), [(QUALITY_GOOD, 192), (QUALITY_UNCERTAIN, 500), (QUALITY_BAD, 0)]
)
def test_quality_maps_both_ways(quality: int, code: int) -> None:
    prop = sp.quality_property(quality)
    assert prop == PropertyValue(DataType.INT32, code)
    assert sp.quality_of(Metric(DataType.DOUBLE, 1.0, properties={sp.QUALITY: prop})) == quality


def test_quality_is_good_without_the_property_and_refuses_unknown_codes() -> None:
    assert sp.quality_of(Metric(DataType.DOUBLE, 1.0)) == QUALITY_GOOD
    bad = Metric(DataType.DOUBLE, 1.0, name="x", properties={sp.QUALITY: PropertyValue(DataType.INT32, 7)})
    with pytest.raises(WireError, match="'x'"):
        sp.quality_of(bad)
    with pytest.raises(WireError):
        sp.quality_property(3)
