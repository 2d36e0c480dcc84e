"""Edge processing and batching (pure): scaling, states, deadbands, heartbeat, size/age batching."""

from __future__ import annotations

from adapters.base import RawReading
from devicemodel.loader import load_device_type
from gateway.batcher import Batcher
from gateway.config import EdgeConfig, EdgeSettings
from gateway.edge import EdgeProcessor, Sample
from tests.gateway.helpers import CNC, ROOT

S = 1_000_000_000
CNC_TYPE = load_device_type(CNC)


def proc(started_ns: int = 0, **points: EdgeSettings) -> EdgeProcessor:
    """An edge processor that began observing at gateway time `started_ns`."""
    return EdgeProcessor(CNC_TYPE, EdgeConfig(points=points), now_ns=started_ns)


def test_scaling_states_bools_and_exact_counters() -> None:
    edge = proc()
    out = edge.process(
        [
            RawReading("spindle_temp", 1, 487),  # int16, scale 0.1
            RawReading("energy", 1, 123456),  # uint32, scale 0.01
            RawReading("parts_total", 1, 4_294_967_295),
            RawReading("state", 1, 7),
            RawReading("door_open", 1, 1),
        ]
    )
    values = {p: v for p, _, v, _ in out}
    assert abs(values["spindle_temp"] - 48.7) < 1e-9  # type: ignore[operator]
    assert abs(values["energy"] - 1234.56) < 1e-9  # type: ignore[operator]
    assert values["parts_total"] == 4_294_967_295 and isinstance(values["parts_total"], int)
    assert values["state"] == "corrective_maintenance"
    assert values["door_open"] is True


def test_unmapped_state_code_is_unknown_stop_uncertain() -> None:
    press = load_device_type(ROOT / "configs/devices/press.yaml")
    out = EdgeProcessor(press, EdgeConfig(), now_ns=0).process(
        [RawReading("state", 5, 0)], now_ns=5
    )  # press has no code 0
    assert out == [("state", 5, "unknown_stop", 1)]


def test_absolute_deadband_and_heartbeat() -> None:
    edge = proc(spindle_speed=EdgeSettings(deadband_abs=10, max_silence_s=5))
    sent = []
    for i, value in enumerate([1000.0, 1005.0, 1009.9, 1010.1, 1015.0, 1021.0]):
        sent += edge.process([RawReading("spindle_speed", i * S, value)], now_ns=i * S)
    assert [v for _, _, v, _ in sent] == [1000.0, 1010.1, 1021.0]
    # unchanged value: nothing until max_silence has passed since the last report, then a heartbeat
    assert edge.process([RawReading("spindle_speed", 9 * S, 1021.0)], now_ns=9 * S) == []
    assert edge.process([RawReading("spindle_speed", 10 * S, 1021.0)], now_ns=10 * S) == [
        ("spindle_speed", 10 * S, 1021.0, 0)
    ]
    assert edge.suppressed == 4


def test_percent_deadband_and_quality_change() -> None:
    edge = proc(spindle_speed=EdgeSettings(deadband_pct=1.0))
    assert edge.process([RawReading("spindle_speed", 0 * S, 1000.0)], now_ns=0 * S)
    assert edge.process([RawReading("spindle_speed", 1 * S, 1009.0)], now_ns=1 * S) == []  # 0.9 % of 1000
    assert edge.process([RawReading("spindle_speed", 2 * S, 1011.0)], now_ns=2 * S)  # 1.1 %
    # a quality change is always reported, whatever the value
    assert edge.process([RawReading("spindle_speed", 3 * S, 1011.0, 1)], now_ns=3 * S) == [
        ("spindle_speed", 3 * S, 1011.0, 1)
    ]
    assert edge.process([RawReading("spindle_speed", 4 * S, None, 2)], now_ns=4 * S) == [
        ("spindle_speed", 4 * S, None, 2)
    ]


def test_states_report_every_change_and_unknown_points_are_counted() -> None:
    edge = proc()
    codes = [1, 1, 6, 6, 1]
    out = [
        s for i, c in enumerate(codes) for s in edge.process([RawReading("state", i * S, c)], now_ns=i * S)
    ]
    assert [v for _, _, v, _ in out] == ["running", "unplanned_stop", "running"]
    assert edge.process([RawReading("no_such_point", 0 * S, 1)], now_ns=0 * S) == []
    assert edge.unknown_points == 1


def test_forget_reports_everything_afresh() -> None:
    edge = proc()
    assert edge.process([RawReading("state", 0 * S, 1)], now_ns=0 * S)
    assert not edge.process([RawReading("state", 1 * S, 1)], now_ns=1 * S)
    edge.forget(now_ns=2 * S)
    assert edge.process([RawReading("state", 2 * S, 1)], now_ns=2 * S)


