"""History backfill: deterministic CSV and envelopes, an exact state timeline, and delivery of every
envelope through a real Mosquitto broker."""

import csv
import dataclasses
import datetime as dt
import io
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest

import wire
from simulators.backfill import Shape, backfill_csv, backfill_mqtt, device_samples, envelopes, gateway_id
from simulators.errors import BackfillError
from simulators.plant import PlantModel
from simulators.plantfile import load_plant
from simulators.scenario import NS_PER_DAY, Plant
from simulators.truth import Truth, truth

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "configs" / "plants" / "test-small.yaml"
NS = 1_000_000_000


def _model(seed: int | None = None, name: str | None = None) -> tuple[PlantModel, int, int]:
    plant: Plant = load_plant(SMALL, seed)
    if name:
        plant = dataclasses.replace(plant, name=name, by_id={})
    model = PlantModel.covering(plant, plant.start_ns, plant.end_ns)
    start = plant.start_ns + 3 * NS_PER_DAY + 5 * 3600 * NS  # not aligned to a day
    return model, start, start + 2 * NS_PER_DAY


def _payloads(seed: int | None = None) -> list[bytes]:
    model, start, end = _model(seed)
    return [wire.encode(env) for _, env in envelopes(model, start, end)]


def test_csv_is_byte_identical_for_a_seed_and_differs_for_another(tmp_path: Path) -> None:
    outputs, counts = [], []
    for i, seed in enumerate((None, None, 8)):
        model, start, end = _model(seed)
        path = tmp_path / f"h{i}.csv"
        counts.append(backfill_csv(model, start, end, path).samples)
        outputs.append(path.read_bytes())
    assert counts[0] > 50_000
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]
    rows = list(csv.reader(io.StringIO(outputs[0].decode())))
    assert rows[0] == ["time", "device", "point", "value", "quality"]
    assert len(rows) == counts[0] + 1
    assert rows[1][0].endswith("Z") and rows[1][0].startswith("2026-03-05T05:00:00.000")
    assert {r[1] for r in rows[1:]} == {"cnc-01", "press-01", "pump-01", "meter-01"}
    assert {r[3] for r in rows[1:] if r[2] == "door_open"} == {"true", "false"}
    assert len({r[3] for r in rows[1:] if r[2] == "state"}) >= 4


def test_payload_sequence_is_identical_for_a_seed_and_differs_for_another() -> None:
    first, second, other = _payloads(), _payloads(), _payloads(8)
    assert first == second
    assert first != other
    decoded = [wire.decode(p) for p in first]
    assert [e.seq for e in decoded] == list(range(len(decoded)))  # type: ignore[union-attr]
    births = [e for e in decoded if isinstance(e, wire.Birth)]
    assert len(births) == 4 and all(isinstance(e, wire.Birth) for e in decoded[:4])
    assert all(b.device.simulated and not b.device.managed for b in births)
    assert all(b.gw == gateway_id("test-small") for b in births)
    strokes = next(p for p in births[1].points if p.name == "strokes")
    assert strokes.wrap == 65536
    data = [e for e in decoded if isinstance(e, wire.Data)]
    assert all(0 < len(e.samples) <= 1000 for e in data)


def test_state_samples_rebuild_the_timeline_exactly() -> None:
    model, start, end = _model()
    for dev in model.device_ids:
        rows = device_samples(model, dev, start, end, Shape())
        states = [(t, v) for name, t, v, _ in rows if name == "state"]
        if not states:
            continue
        # Rebuild: a new interval at every change of value.
        rebuilt = [states[0]]
        for t, v in states[1:]:
            if v != rebuilt[-1][1]:
                rebuilt.append((t, v))
        log = model.events(dev)
        inside = [(max(s, start), name) for s, e, name in log if e > start and s < end]
        merged = [inside[0]]
        for item in inside[1:]:
            if item[1] != merged[-1][1]:
                merged.append(item)
        assert rebuilt == merged, dev
        gaps = np.diff([t for t, _ in states])
        assert gaps.max() <= 300 * NS  # heartbeat


def test_sampled_values_equal_values_at() -> None:
    model, start, end = _model()
    rows = device_samples(model, "pump-01", start, end, Shape(interval_s=600))
    by_time: dict[int, dict[str, object]] = {}
    for name, t, value, quality in rows:
        assert quality == 0
        by_time.setdefault(t, {})[name] = value
    for t in list(by_time)[::17]:
        expected = model.values_at("pump-01", t)
        got = by_time[t]
        for name, got_value in got.items():
            assert got_value == expected[name], (t, name)
        if len(got) > 1:
            assert set(got) == set(expected)


def test_shape_is_validated() -> None:
    with pytest.raises(BackfillError):
        Shape(batch=0)
    with pytest.raises(BackfillError):
        Shape(interval_s=0)


