"""Edge processing and batching (pure): scaling, states, deadbands, heartbeat, size/age batching."""

from __future__ import annotations

from adapters.base import RawReading
from adapters.devicetype import load_device_type
from gateway.batcher import Batcher
from gateway.config import EdgeConfig, EdgeSettings
from gateway.edge import EdgeProcessor, Sample
from tests.gateway.helpers import CNC, ROOT

S = 1_000_000_000
CNC_TYPE = load_device_type(CNC)


def proc(**points: EdgeSettings) -> EdgeProcessor:
    return EdgeProcessor(CNC_TYPE, EdgeConfig(points=points))


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
    out = EdgeProcessor(press, EdgeConfig()).process([RawReading("state", 5, 0)])  # press has no code 0
    assert out == [("state", 5, "unknown_stop", 1)]


def test_absolute_deadband_and_heartbeat() -> None:
    edge = proc(spindle_speed=EdgeSettings(deadband_abs=10, max_silence_s=5))
    sent = []
    for i, value in enumerate([1000.0, 1005.0, 1009.9, 1010.1, 1015.0, 1021.0]):
        sent += edge.process([RawReading("spindle_speed", i * S, value)])
    assert [v for _, _, v, _ in sent] == [1000.0, 1010.1, 1021.0]
    # unchanged value: nothing until max_silence has passed since the last report, then a heartbeat
    assert edge.process([RawReading("spindle_speed", 9 * S, 1021.0)]) == []
    assert edge.process([RawReading("spindle_speed", 10 * S, 1021.0)]) == [
        ("spindle_speed", 10 * S, 1021.0, 0)
    ]
    assert edge.suppressed == 4


def test_percent_deadband_and_quality_change() -> None:
    edge = proc(spindle_speed=EdgeSettings(deadband_pct=1.0))
    assert edge.process([RawReading("spindle_speed", 0, 1000.0)])
    assert edge.process([RawReading("spindle_speed", 1, 1009.0)]) == []  # 0.9 % of 1000
    assert edge.process([RawReading("spindle_speed", 2, 1011.0)])  # 1.1 %
    # a quality change is always reported, whatever the value
    assert edge.process([RawReading("spindle_speed", 3, 1011.0, 1)]) == [("spindle_speed", 3, 1011.0, 1)]
    assert edge.process([RawReading("spindle_speed", 4, None, 2)]) == [("spindle_speed", 4, None, 2)]


def test_states_report_every_change_and_unknown_points_are_counted() -> None:
    edge = proc()
    codes = [1, 1, 6, 6, 1]
    out = [s for i, c in enumerate(codes) for s in edge.process([RawReading("state", i, c)])]
    assert [v for _, _, v, _ in out] == ["running", "unplanned_stop", "running"]
    assert edge.process([RawReading("no_such_point", 0, 1)]) == []
    assert edge.unknown_points == 1


def test_forget_reports_everything_afresh() -> None:
    edge = proc()
    assert edge.process([RawReading("state", 0, 1)])
    assert not edge.process([RawReading("state", 1, 1)])
    edge.forget()
    assert edge.process([RawReading("state", 2, 1)])


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
