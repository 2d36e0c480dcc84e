"""Bridge and Kafka-source settings: the shipped examples load, and an error names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.keys import forwarded, partition_key
from bridge.settings import BridgeConfigError
from bridge.settings import load_settings as bridge_settings
from collector.errors import CollectorError
from collector.settings import load_settings as collector_settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_bridge_config_loads_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    s = bridge_settings(ROOT / "configs" / "bridge.yaml")
    assert s == bridge_settings(None)  # the example spells out the defaults
    monkeypatch.setenv("PLANTPROOF_BRIDGE_KAFKA__BOOTSTRAP_SERVERS", '["kafka:9092", "kafka2:9092"]')
    assert bridge_settings(ROOT / "configs" / "bridge.yaml").kafka.bootstrap == "kafka:9092,kafka2:9092"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "kafka:\n  bootstrap_servers: [kafka]\n",
            r"bridge\.yaml:2: .*host:port.*field kafka\.bootstrap_servers",
        ),
        ("kafka:\n  security_protocol: SASL_SSL\n", r"bridge\.yaml:2: .*needs a sasl section.*field kafka"),
        ("inflight_max: 0\n", r"bridge\.yaml:1: .*field inflight_max"),
        ("mqtt:\n  topics: []\n", r"bridge\.yaml:2: .*nothing to bridge.*field mqtt"),
        ("mqtt:\n  sparkplug_group_filter: a/b\n", r"bridge\.yaml:2: .*field mqtt\.sparkplug_group_filter"),
    ],
)
def test_bridge_config_errors_name_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bridge.yaml"
    path.write_text(text)
    with pytest.raises(BridgeConfigError, match=expected) as caught:
        bridge_settings(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("source: kafka\n", r"c\.yaml.*source kafka needs a kafka section"),
        (
            "source: kafka\nkafka:\n  heartbeat_interval_ms: 3000\n",
            r"c\.yaml:3: .*third of session.*field kafka",
        ),
        (
            "kafka:\n  sasl: {username: u, password: p}\n",
            r"c\.yaml:2: .*SASL_PLAINTEXT or SASL_SSL.*field kafka",
        ),
        ("source: kafk\n", r"c\.yaml:1: .*field source"),
    ],
)
def test_kafka_source_errors_name_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(CollectorError, match=expected):
        collector_settings(path)


def test_the_shipped_collector_config_reads_mqtt_and_spells_out_the_kafka_section() -> None:
    s = collector_settings(ROOT / "configs" / "collector.yaml")
    assert s.source == "mqtt" and s.kafka is not None and s.kafka.group_id == "plantproof-collectors"
    assert collector_settings(ROOT / "configs" / "collector.yaml", source="kafka").session().topics == ()


def test_keys_keep_each_sender_in_one_partition_and_platform_messages_stay_out() -> None:
    assert partition_key("pp/v1/s1/gw-1/dev-9/data") == partition_key("pp/v1/s1/gw-1/$status") == b"s1/gw-1"
    assert (
        partition_key("spBv1.0/g1/DDATA/edge-1/dev")
        == partition_key("spBv1.0/g1/NBIRTH/edge-1")
        == b"g1/edge-1"
    )
    assert partition_key("other/topic") == b"other/topic"
    assert forwarded("pp/v1/s1/gw-1/dev-9/cmd/res") and forwarded("pp/v1/s1/gw-1/$dropped")
    assert not forwarded("pp/v1/s1/gw-1/dev-9/cmd") and not forwarded("pp/v1/s1/gw-1/$stored")
    assert forwarded("spBv1.0/g1/NDATA/edge-1") and not forwarded("spBv1.0/g1/NCMD/edge-1")
    assert not forwarded("spBv1.0/STATE/host-1")
