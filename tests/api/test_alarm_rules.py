"""The alarm rules as a pure function: snapshots in, findings and changes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.alarm_config import AlarmConfig, load_alarm_config
from api.alarm_rules import (
    CPU_SECONDS,
    DROPPED_TOPIC,
    RESIDENT_BYTES,
    SPOOL_DEPTH,
    Counters,
    Database,
    DeviceRow,
    GatewayRow,
    Rules,
    Scrape,
    Snapshot,
    changes,
    evaluate,
)
from infra.yamlconfig import ConfigFileError

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
RULES = Rules.model_validate({"gateway_offline": {"delay_s": 30}, "device_offline": {"delay_s": 60}})


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def db(
    gateways: tuple[GatewayRow, ...] = (),
    devices: tuple[DeviceRow, ...] = (),
    **kw: object,
) -> Database:
    fields: dict[str, object] = {"deaths": {}, "ingest_lag_s": None, "dead_letters": 0, "size_bytes": 1000}
    fields.update(kw)
    return Database(gateways, devices, **fields)  # type: ignore[arg-type]


def keys(snapshot: Snapshot, rules: Rules = RULES, counters: Counters | None = None) -> set[tuple[str, str]]:
    return {f.key for f in evaluate(rules, snapshot, counters or Counters()).findings}


def test_a_gateway_is_offline_on_its_status_at_once_or_after_its_delay_of_silence() -> None:
    gateways = (
        GatewayRow("s1", "said-offline", "offline", ago(1)),
        GatewayRow("s1", "silent", "online", ago(31)),
        GatewayRow("s1", "fresh", "online", ago(29)),
        GatewayRow("s1", "never-said", "unknown", ago(5)),
    )
    found = evaluate(RULES, Snapshot(NOW, db(gateways)), Counters()).findings
    assert {f.subject: f.rule for f in found} == {
        "s1/said-offline": "gateway_offline",
        "s1/silent": "gateway_offline",
    }
    assert {f.site for f in found} == {"s1"} and {f.severity for f in found} == {"critical"}
    assert "went offline" in found[0].message and "for 31 s" in found[1].message


def test_devices_of_an_offline_gateway_are_left_to_its_alarm() -> None:
    gateways = (GatewayRow("s1", "down", "offline", ago(1)), GatewayRow("s1", "up", "online", ago(1)))
    devices = (
        DeviceRow("s1", "d1", "down", False, ago(500)),
        DeviceRow("s1", "d2", "up", False, ago(61)),  # its gateway reported it lost
        DeviceRow("s1", "d3", "up", True, ago(61)),  # silent past the delay
        DeviceRow("s1", "d4", "up", True, ago(59)),
        DeviceRow("s1", "d5", "up", False, ago(59)),  # lost, not yet for the delay
    )
    evaluation = evaluate(RULES, Snapshot(NOW, db(gateways, devices)), Counters())
    assert {f.key for f in evaluation.findings} == {
        ("gateway_offline", "s1/down"), ("device_offline", "s1/d2"), ("device_offline", "s1/d3"),
    }  # fmt: skip
    # d1's own alarm, if it had one, is neither raised nor cleared while its gateway is down
    result = changes({("device_offline", "s1/d1"), ("device_offline", "s1/d4")}, evaluation)
    assert result.cleared == (("device_offline", "s1/d4"),)


def test_flapping_counts_deaths_within_the_window() -> None:
    devices = (DeviceRow("s1", "d1", "g", True, ago(1)), DeviceRow("s1", "d2", "g", True, ago(1)))
    snapshot = Snapshot(
        NOW,
        db((GatewayRow("s1", "g", "online", ago(1)),), devices, deaths={("s1", "d1"): 5, ("s1", "d2"): 4}),
    )
    assert keys(snapshot) == {("device_flapping", "s1/d1")}


def test_database_figures_against_their_thresholds() -> None:
    rules = Rules.model_validate(
        {"ingest_lag": {"above_s": 10}, "dead_letter_rate": {"window_s": 60, "above_per_min": 3},
         "database_size": {"above_bytes": 10_000}}
    )  # fmt: skip
    quiet = Snapshot(NOW, db(ingest_lag_s=10.0, dead_letters=3, size_bytes=10_000))
    assert keys(quiet, rules) == set()
    loud = Snapshot(NOW, db(ingest_lag_s=10.5, dead_letters=4, size_bytes=10_001))
    assert keys(loud, rules) == {("ingest_lag", "collector"), ("dead_letter_rate", "collector"),
                                 ("database_size", "database")}  # fmt: skip


def test_cpu_is_a_rate_over_the_window_and_memory_a_level() -> None:
    rules = Rules.model_validate({"collector_cpu": {"window_s": 60, "above_ratio": 0.5},
                                  "collector_memory": {"above_bytes": 1000}})  # fmt: skip
    counters = Counters()

    def at(t: float, cpu: float, rss: float) -> set[tuple[str, str]]:
        scrape = Scrape("c1", "collector", None, {CPU_SECONDS: cpu, RESIDENT_BYTES: rss})
        return keys(Snapshot(NOW + timedelta(seconds=t), db(), scrapes=(scrape,)), rules, counters)

    assert at(0, 100.0, 10) == set()  # one sample: no rate yet
    assert at(10, 106.0, 10) == {("collector_cpu", "c1")}  # 0.6 s/s
    assert at(20, 112.0, 1001) == {("collector_cpu", "c1"), ("collector_memory", "c1")}  # 12 s in 20 s
    assert at(30, 113.0, 10) == set()  # 13 s in 30 s
    assert at(40, 126.0, 10) == {("collector_cpu", "c1")}  # 26 s in 40 s
    assert at(80, 127.0, 10) == set()  # the window keeps 20..80: 15 s in 60 s
    assert at(90, 2.0, 10) == set()  # the collector restarted: its total starts again


def test_spool_depth_and_broker_drops() -> None:
    rules = Rules.model_validate(
        {"spool_depth": {"above": 100}, "broker_dropped": {"window_s": 60, "above": 0}}
    )
    counters = Counters()
    gw = (
        Scrape("gw-a", "gateway", "s1", {SPOOL_DEPTH: 101}),
        Scrape("gw-b", "gateway", "s2", {SPOOL_DEPTH: 100}),
    )
    found = evaluate(rules, Snapshot(NOW, db(), scrapes=gw), counters).findings
    assert [(f.key, f.site) for f in found] == [(("spool_depth", "gw-a"), "s1")]

    def broker(t: float, dropped: str) -> set[tuple[str, str]]:
        values = {DROPPED_TOPIC: dropped, "$SYS/broker/uptime": "5 seconds"}
        return keys(
            Snapshot(NOW + timedelta(seconds=t), db(), broker=values, broker_configured=True), rules, counters
        )

    assert broker(0, "7") == set()
    assert broker(10, "7") == set()
    assert broker(20, "9") == {("broker_dropped", "broker")}
    assert broker(85, "9") == set()  # the drops left the window


def test_an_unreadable_source_raises_source_down_and_keeps_its_alarms() -> None:
    active = {("gateway_offline", "s1/g"), ("collector_memory", "c1"), ("broker_dropped", "broker"),
              ("disk_free", "/data"), ("spool_depth", "gw-a")}  # fmt: skip
    scrapes = (Scrape("c1", "collector", None, None), Scrape("gw-a", "gateway", "s1", {}))
    snapshot = Snapshot(NOW, None, scrapes, broker=None, broker_configured=True, disks={"/data": None})
    evaluation = evaluate(RULES, snapshot, Counters())
    assert {f.key for f in evaluation.findings} == {
        ("source_down", "c1"), ("source_down", "broker"), ("source_down", "/data"),
    }  # fmt: skip
    result = changes(active, evaluation)
    assert result.cleared == (("spool_depth", "gw-a"),)  # the only source that was read
    assert len(result.raised) == 3


def test_free_disk_below_its_ratio() -> None:
    snapshot = Snapshot(NOW, db(), disks={"/full": (5, 100), "/roomy": (50, 100)})
    assert keys(snapshot) == {("disk_free", "/full")}


def test_a_disabled_rule_finds_nothing() -> None:
    rules = Rules.model_validate({"gateway_offline": {"enabled": False}, "source_down": {"enabled": False}})
    snapshot = Snapshot(NOW, db((GatewayRow("s1", "g", "offline", ago(1)),)), broker_configured=True)
    assert keys(snapshot, rules) == set()


def test_changes_raise_new_findings_once() -> None:
    snapshot = Snapshot(NOW, db((GatewayRow("s1", "g", "offline", ago(1)),)))
    evaluation = evaluate(RULES, snapshot, Counters())
    assert [f.key for f in changes(set(), evaluation).raised] == [("gateway_offline", "s1/g")]
    assert changes({("gateway_offline", "s1/g")}, evaluation).raised == ()


def test_the_shipped_defaults_load() -> None:
    config = load_alarm_config(ROOT / "configs" / "alarms.yaml")
    assert config.rules == Rules() and config == AlarmConfig.model_validate(config.model_dump())
    assert config.sources.broker is not None and config.interval_s > 0


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("rules:\n  gateway_offline:\n    delay_s: -1\n", 3, "rules.gateway_offline.delay_s"),
        ("rules:\n  gateway_offline:\n    severity: loud\n", 3, "rules.gateway_offline.severity"),
        ("rules:\n  no_such_rule: {}\n", 2, "rules.no_such_rule"),
        ("webhooks:\n  - name: a\n    url: ftp://x\n", 3, "webhooks.0.url"),
        ("sources:\n  broker:\n    url: http://x\n", 3, "sources.broker.url"),
        ("interval_s: 0\n", 1, "interval_s"),
    ],
)
def test_a_bad_alarm_file_names_line_and_field(tmp_path: Path, text: str, line: int, field: str) -> None:
    path = tmp_path / "alarms.yaml"
    path.write_text(text)
    with pytest.raises(ConfigFileError) as caught:
        load_alarm_config(path)
    assert str(caught.value).startswith(f"{path}:{line}: ") and f"(field {field})" in str(caught.value)