def test_steady_points_repeat_on_the_gateway_clock_stamped_with_its_time() -> None:
    # A subscription sends one value and then nothing: the heartbeat repeats it every max_silence.
    edge = proc(10 * S, spindle_speed=EdgeSettings(max_silence_s=5))
    old = 3 * S  # the value changed before the gateway began observing at 10 s: not a new reading
    first = edge.process([RawReading("spindle_speed", old, 8000.0), RawReading("state", 9 * S, 1)], 10 * S)
    assert first == [("spindle_speed", 10 * S, 8000.0, 0), ("state", 10 * S, "running", 0)]
    assert edge.heartbeat(14 * S) == []
    assert edge.heartbeat(15 * S) == [("spindle_speed", 15 * S, 8000.0, 0)]
    assert edge.heartbeat(20 * S) == [("spindle_speed", 20 * S, 8000.0, 0)]
    assert edge.heartbeat(70 * S) == [("spindle_speed", 70 * S, 8000.0, 0), ("state", 70 * S, "running", 0)]


def test_a_poll_returning_the_old_source_timestamp_is_republished_with_the_gateway_time() -> None:
    edge = proc(spindle_speed=EdgeSettings(max_silence_s=5))
    assert edge.process([RawReading("spindle_speed", 1 * S, 8000.0)], 1 * S) == [
        ("spindle_speed", S, 8000.0, 0)
    ]
    for t in range(2, 6):
        assert edge.process([RawReading("spindle_speed", 1 * S, 8000.0)], t * S) == []
    assert edge.process([RawReading("spindle_speed", 1 * S, 8000.0)], 6 * S) == [
        ("spindle_speed", 6 * S, 8000.0, 0)
    ]
    # a real change keeps its source timestamp
    assert edge.process([RawReading("spindle_speed", 6 * S + 500_000_000, 7000.0)], 7 * S) == [
        ("spindle_speed", 6 * S + 500_000_000, 7000.0, 0)
    ]


def test_reconnect_and_restart_never_resend_an_old_source_timestamp() -> None:
    edge = proc()
    assert edge.process([RawReading("state", 1 * S, 1)], 1 * S) == [("state", S, "running", 0)]
    # link lost at 5 s (the adapter's bad marker), back at 8 s: the value comes with its old stamp
    assert edge.process([RawReading("state", 5 * S, None, 2)], 5 * S) == [("state", 5 * S, None, 2)]
    assert edge.process([RawReading("state", 1 * S, 1)], 8 * S) == [("state", 8 * S, "running", 0)]
    # a gateway restart at 100 s begins observing afresh: the unchanged value is a reading at 100 s
    restarted = proc(100 * S)
    assert restarted.process([RawReading("state", 1 * S, 1)], 100 * S) == [("state", 100 * S, "running", 0)]


def test_a_source_clock_ahead_of_the_gateway_is_not_trusted() -> None:
    edge = proc()
    ahead = 10 * S + 5 * S  # the device clock runs 5 s ahead
    assert edge.process([RawReading("state", ahead, 1)], 10 * S) == [("state", 10 * S, "running", 0)]
    slightly = 20 * S + S // 2  # within the slack: kept
    assert edge.process([RawReading("state", slightly, 6)], 20 * S) == [
        ("state", slightly, "unplanned_stop", 0)
    ]


def test_published_stamps_of_a_point_strictly_increase_by_a_microsecond() -> None:
    import random

    rng = random.Random(4)
    edge = proc(spindle_speed=EdgeSettings(max_silence_s=0.001))
    now, last = 0, -(10**18)
    for _ in range(2000):
        now += rng.choice([1, 500, 1_000, 2_000_000])
        source = now + rng.choice([-3 * S, -1, 0, 700, 2 * S])  # stale, skewed or fresh source stamps
        samples = edge.process([RawReading("spindle_speed", source, float(rng.randint(0, 3)))], now)
        samples += edge.heartbeat(now)
        for _, ts, _, _ in samples:
            assert ts >= last + 1_000
            last = ts


def test_batcher_by_size_and_age() -> None:
    b = Batcher(max_samples=3, max_age_s=1.0)
    samples: list[Sample] = [("p", i, float(i), 0) for i in range(7)]
    full = b.add("d1", samples, now=0.0)
    assert [len(s) for _, s in full] == [3, 3] and b.pending == 1
    assert b.due(now=0.5) == []
    b.add("d2", samples[:1], now=0.6)
    assert b.due(now=1.0) == [("d1", [samples[6]])]
    assert b.due(now=1.6) == [("d2", [samples[0]])]
    assert b.pending == 0
    # everything that went in came out, in order
    flat = [x for _, s in full for x in s]
    assert flat == samples[:6]


def test_status_codes_ride_with_bad_and_uncertain_samples_only() -> None:
    edge = proc()
    sensor_failure, last_usable = 0x808C0000, 0x408F0000
    out = edge.process(
        [
            RawReading("spindle_temp", 1, None, 2, sensor_failure),
            RawReading("energy", 1, 100, 1, last_usable),
            RawReading("parts_total", 1, 5, 0, None),
        ]
    )
    assert out == [
        ("spindle_temp", 1, None, 2, sensor_failure),
        ("energy", 1, 1.0, 1, last_usable),
        ("parts_total", 1, 5, 0),
    ]
    import wire

    envelope = wire.Data(gw="gw1", dev="cnc-1", seq=1, sent=2, samples=out)  # type: ignore[arg-type]
    assert wire.decode(wire.encode(envelope)) == envelope
