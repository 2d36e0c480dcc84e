"""History backfill: the plant's telemetry as wire v1 envelopes (births first, data batched, `seq`
monotonic) or as long CSV rows. Deterministic: the same plant, seed and range give the same bytes.

Telemetry shape: state points on every change plus a heartbeat, every other point on a fixed grid,
so that a consumer rebuilds the state timeline exactly from the state samples. A plant's delivery
faults (simulators.faults) shape what is sent: withheld state readings, lost heartbeats, a device that
answers no reads, skewed timestamps, and envelopes duplicated, re-delivered or delivered late.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO

import numpy as np

import wire
from devicemodel import births
from devicemodel.devicetype import PointSpec
from infra.progress import ProgressFn
from simulators.errors import BackfillError
from simulators.faults import DeviceFaults
from simulators.plant import PlantModel
from simulators.scenario import SimDevice
from wire.states import CANONICAL_STATES

NS = 1_000_000_000
HOUR = 3600 * NS
SampleRow = tuple[str, int, bool | int | float | str | None, int]


@dataclass(frozen=True)
class Shape:
    """How history is sampled and batched."""

    interval_s: float = 60.0  # counters, energy, analogs, switches, setpoints
    heartbeat_s: float = 300.0  # state points repeat at least this often
    batch: int = 1000  # samples per data envelope (≤ wire.envelope.MAX_SAMPLES)
    chunk_s: int = 86_400  # history is generated a chunk at a time: memory is bounded by it

    def __post_init__(self) -> None:
        if not 0 < self.batch <= 10_000:
            raise BackfillError("batch must be 1..10000 samples per envelope")
        if self.interval_s <= 0 or self.heartbeat_s <= 0 or self.chunk_s <= 0:
            raise BackfillError("interval, heartbeat and chunk must be positive")


def gateway_id(plant_name: str) -> str:
    return f"backfill-{plant_name}"


def birth(device: SimDevice, gw: str, seq: int, sent: int) -> wire.Birth:
    info = births.device_info(
        device.device_type,
        protocol="backfill",
        simulated=True,
        area=device.area,
        line=device.line,
        zero_rate_as_none=False,  # backfill output is pinned byte for byte per seed
    )
    return births.birth(gw, device.id, seq, sent, device.device_type, info)


def _hours(start: int, t: int) -> int:
    """Hours of history covered by [start, t), rounded up: the end of the range is the total."""
    return -(-(t - start) // HOUR)


def _grid(start: int, end: int, step: int) -> np.ndarray:
    first = -(-start // step) * step
    return np.arange(first, end, step, dtype=np.int64)


def _as_python(
    spec_kind: str, dtype: str, scale: float, offset: float, values: np.ndarray
) -> list[bool | int | float | str]:
    if spec_kind == "state":
        return [CANONICAL_STATES[c] for c in values.tolist()]
    if dtype == "bool":
        return [bool(v) for v in values.tolist()]
    if dtype == "string":
        return [str(v) for v in values.tolist()]
    if dtype not in ("float32", "float64") and scale == 1 and offset == 0:
        return list(values.astype(np.int64).tolist())
    return list(values.astype(np.float64).tolist())


def device_samples(model: PlantModel, device_id: str, start: int, end: int, shape: Shape) -> list[SampleRow]:
    """All samples of one device in [start, end), ordered by time then point order."""
    track = model.track(device_id)
    points = track.device.device_type.points
    grid = _grid(start, end, round(shape.interval_s * NS))
    rows: list[SampleRow] = []
    others = [p for p in points if p.kind != "state"]
    if len(grid) and others:
        values = track.sample(grid)
        columns = [_as_python(p.kind, p.dtype, p.scale, p.offset, values[p.name]) for p in others]
        names = [p.name for p in others]
        times = grid.tolist()
        rows = [
            (name, t, column[i], 0)
            for i, t in enumerate(times)
            for name, column in zip(names, columns, strict=True)
        ]
    states = [p for p in points if p.kind == "state"]
    faults = track.device.faults
    if not states:
        return _delivered(faults, rows, points, start, end)
    log = track.log
    changes = log.start[(log.start >= start) & (log.start < end)]
    beats = _grid(start, end, round(shape.heartbeat_s * NS))
    t_state = np.union1d(changes, beats)
    if start not in t_state:
        t_state = np.concatenate([[start], t_state])  # each chunk opens with the state in force
    if faults:
        withheld = faults.inside("state_gap", t_state)
        withheld |= faults.inside("heartbeat_loss", t_state) & ~np.isin(t_state, changes)
        t_state = t_state[~withheld]
    codes = log.state[log.index_at(t_state)].tolist()
    state_rows: list[SampleRow] = [
        (p.name, t, CANONICAL_STATES[c], 0)
        for t, c in zip(t_state.tolist(), codes, strict=True)
        for p in states
    ]
    # States sort before other points at the same instant: a stable sort of two sorted runs (timsort
    # merges them in linear time) keeps point order otherwise.
    state_rows.extend(rows)
    state_rows.sort(key=itemgetter(1))
    return _delivered(faults, state_rows, points, start, end)


def _delivered(
    faults: DeviceFaults, rows: list[SampleRow], points: Sequence[PointSpec], start: int, end: int
) -> list[SampleRow]:
    """Rows as the collector receives them: nothing in a data gap, nothing while the device answers
    no reads (one bad sample per point when that begins, as a gateway reports a failed read),
    timestamps skewed."""
    if not faults:
        return rows
    for s, e in faults.windows("data_gap", end):
        rows = [r for r in rows if not s <= r[1] < e]
    for s, e in faults.windows("unreadable", end):
        rows = [r for r in rows if not s <= r[1] < e]
        if start <= s < end:
            rows += [(p.name, s, None, 2) for p in points]
            rows.sort(key=itemgetter(1))
    skew = faults.skew_ns
    return [(n, t + skew, v, q) for n, t, v, q in rows] if skew else rows


@dataclass
class Counters:
    envelopes: int = 0
    births: int = 0
    samples: int = 0  # distinct samples sent (a duplicate or re-delivery counts once)
    bytes: int = 0
    peak_inflight: int = 0  # most messages awaiting PUBACK at once (bounded by the window)
    duplicated: int = 0  # envelopes sent twice with the same seq (delivery faults)
    duplicated_samples: int = 0
    redelivered: int = 0  # samples sent again in new envelopes (an overlapping re-delivery)
    late: int = 0  # envelopes held back and sent after everything else


def envelopes(
    model: PlantModel,
    start: int,
    end: int,
    shape: Shape = Shape(),
    gw: str | None = None,
    seq0: int = 0,
    counters: Counters | None = None,
    progress: ProgressFn | None = None,
) -> Iterator[tuple[str, wire.Birth | wire.Data]]:
    """(topic, envelope) pairs: every device's birth, then data a chunk at a time; delivery faults
    (duplicates, late and re-delivered envelopes) are counted in `counters`. `progress` hears of
    each chunk done, in hours of history."""
    tally = counters if counters is not None else Counters()
    gw = gw or gateway_id(model.plant.name)
    seq = seq0
    devices = model.plant.devices
    for device in devices:
        yield wire.device_topic(device.site, gw, device.id, "birth"), birth(device, gw, seq, start)
        seq += 1
    chunk = shape.chunk_s * NS
    held: list[tuple[str, str, list[SampleRow], int]] = []  # late envelopes keep the seq they were given
    again: list[tuple[str, str, list[SampleRow]]] = []  # overlapping re-deliveries: new envelopes
    c0 = start
    while c0 < end:
        c1 = min(end, c0 + chunk)
        for device in devices:
            rows = device_samples(model, device.id, c0, c1, shape)
            topic = wire.device_topic(device.site, gw, device.id, "data")
            faults = device.faults
            for i in range(0, len(rows), shape.batch):
                batch = rows[i : i + shape.batch]
                stamps = np.asarray([r[1] for r in batch], dtype=np.int64) - faults.skew_ns
                hit = {k: bool(faults.inside(k, stamps).any()) for k in ("duplicate", "overlap", "late")}
                if hit["overlap"]:
                    again.append((device.id, topic, batch))
                    tally.redelivered += len(batch)
                if hit["late"]:
                    held.append((device.id, topic, batch, seq))
                    tally.late += 1
                    seq += 1
                    continue
                yield topic, wire.Data(gw=gw, dev=device.id, seq=seq, sent=batch[-1][1], samples=batch)
                if hit["duplicate"]:
                    yield topic, wire.Data(gw=gw, dev=device.id, seq=seq, sent=batch[-1][1], samples=batch)
                    tally.duplicated += 1
                    tally.duplicated_samples += len(batch)
                seq += 1
        c0 = c1
        if progress is not None:
            progress("publishing", _hours(start, c1), _hours(start, end), f"{seq - seq0:,} envelopes")
    for dev, topic, batch, late_seq in held:  # delivered after everything else, out of seq order
        yield topic, wire.Data(gw=gw, dev=dev, seq=late_seq, sent=batch[-1][1], samples=batch)
    for dev, topic, batch in again:
        yield topic, wire.Data(gw=gw, dev=dev, seq=seq, sent=batch[-1][1], samples=batch)
        seq += 1


def _iso(ts: np.ndarray) -> list[str]:
    text = np.datetime_as_string(ts.astype("datetime64[ns]").astype("datetime64[ms]"), unit="ms")
    return [f"{s}Z" for s in text.tolist()]


def _csv_text(value: object) -> str:
    if value is None:
        return ""  # a bad-quality sample without a value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str) and any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return str(value)


def write_csv(
    model: PlantModel,
    start: int,
    end: int,
    out: IO[str],
    shape: Shape = Shape(),
    progress: ProgressFn | None = None,
) -> Counters:
    """Long CSV: time (ISO 8601 UTC, ms), device, point, value, quality; rows in envelope order.
    `progress` hears of each chunk written, in hours of history."""
    counters = Counters()
    out.write("time,device,point,value,quality\n")
    chunk = shape.chunk_s * NS
    c0 = start
    while c0 < end:
        c1 = min(end, c0 + chunk)
        for device in model.plant.devices:
            rows = device_samples(model, device.id, c0, c1, shape)
            if not rows:
                continue
            stamps = np.unique(np.asarray([r[1] for r in rows], dtype=np.int64))
            iso = dict(zip(stamps.tolist(), _iso(stamps), strict=True))
            dev = device.id
            plain = (int, float)
            out.write(
                "".join(
                    f"{iso[t]},{dev},{name},{v if type(v) in plain else _csv_text(v)},{q}\n"
                    for name, t, v, q in rows
                )
            )
            counters.samples += len(rows)
        c0 = c1
        if progress is not None:
            progress("writing", _hours(start, c1), _hours(start, end), f"{counters.samples:,} samples")
    return counters


def backfill_csv(
    model: PlantModel,
    start: int,
    end: int,
    path: Path,
    shape: Shape = Shape(),
    progress: ProgressFn | None = None,
) -> Counters:
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            return write_csv(model, start, end, out, shape, progress)
    except OSError as exc:
        raise BackfillError(f"cannot write {path}: {exc.strerror}") from None


def backfill_mqtt(
    model: PlantModel,
    start: int,
    end: int,
    url: str,
    shape: Shape = Shape(),
    window: int = 1000,
    seq0: int = 0,
    timeout_s: float = 60.0,
    progress: ProgressFn | None = None,
) -> Counters:
    """Publish the history at full speed with QoS 1; returns once the broker acknowledged all of it.
    `progress` hears of each chunk published, in hours of history."""
    from infra.mqtt import Will
    from simulators.mqttpub import publisher

    gw = gateway_id(model.plant.name)
    statuses = [wire.status_topic(site, gw) for site in model.plant.sites]
    counters = Counters()
    will = Will(statuses[0], wire.STATUS_OFFLINE)
    with publisher(url, gw, window=window, will=will, timeout_s=timeout_s) as pub:
        for topic in statuses:
            pub.publish(topic, wire.STATUS_ONLINE, retain=True)
        for topic, envelope in envelopes(model, start, end, shape, gw, seq0, counters, progress):
            payload = wire.encode(envelope)
            is_birth = isinstance(envelope, wire.Birth)
            pub.publish(topic, payload, retain=is_birth)
            counters.envelopes += 1
            counters.bytes += len(payload)
            if isinstance(envelope, wire.Data):
                counters.samples += len(envelope.samples)
            else:
                counters.births += 1
        for topic in statuses:
            pub.publish(topic, wire.STATUS_OFFLINE, retain=True)
    counters.samples -= counters.duplicated_samples + counters.redelivered
    counters.peak_inflight = pub.peak_inflight
    return counters
