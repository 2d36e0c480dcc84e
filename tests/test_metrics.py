"""The Prometheus exposition of the gateway and the collector: conventions, counting, promtool."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import wire
from adapters.base import LinkStatus
from collector import ledger
from collector.decode import Limits, RejectedError, dead_letter, parse, reason_of
from collector.ingest import Pipeline
from collector.metrics import Metrics
from collector.points import DevicePoints
from collector.settings import load_settings
from collector.store import BatchResult, _check_owner, _check_sent
from gateway.metrics import GatewayMetrics
from gateway.spool import SpoolStats
from infra.prom import version
from tests.collector.conftest import birth, data, temps, topic

# Running totals: each must be a counter (a gauge would hide resets from rate()).
GATEWAY_COUNTERS = {
    f"plantproof_gateway_{n}"
    for n in (
        "points_read", "points_published", "points_suppressed", "envelopes_published",
        "envelopes_confirmed", "spool_overflow_episodes", "oversized_samples", "read_errors", "reads",
        "reconnects", "device_queue_dropped", "spool_dropped", "mqtt_connects", "mqtt_auth_failures",
        "mqtt_incoming_dropped", "resends", "publish_failures", "commands", "batch_dropped",
        "log_suppressed",
    )
}  # fmt: skip
COLLECTOR_COUNTERS = {
    f"plantproof_collector_{n}"
    for n in (
        "received_messages", "stored_rows", "stored_envelopes", "duplicate_envelopes",
        "repeated_readings", "conflicting_readings", "dead_letters", "queue_overflow",
        "overflow_reconnects", "seq_reuse", "watermarks_published", "db_reconnects", "mqtt_connects",
        "gateway_envelopes", "gateway_samples",
    )
}  # fmt: skip


def gateway_text() -> str:
    m = GatewayMetrics()
    m.observe_link("cnc-1", LinkStatus(connected=True, reads=3, read_errors=1, reconnects=1, last_rtt_s=0.01))
    m.observe_down("cnc-2", 12.0, "timeout")
    m.observe_spool(SpoolStats(depth=2, bytes=300, dropped=0, next_seq=7), 1 << 20)
    m.observe_client(1, 0, 0)
    m.points_read.labels("cnc-1").inc(3)
    m.commands.labels("read", "true").inc()
    m.publish_latency.observe(0.004)
    return generate_latest(m.registry).decode()


def collector_pipeline() -> Pipeline:
    settings = load_settings(None, dsn="postgresql://nobody@127.0.0.1:1/none", metrics_port=None)
    return Pipeline(settings, Metrics())  # no connection is opened before `run`


def collector_text() -> str:
    p = collector_pipeline()
    result = BatchResult(
        rows=5, envelopes_new=1, dead_letters=[dead_letter("t", b"", "oversized: 9", Limits())]
    )
    result.envelopes_by_gateway[("s1", "gw1")] = 1
    result.samples_by_gateway[("s1", "gw1")] = 5
    result.sent.append(time.time_ns() - 2 * 10**9)
    p._count(result, 0.01)
    return generate_latest(p.metrics.registry).decode()


PROGRAMS = {"gateway": gateway_text, "collector": collector_text}


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_promtool_accepts_the_exposition(program: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    done = subprocess.run(
        [promtool, "check", "metrics"], input=PROGRAMS[program](), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_counters_end_in_total_and_every_registry_has_build_and_process_info(program: str) -> None:
    text = PROGRAMS[program]()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    typed = [line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE ")]
    counters = [name for name, kind in typed if kind == "counter"]
    assert counters and all(n.endswith("_total") for n in counters), counters
    for family in families.values():
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family
    expected = GATEWAY_COUNTERS if program == "gateway" else COLLECTOR_COUNTERS
    not_counters = {
        n: families[n].type for n in expected if n not in families or families[n].type != "counter"
    }
    assert not not_counters, f"running totals that are not counters: {not_counters}"
    info = families["plantproof_build_info"]
    assert [(s.labels, s.value) for s in info.samples] == [
        ({"version": version(), "python": platform.python_version()}, 1.0)
    ]
    if sys.platform.startswith("linux"):  # ProcessCollector reads /proc
        for name in ("process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds"):
            assert name in families, name
        assert families["process_start_time_seconds"].samples[0].value > 0


def test_totals_copied_from_running_ints_advance_by_the_difference() -> None:
    m = GatewayMetrics()
    reg = m.registry

    def value(name: str, labels: dict[str, str] | None = None) -> float | None:
        return reg.get_sample_value(name, labels or {})

    m.observe_link("d", LinkStatus(reads=3, read_errors=1))
    m.observe_link("d", LinkStatus(reads=5, read_errors=1, reconnects=1))
    assert value("plantproof_gateway_reads_total", {"device": "d"}) == 5
    assert value("plantproof_gateway_read_errors_total", {"device": "d"}) == 1
    m.observe_link("d", LinkStatus(reads=2))  # a new connection counts from 0 again: all 2 are new
    assert value("plantproof_gateway_reads_total", {"device": "d"}) == 7
    m.observe_client(1, 2, 0)
    m.observe_client(3, 2, 4)
    assert value("plantproof_gateway_mqtt_connects_total") == 3
    assert value("plantproof_gateway_mqtt_auth_failures_total") == 2
    assert value("plantproof_gateway_mqtt_incoming_dropped_total") == 4


def test_a_committed_batch_is_counted_by_reason_gateway_and_lag() -> None:
    p = collector_pipeline()
    limits = Limits()
    letters = [dead_letter("t", b"", why, limits) for why in ("bad topic: x", "oversized: 9", "bad topic: y")]
    result = BatchResult(dead_letters=letters)
    result.envelopes_by_gateway.update({("s1", "gw1"): 3, ("s1", "gw2"): 1})
    result.samples_by_gateway.update({("s1", "gw1"): 40})
    now = time.time_ns()
    result.sent += [now - 30 * 10**9, now + 5 * 10**9]  # the second from a gateway clock ahead
    p._count(result, 0.01)
    reg = p.metrics.registry
    dead = "plantproof_collector_dead_letters_total"
    assert reg.get_sample_value(dead, {"reason": "topic"}) == 2
    assert reg.get_sample_value(dead, {"reason": "oversized"}) == 1
    assert p.metrics.dead_letter_total() == 3
    gw = "plantproof_collector_gateway_envelopes_total"
    assert reg.get_sample_value(gw, {"site": "s1", "gateway": "gw1"}) == 3
    assert reg.get_sample_value(gw, {"site": "s1", "gateway": "gw2"}) == 1
    assert (
        reg.get_sample_value("plantproof_collector_gateway_samples_total", {"site": "s1", "gateway": "gw1"})
        == 40
    )
    lag = "plantproof_collector_ingest_lag_seconds"
    assert reg.get_sample_value(f"{lag}_count") == 2
    assert 30 <= (reg.get_sample_value(f"{lag}_sum") or 0) < 40  # the clock ahead counts 0
    assert reg.get_sample_value(f"{lag}_bucket", {"le": "0.05"}) == 1


def _rejection(check: Callable[..., object], *args: object) -> str:
    with pytest.raises(RejectedError) as caught:
        check(*args)
    return str(caught.value)


def test_reasons_written_outside_decoding_have_their_own_kind() -> None:
    limits = Limits()
    first = parse(topic("data"), wire.encode(data("gw1", "m1", 5, temps(2))), limits)
    other = parse(topic("data"), wire.encode(data("gw1", "m1", 5, temps(3))), limits)
    reused = ledger.sort_batch([first, other], limits).reused
    assert [reason_of(d.error) for d in reused] == ["seq_reuse"]
    env = first.envelope
    assert isinstance(env, wire.Data)
    owned = _rejection(_check_owner, DevicePoints.of(1, {}, owner="gw-b"), env, "s1", False)
    assert reason_of(owned) == "not_owner"
    assert reason_of(_rejection(_check_sent, birth(), (0, 1))) == "out_of_window"
    assert reason_of("could not be stored: DataError: is owned by nobody") == "store_refused"
    assert reason_of("something new") == "other"