class _Subscriber:
    def __init__(self, host: str, port: int, topic: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.subscribed.wait(30), "subscription not acknowledged"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.retain:  # left over from an earlier run on a shared broker
            return
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.cond.notify_all()

    def wait_for(self, count: int, timeout: float = 120.0) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < count and time.monotonic() < deadline:
                self.cond.wait(1.0)
            return list(self.messages)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_backfill_to_mosquitto_delivers_every_envelope_in_order(mqtt_broker: object) -> None:
    host, port = mqtt_broker.host, mqtt_broker.port  # type: ignore[attr-defined]
    name = f"bf-{uuid.uuid4().hex[:8]}"
    model, start, end = _model(name=name)
    gw = gateway_id(name)
    sub = _Subscriber(host, port, f"pp/v1/+/{gw}/#")
    try:
        counters = backfill_mqtt(model, start, end, f"mqtt://{host}:{port}", Shape(batch=500), window=20)
        expected = [wire.encode(env) for _, env in envelopes(model, start, end, Shape(batch=500))]
        assert counters.envelopes == len(expected) and counters.births == 4
        assert 0 < counters.peak_inflight <= 20
        got = sub.wait_for(len(expected) + 2)
    finally:
        sub.stop()
    status = [p for t, p in got if t.endswith("/$status")]
    assert status == [wire.STATUS_ONLINE, wire.STATUS_OFFLINE]
    payloads = [p for t, p in got if not t.endswith("/$status")]
    assert payloads == expected  # every envelope, in publication order, byte for byte
    decoded = [wire.decode(p) for p in payloads]
    seqs = [e.seq for e in decoded]  # type: ignore[union-attr]
    assert seqs == list(range(len(decoded)))
    assert all(isinstance(e, wire.Birth) for e in decoded[:4])
    assert not any(isinstance(e, wire.Birth) for e in decoded[4:])
    for topic, payload in got:
        if topic.endswith("/$status"):
            continue
        parsed = wire.parse_topic(topic)
        assert parsed.gateway == gw and parsed.site == "site-t"
        assert wire.decode_as(parsed.kind, payload).dev == parsed.device
    assert counters.samples == sum(len(e.samples) for e in decoded if isinstance(e, wire.Data))


def test_backfill_to_an_absent_broker_fails_clearly() -> None:
    from tests.servers import free_port

    model, start, end = _model()
    with pytest.raises(BackfillError, match="cannot reach the MQTT broker"):
        backfill_mqtt(model, start, start + 3600 * NS, f"mqtt://127.0.0.1:{free_port()}", timeout_s=5)
    assert end > start


def test_cli_truth_json_and_backfill_csv(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from simulators.cli import app

    runner = CliRunner()
    args = ["--plant", str(SMALL), "--from", "2026-03-03", "--to", "2026-03-05"]
    result = runner.invoke(app, ["truth", *args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["plant"] == "test-small" and len(doc["days"]) == 4 * 2
    model, _, _ = _model()
    t = truth_of(model, "2026-03-03", "2026-03-05")
    assert doc["kpis"]["cnc-01"]["availability"] == pytest.approx(t.kpis(devices=["cnc-01"])["availability"])
    out = tmp_path / "h.csv"
    result = runner.invoke(app, ["backfill", *args, "--csv", str(out), "--interval", "300"])
    assert result.exit_code == 0, result.output
    assert "points/s" in result.stdout and out.read_text().count("\n") > 1000
    result = runner.invoke(app, ["backfill", *args])
    assert result.exit_code == 2 and "exactly one of --mqtt" in result.output
    result = runner.invoke(app, ["truth", "--plant", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "none.yaml" in result.output


def truth_of(model: PlantModel, start: str, end: str) -> Truth:
    from simulators.scenario import to_ns

    return truth(model, to_ns(dt.date.fromisoformat(start)), to_ns(dt.date.fromisoformat(end)))


def test_scale_stream_is_deterministic_and_bounded_by_the_batch() -> None:
    from simulators.stream import ScaleRun, population, run_scale

    t0 = 1_767_571_200 * NS  # 2026-01-05
    run = ScaleRun(devices=120, start_ns=t0, end_ns=t0 + 1800 * NS, batch_devices=50)
    devices = population(run, 0, 120)
    assert len({d.device_type.type for d in devices}) >= 6
    assert [d.id for d in population(run, 50, 50)] == [d.id for d in devices[50:100]]
    stats = run_scale(run)
    assert stats.devices == 120 and stats.samples > 120 * 30 and stats.envelopes >= 240
    again = run_scale(run)
    assert (again.samples, again.bytes) == (stats.samples, stats.bytes)


def test_scale_stream_to_mosquitto(mqtt_broker: object) -> None:
    from simulators.stream import ScaleRun, run_scale

    host, port = mqtt_broker.host, mqtt_broker.port  # type: ignore[attr-defined]
    sub = _Subscriber(host, port, "pp/v1/+/scale-site-000/#")
    t0 = 1_767_571_200 * NS
    try:
        stats = run_scale(ScaleRun(devices=30, start_ns=t0, end_ns=t0 + 900 * NS), f"mqtt://{host}:{port}", 8)
        got = sub.wait_for(stats.envelopes)
    finally:
        sub.stop()
    assert len(got) == stats.envelopes == 60
    decoded = [wire.decode(p) for _, p in got]
    assert sum(len(e.samples) for e in decoded if isinstance(e, wire.Data)) == stats.samples
