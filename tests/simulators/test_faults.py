"""Plant faults with exact ground truth: the model, the registers, the delivered telemetry, truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

import wire
from simulators.backfill import Counters, Shape, device_samples, envelopes
from simulators.errors import ScenarioError
from simulators.faults import moment_ns
from simulators.plant import PlantModel
from simulators.plantfile import load_plant, parse_fault
from simulators.truth import fault_days, truth, truth_within
from wire.states import CANONICAL_STATES

H = 3_600 * 10**9
DAY = 24 * H


def _model(*faults: str) -> PlantModel:
    plant = load_plant("test-small", faults=[parse_fault(f) for f in faults])
    return PlantModel(plant, plant.start_ns, plant.end_ns)


def at(text: str) -> int:
    return moment_ns(dt.datetime.fromisoformat(text))


def test_bad_faults_name_the_flag_or_the_field(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="--fault"):
        parse_fault("{kind: meltdown}")
    with pytest.raises(ScenarioError, match=r"faults\.0\.devices: no such device nope"):
        load_plant("test-small", faults=[parse_fault("{kind: clock_skew, devices: [nope], seconds: 3}")])
    src = Path(__file__).resolve().parents[2] / "configs" / "plants" / "test-small.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        src.read_text().replace("devices_dir: ../devices", f"devices_dir: {src.parent.parent / 'devices'}")
        + "faults:\n  - {kind: state_gap, from: 2026-03-03, hours: -1}\n"
    )
    with pytest.raises(ScenarioError, match=r"bad\.yaml.*faults"):
        load_plant(bad)


def test_a_steady_stretch_holds_one_state_and_constant_values_and_truth_follows() -> None:
    clean = _model()
    model = _model("{kind: steady, devices: [cnc-01], from: 2026-03-03T05:00, hours: 10, state: running}")
    s, e = at("2026-03-03T05:00"), at("2026-03-03T15:00")
    log = model.events("cnc-01")
    assert [CANONICAL_STATES[c] for c in log.state[(log.start >= s) & (log.start < e)]] == ["running"]
    values = model.sample("cnc-01", np.arange(s, e, 60 * 10**9, dtype=np.int64))
    for name in ("state", "spindle_speed", "spindle_temp", "door_open", "alarm_active"):
        assert len(np.unique(values[name])) == 1, name
    assert (
        np.all(np.diff(values["parts_total"]) >= 0) and values["parts_total"][-1] > values["parts_total"][0]
    )
    known = truth(model, model.start_ns, model.end_ns)
    day = (s - model.start_ns) // DAY
    i = known.devices.index("cnc-01")
    running = known.state_ns[i, day, CANONICAL_STATES.index("running")]
    assert running >= 10 * H  # the whole window runs, and truth says so
    # the other devices and the days around are untouched
    base = truth(clean, clean.start_ns, clean.end_ns)
    assert np.array_equal(known.state_ns[i, day + 2 :], base.state_ns[i, day + 2 :])
    assert np.array_equal(known.state_ns[i + 1 :], base.state_ns[i + 1 :])
    # failures are the log's entries into a failure state: none begins inside the window
    assert not np.any((log.failures >= s) & (log.failures < e))


def test_register_faults_change_what_the_device_shows_never_what_it_made() -> None:
    clean = _model()
    model = _model(
        "{kind: counter_reset, devices: [cnc-01], at: 2026-03-04T12:00, points: [parts_total]}",
        "{kind: back_step, devices: [cnc-01], at: 2026-03-05T12:00, by: 48812, hours: 1,"
        " points: [parts_good]}",
        "{kind: jump, devices: [press-01], at: 2026-03-05T12:00, by: 30000, points: [strokes]}",
        "{kind: wrap, devices: [pump-01], at: 2026-03-06T12:00}",
    )
    t = np.array([at("2026-03-04T11:59"), at("2026-03-04T12:00"), at("2026-03-04T12:30")], dtype=np.int64)
    shown, real = model.sample("cnc-01", t), clean.sample("cnc-01", t)
    assert (
        shown["parts_total"][1] == 0
        and shown["parts_total"][2] == real["parts_total"][2] - real["parts_total"][1]
    )
    assert np.array_equal(shown["parts_good"], real["parts_good"])  # only the named point
    t = np.array([at("2026-03-05T11:59"), at("2026-03-05T12:00"), at("2026-03-05T13:00")], dtype=np.int64)
    shown, real = model.sample("cnc-01", t), clean.sample("cnc-01", t)
    assert (real["parts_good"] - shown["parts_good"]).tolist() == [0, 48812, 0]  # back for one hour
    press = model.sample("press-01", t)["strokes"] - clean.sample("press-01", t)["strokes"]
    assert press.tolist()[0] == 0 and all(v % 2**16 == 30000 for v in press.tolist()[1:])
    counter = next(p for p in model.plant.device("pump-01").device_type.points if p.kind == "counter")
    t = np.array([at("2026-03-06T11:00"), at("2026-03-06T12:00")], dtype=np.int64)
    shown_pump = model.sample("pump-01", t)[counter.name]
    assert counter.wrap is not None
    assert shown_pump[1] == 0 and shown_pump[0] > 0.99 * counter.wrap  # the register wraps exactly then
    assert truth(model, model.start_ns, model.end_ns).total_raw.tolist() == (
        truth(clean, clean.start_ns, clean.end_ns).total_raw.tolist()
    )


def test_delivery_faults_shape_the_backfilled_telemetry() -> None:
    model = _model(
        "{kind: state_gap, devices: [cnc-01], from: 2026-03-03T06:00, hours: 3, every_days: 1}",
        "{kind: heartbeat_loss, devices: [press-01], from: 2026-03-03T00:00, hours: 24}",
        "{kind: unreadable, devices: [pump-01], from: 2026-03-03T08:00, hours: 2}",
        "{kind: clock_skew, devices: [meter-01], seconds: 90}",
    )
    clean = _model()
    day0, day1 = at("2026-03-03T00:00"), at("2026-03-04T00:00")
    shape = Shape(interval_s=60, heartbeat_s=300)

    def rows(m: PlantModel, dev: str) -> list[tuple[str, int, object, int]]:
        return device_samples(m, dev, day0, day1, shape)

    hours = [(t - day0) / H for n, t, _, _ in rows(model, "cnc-01") if n == "state"]
    assert hours and not any(6 <= h < 9 for h in hours)
    assert sum(1 for n, t, _, _ in rows(model, "cnc-01") if n != "state") == sum(
        1 for n, t, _, _ in rows(clean, "cnc-01") if n != "state"
    )  # counters keep coming
    log = model.events("press-01")
    changes = set(log.start[(log.start >= day0) & (log.start < day1)].tolist())
    assert {t for n, t, _, _ in rows(model, "press-01") if n == "state"} <= changes | {day0}
    pump = rows(model, "pump-01")
    inside = [r for r in pump if at("2026-03-03T08:00") <= r[1] < at("2026-03-03T10:00")]
    assert inside and all(r[1] == at("2026-03-03T08:00") and r[2] is None and r[3] == 2 for r in inside)
    skewed, plain = rows(model, "meter-01"), rows(clean, "meter-01")
    assert [r[1] - 90 * 10**9 for r in skewed] == [r[1] for r in plain]


def test_duplicated_late_and_redelivered_envelopes_are_counted() -> None:
    model = _model(
        "{kind: duplicate, devices: [cnc-01], from: 2026-03-03T00:00, hours: 6}",
        "{kind: late, devices: [press-01], from: 2026-03-03T00:00, hours: 6}",
        "{kind: overlap, devices: [pump-01], from: 2026-03-03T00:00, hours: 6}",
    )
    start, end = at("2026-03-03T00:00"), at("2026-03-04T00:00")
    shape = Shape(interval_s=60, batch=200)
    tally = Counters()
    got = list(envelopes(model, start, end, shape, counters=tally))
    data = [e for _, e in got if isinstance(e, wire.Data)]
    seqs = [e.seq for e in data]
    assert tally.duplicated > 0 and len(seqs) - len(set(seqs)) == tally.duplicated
    late = [e for e in data if e.dev == "press-01" and e.samples[0][1] < start + 6 * H]
    assert len(late) == tally.late > 0
    position = {id(e): i for i, e in enumerate(data)}
    later = [e for e in data if e.dev == "meter-01" and e.seq > max(x.seq for x in late)]
    assert later and min(position[id(e)] for e in late) > max(position[id(e)] for e in later)
    # sent after everything else, with the seq it was given: out of seq order
    pump = [s for e in data if e.dev == "pump-01" for s in e.samples]
    assert len(pump) - len(set(pump)) == tally.redelivered > 0


def test_truth_within_the_covered_time_and_the_days_each_fault_touches() -> None:
    model = _model(
        "{kind: state_gap, devices: [cnc-01], from: 2026-03-03T06:00, hours: 3}",
        "{kind: back_step, devices: [press-01], at: 2026-03-05T12:00, by: 5}",
    )
    start, end = model.start_ns, model.end_ns
    whole = truth(model, start, end)
    everything = truth_within(model, start, end, {d: [(start, end)] for d in whole.devices})
    assert np.array_equal(everything.state_ns, whole.state_ns)
    assert (
        np.array_equal(everything.good_raw, whole.good_raw)
        and everything.failures.sum() == whole.failures.sum()
    )
    cut = at("2026-03-03T06:00")
    halves = [truth_within(model, start, end, {"cnc-01": [w]}) for w in ((start, cut), (cut, end))]
    i = whole.devices.index("cnc-01")
    nd = CANONICAL_STATES.index("no_data")  # the uncovered rest of each day
    both = halves[0].state_ns[i] + halves[1].state_ns[i]
    assert np.array_equal(np.delete(both, nd, axis=1), np.delete(whole.state_ns[i], nd, axis=1))
    assert halves[0].state_ns[i].sum(axis=1).tolist() == [DAY] * len(whole.days)
    assert np.array_equal(halves[0].energy_wms[i] + halves[1].energy_wms[i], whole.energy_wms[i])
    assert halves[0].good_raw[i + 1 :].sum() == 0  # devices not named: nothing
    days = fault_days(model, start, end)
    assert days["state_gap"].sum() == 1 and days["state_gap"][i, 1]
    assert days["back_step"].sum() == 1 and days["back_step"][whole.devices.index("press-01"), 3]


async def test_served_devices_answer_connections_but_not_reads_and_carry_their_clock_skew() -> None:
    from asyncua import Client, ua
    from pymodbus.client import AsyncModbusTcpClient

    from simulators.serve_cli import build_source
    from simulators.servers.modbus import SimModbusServer
    from simulators.servers.opcua import SimOpcUaServer, datetime_to_ns, node_id

    faults = [
        "{kind: unreadable, devices: [cnc-01], from: 2026-03-03T08:00, hours: 1}",
        "{kind: clock_skew, devices: [press-01], seconds: 90}",
    ]
    source, t0 = build_source("test-small", None, "2026-03-03T08:10:00", 1.0, faults)
    modbus = SimModbusServer(source, port=0, t0_ns=t0)
    opc = SimOpcUaServer(source, port=0, t0_ns=t0)
    await modbus.start()
    await opc.start()
    try:
        client = AsyncModbusTcpClient("127.0.0.1", port=modbus.port, timeout=5, retries=0)
        assert await client.connect()
        try:  # the connection and the other units work; every read of the unreadable one fails
            for dev, fails in (("cnc-01", True), ("press-01", False)):
                device = source.plant.device(dev)
                address = device.device_type.by_name["state"].modbus
                assert address is not None and address.table in ("holding", "input")
                read = (
                    client.read_holding_registers
                    if address.table == "holding"
                    else client.read_input_registers
                )
                got = await read(address.address, count=1, device_id=device.unit_id)
                assert got.isError() == fails and (not fails or got.exception_code == 4), dev
        finally:
            client.close()
        async with Client(opc.endpoint, timeout=10) as ua_client:
            assert (await ua_client.nodes.server_state.read_value()) == ua.ServerState.Running  # a ping works
            idx = (await ua_client.get_namespace_array()).index(opc.namespace_uri)
            ids = {d: node_id(opc.node_ids(d)["state"].split(";s=")[1], idx) for d in ("cnc-01", "press-01")}
            unreadable = await ua_client.get_node(ids["cnc-01"]).read_data_value(raise_on_bad_status=False)
            assert unreadable.StatusCode is not None and unreadable.StatusCode.is_bad()
            skewed = await ua_client.get_node(ids["press-01"]).read_data_value()
            assert skewed.SourceTimestamp is not None
            # stamped when served (at t0 or later, never after now) plus the device clock's 90 s
            assert t0 <= datetime_to_ns(skewed.SourceTimestamp) - 90 * 10**9 <= opc.model_ns
    finally:
        await modbus.stop()
        await opc.close()


def test_a_stuck_sensor_and_a_data_gap_change_only_what_they_name() -> None:
    clean = _model()
    model = _model(
        "{kind: stuck, devices: [pump-01], points: [discharge_pressure], from: 2026-03-03T12:00, hours: 2}",
        "{kind: data_gap, devices: [press-01], from: 2026-03-03T08:00, hours: 3}",
    )
    s, e = at("2026-03-03T12:00"), at("2026-03-03T14:00")
    t = np.arange(s - H, e + H, 60 * 10**9, dtype=np.int64)
    shown, real = model.sample("pump-01", t), clean.sample("pump-01", t)
    frozen = (t >= s) & (t < e)
    assert np.all(shown["discharge_pressure"][frozen] == real["discharge_pressure"][t == s][0])
    assert np.array_equal(shown["discharge_pressure"][~frozen], real["discharge_pressure"][~frozen])
    for name in ("flow", "bearing_temp", "volume_total"):  # the other sensors keep measuring
        assert np.array_equal(shown[name], real[name]), name
    day0, day1 = at("2026-03-03T00:00"), at("2026-03-04T00:00")
    shape = Shape(interval_s=60, heartbeat_s=300)
    gap = device_samples(model, "press-01", day0, day1, shape)
    full = device_samples(clean, "press-01", day0, day1, shape)
    hidden = [r for r in full if at("2026-03-03T08:00") <= r[1] < at("2026-03-03T11:00")]
    assert hidden and gap == [r for r in full if r not in hidden]
    assert truth(model, model.start_ns, model.end_ns).total_raw.tolist() == (
        truth(clean, clean.start_ns, clean.end_ns).total_raw.tolist()
    )
    with pytest.raises(ScenarioError, match=r"faults\.0\.points: pump-01 has no analog point volume_total"):
        _model("{kind: stuck, devices: [pump-01], points: [volume_total], from: 2026-03-03, hours: 1}")
