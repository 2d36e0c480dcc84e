"""The plant model: per device a seeded state log, and every point's value at any time (pure numpy).

Production and energy accumulate as integers per millisecond, so counters, totals and ground truth
agree exactly: units = work // work_per_unit, where work accrues at the state's speed (per mille).
"""

# layering: pure

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from devicemodel.devicetype import PointSpec
from simulators.errors import SimError
from simulators.generate import (
    CORRECTIVE,
    MS,
    REDUCED,
    RUNNING,
    UNPLANNED,
    device_seed,
    generate,
    params_timeline,
)
from simulators.scenario import Plant, SimDevice
from simulators.signals import gaussian, key_of, quantize, wrap_raw
from wire.states import CANONICAL_STATES

Value = bool | int | float | str
J_PER_KWH_MS = 3_600_000_000  # W·ms per kWh


@dataclass(frozen=True)
class StateLog:
    """Contiguous state intervals [start, end) in ns with canonical state codes, plus event times.

    An interval is split where an intervention takes effect, so two neighbours may share a state."""

    start: np.ndarray  # int64
    end: np.ndarray  # int64
    state: np.ndarray  # int8, index into CANONICAL_STATES
    failures: np.ndarray  # int64 ns: a failure began (unplanned_stop)
    maintenance: np.ndarray  # int64 ns: a corrective or planned maintenance began

    def __len__(self) -> int:
        return len(self.start)

    def __iter__(self) -> Iterator[tuple[int, int, str]]:
        for s, e, c in zip(self.start.tolist(), self.end.tolist(), self.state.tolist(), strict=True):
            yield s, e, CANONICAL_STATES[c]

    def index_at(self, t_ns: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.start, t_ns, side="right") - 1, 0, len(self.start) - 1)


def state_codes(point: PointSpec) -> dict[str, int]:
    """Canonical state → the first device code that maps to it (what a device register shows)."""
    codes: dict[str, int] = {}
    for code, name in sorted((point.states or {}).items()):
        codes.setdefault(name, code)
    return codes


class DeviceTrack:
    """One device's log with cumulative production, energy and signal states at interval starts."""

    def __init__(self, device: SimDevice, seed: int, start_ns: int, end_ns: int) -> None:
        self.device = device
        self.seed = seed
        raw = generate(device, seed, start_ns, end_ns)
        timeline = params_timeline(device)
        starts = np.asarray(raw.starts, dtype=np.int64)
        # Split intervals at parameter changes so that rates are constant within an interval.
        cuts = sorted({p.from_ns for p in timeline[1:] if starts[0] < p.from_ns < end_ns - end_ns % MS})
        states = np.asarray(raw.states, dtype=np.int8)
        if cuts:
            idx = np.searchsorted(starts, cuts, side="right") - 1
            keep = ~np.isin(cuts, starts)
            starts = np.insert(starts, idx[keep] + 1, np.asarray(cuts)[keep])
            states = np.insert(states, idx[keep] + 1, states[idx[keep]])
        failures, maintenance = np.asarray(raw.failures, np.int64), np.asarray(raw.maintenance, np.int64)
        self.steady = device.faults.steady(end_ns)
        self.end_ns = end_ns
        if self.steady:
            starts, states = _hold(starts, states, self.steady, end_ns - end_ns % MS)
            failures, maintenance = _episodes(starts, states)
        ends = np.append(starts[1:], end_ns - end_ns % MS)
        self.log = StateLog(starts, ends, states, failures, maintenance)
        pidx = np.searchsorted([p.from_ns for p in timeline], starts, side="right") - 1
        sim = device.sim
        dur_ms = (ends - starts) // MS
        speed = round(1000 * sim.speed_factor)
        self.work_rate = np.where(
            states == RUNNING, speed, np.where(states == REDUCED, round(speed * sim.reduced_speed_factor), 0)
        ).astype(np.int64)
        yields = np.asarray([p.yield_permille for p in timeline], np.int64)[pidx]
        self.good_rate = self.work_rate * yields
        power = np.asarray([p.power_w for p in timeline], np.int64)
        self.power_w = power[pidx, states.astype(np.int64)]
        self.work_cum = _cum(self.work_rate * dur_ms)
        self.good_cum = _cum(self.good_rate * dur_ms)
        self.energy_cum = _cum(self.power_w * dur_ms)
        rng = np.random.default_rng([*device_seed(seed, device.id), 1])
        self.counter_start = int(rng.integers(0, sim.counter_start_max)) if sim.counter_start_max else 0
        self.energy_start = int(rng.uniform(0, sim.energy_start_max_kwh) * 1000) * (J_PER_KWH_MS // 1000)
        counters = [p for p in device.device_type.points if p.kind == "counter"]
        self.total_point = sim.total_counter or (counters[0].name if counters else None)
        self.good_point = sim.good_counter or (counters[1].name if len(counters) > 1 else None)
        spec = device.device_type.by_name.get(self.total_point) if self.total_point else None
        rate = device.device_type.ideal_rate_per_hour / (spec.scale if spec else 1.0)
        # Work (per-mille speed × ms) per raw count of the total counter.
        self.work_per_unit = max(1, round(3_600_000 * 1000 / rate)) if rate > 0 else 0
        self.unit_scale = spec.scale if spec else 1.0

    def _at(self, t_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log = self.log
        idx = log.index_at(t_ns)
        t = np.clip(t_ns, log.start[0], log.end[-1])
        return idx, (t // MS) - (log.start[idx] // MS)

    def units(self, t_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw (total, good) counts produced since the model start, at each time."""
        if not self.work_per_unit:
            zero = np.zeros(len(t_ns), np.int64)
            return zero, zero
        idx, dt = self._at(t_ns)
        total = (self.work_cum[idx] + self.work_rate[idx] * dt) // self.work_per_unit
        good = (self.good_cum[idx] + self.good_rate[idx] * dt) // (self.work_per_unit * 1000)
        return total, good

    def energy_wms(self, t_ns: np.ndarray) -> np.ndarray:
        idx, dt = self._at(t_ns)
        return self.energy_cum[idx] + self.power_w[idx] * dt

    def state_time(self, t_ns: np.ndarray) -> np.ndarray:
        """ns spent in each canonical state from the model start to each time: shape (len(t), states)."""
        log = self.log
        idx = log.index_at(t_ns)
        t = np.clip(t_ns, log.start[0], log.end[-1])
        out = np.zeros((len(t_ns), len(CANONICAL_STATES)), np.int64)
        dur = log.end - log.start
        for code in np.unique(log.state).tolist():
            cum = _cum(np.where(log.state == code, dur, 0))
            out[:, code] = cum[idx] + np.where(log.state[idx] == code, t - log.start[idx], 0)
        return out

    @cached_property
    def _signal_starts(self) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
        """Per analog signal: level per interval, value at each interval start, tau (ns)."""
        out: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        log = self.log
        for name, sig in self.device.sim.signals.items():
            if sig.from_power is not None:
                levels = self.power_w.astype(np.float64) / 1000.0 * sig.from_power
            else:
                table = np.asarray([sig.level(s) for s in CANONICAL_STATES])
                levels = table[log.state.astype(np.int64)]
            tau = sig.tau_minutes * 60e9
            starts = levels.copy()
            if tau > 0:
                decay = np.exp(-(log.end - log.start) / tau).tolist()
                lv = levels.tolist()
                v = lv[0]
                vals = [v]
                for i in range(len(lv) - 1):
                    v = lv[i] + (v - lv[i]) * decay[i]
                    vals.append(v)
                starts = np.asarray(vals)
            out[name] = (levels, starts, tau)
        return out

    def analog(self, name: str, t_ns: np.ndarray) -> np.ndarray:
        value = self._analog(name, t_ns)
        for s, e in self.device.faults.stuck(name, self.end_ns):  # a frozen sensor shows its value at s
            frozen = self._analog(name, np.asarray([s], dtype=np.int64))[0]
            value = np.where((t_ns >= s) & (t_ns < e), frozen, value)
        return value

    def _analog(self, name: str, t_ns: np.ndarray) -> np.ndarray:
        sig = self.device.sim.signals.get(name)
        if sig is None:
            return np.zeros(len(t_ns))
        levels, starts, tau = self._signal_starts[name]
        idx = self.log.index_at(t_ns)
        value = levels[idx]
        if tau > 0:
            age = np.maximum(t_ns - self.log.start[idx], 0)
            value = value + (starts[idx] - value) * np.exp(-age / tau)
        if sig.noise:
            value = value + sig.noise * gaussian(key_of(self.seed, self.device.id, name), t_ns)
        for s, e, _ in self.steady:  # a steady stretch: the state's level exactly, without noise
            value = np.where((t_ns >= s) & (t_ns < e), levels[idx], value)
        return value

    def _counts(self, point: PointSpec, raw: np.ndarray, t_ns: np.ndarray) -> np.ndarray:
        """What a counter register shows: raw counts with the device's register faults applied."""
        faults = self.device.faults
        if not faults:
            return raw
        good = point.name == self.good_point

        def count_at(x: int) -> int:
            units = self.units(np.asarray([x], dtype=np.int64))
            return int((units[1] if good else units[0])[0]) + self.counter_start

        bits = {"uint16": 16, "uint32": 32}.get(point.dtype)
        return faults.shown(point.name, t_ns, raw, count_at, 1 << bits if bits else None)

    def sample(self, t_ns: np.ndarray) -> dict[str, np.ndarray]:
        """Every point at each time: state points as canonical codes (int8), switches as bool,
        strings as str, the rest as engineering float64 quantised like the register."""
        t_ns = np.asarray(t_ns, dtype=np.int64)
        device_type, sim = self.device.device_type, self.device.sim
        state = self.log.state[self.log.index_at(t_ns)]
        out: dict[str, np.ndarray] = {}
        units: tuple[np.ndarray, np.ndarray] | None = None
        energy: np.ndarray | None = None
        for p in device_type.points:
            if p.kind == "state":
                out[p.name] = state
            elif p.kind == "switch":
                on = [CANONICAL_STATES.index(s) for s in sim.switches.get(p.name, [])]
                out[p.name] = np.isin(state, on)
            elif p.kind == "counter":
                units = units if units is not None else self.units(t_ns)
                raw = units[1] if p.name == self.good_point else units[0]
                out[p.name] = wrap_raw(p, self._counts(p, raw + self.counter_start, t_ns))
            elif p.kind == "energy":
                energy = energy if energy is not None else self.energy_wms(t_ns)
                if p.dtype in ("float32", "float64"):
                    kwh = (energy + self.energy_start) / J_PER_KWH_MS
                    out[p.name] = quantize(p, kwh)
                else:
                    per_raw = J_PER_KWH_MS * p.scale
                    out[p.name] = wrap_raw(
                        p, np.floor(energy / per_raw).astype(np.int64) + self.counter_start
                    )
            elif p.dtype == "string":
                out[p.name] = np.full(len(t_ns), sim.texts.get(p.name, ""), dtype=object)
            elif p.dtype == "bool":
                out[p.name] = np.full(len(t_ns), bool(sim.setpoints.get(p.name, 0)))
            elif p.kind == "setpoint" or p.name in sim.setpoints:
                out[p.name] = quantize(p, np.full(len(t_ns), sim.setpoints.get(p.name, 0.0)))
            else:
                out[p.name] = quantize(p, self.analog(p.name, t_ns))
        return out


def _hold(
    starts: np.ndarray, states: np.ndarray, steady: list[tuple[int, int, str]], end_ns: int
) -> tuple[np.ndarray, np.ndarray]:
    """The log with each steady window [s, e) held in one state (its interior changes removed)."""
    for s, e, state in steady:
        s, e = max(s - s % MS, int(starts[0])), min(e - e % MS, end_ns)
        if e <= s:
            continue
        then = states[np.searchsorted(starts, e, side="right") - 1]  # in force when the window ends
        before, after = starts < s, starts > e
        tail = ([e], [then]) if e < end_ns else ([], [])
        starts = np.concatenate([starts[before], [s], tail[0], starts[after]]).astype(np.int64)
        states = np.concatenate(
            [states[before], [CANONICAL_STATES.index(state)], tail[1], states[after]]
        ).astype(np.int8)
    return starts, states


def _episodes(starts: np.ndarray, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Failure and maintenance event times of a log: entries into the group from a state outside it,
    looking back past planned stops (a repair resuming after a shift break is one episode)."""
    planned = CANONICAL_STATES.index("planned_stop")
    out = []
    for group in (
        ("unplanned_stop", "corrective_maintenance"),
        ("planned_maintenance", "corrective_maintenance"),
    ):
        codes = {CANONICAL_STATES.index(g) for g in group}
        times, previous = [], None
        for t, c in zip(starts.tolist(), states.tolist(), strict=True):
            if c in codes and previous is not None and previous not in codes:
                times.append(t)
            if c != planned:
                previous = c
        out.append(np.asarray(times, dtype=np.int64))
    return out[0], out[1]


def _cum(x: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sum: the total before each element."""
    out = np.zeros(len(x), dtype=np.int64)
    np.cumsum(x[:-1], out=out[1:])
    return out


class PlantModel:
    """Pure, seeded and deterministic: the same plant, seed and range give the same values.

    Each device's history depends only on (seed, device id, scenario, range start), never on the
    other devices. Outside [start_ns, end_ns) values hold at the nearest end."""

    def __init__(self, plant: Plant, start_ns: int, end_ns: int) -> None:
        if end_ns <= start_ns:
            raise SimError("the model range is empty: end must be after start")
        self.plant = plant
        self.start_ns, self.end_ns = start_ns, end_ns
        self._tracks: dict[str, DeviceTrack] = {}

    @classmethod
    def covering(cls, plant: Plant, start_ns: int, end_ns: int) -> "PlantModel":
        """A model over the scenario's own range, widened to cover [start_ns, end_ns): every query of
        one plant and seed then reads the same history, whatever range it asks for."""
        return cls(plant, min(plant.start_ns, start_ns), max(plant.end_ns, end_ns))

    @property
    def device_ids(self) -> list[str]:
        return [d.id for d in self.plant.devices]

    def track(self, device_id: str) -> DeviceTrack:
        track = self._tracks.get(device_id)
        if track is None:
            device = self.plant.device(device_id)
            track = DeviceTrack(device, self.plant.seed, self.start_ns, self.end_ns)
            self._tracks[device_id] = track
        return track

    def events(self, device_id: str) -> StateLog:
        return self.track(device_id).log

    def sample(self, device_id: str, t_ns: np.ndarray) -> dict[str, np.ndarray]:
        return self.track(device_id).sample(t_ns)

    def values_at(self, device_id: str, t_ns: int) -> dict[str, Value]:
        """Engineering value of every point at time t (states as canonical names)."""
        track = self.track(device_id)
        arrays = track.sample(np.asarray([t_ns], dtype=np.int64))
        out: dict[str, Value] = {}
        for p in track.device.device_type.points:
            v = arrays[p.name][0]
            if p.kind == "state":
                out[p.name] = CANONICAL_STATES[int(v)]
            elif p.dtype == "bool":
                out[p.name] = bool(v)
            elif p.dtype == "string":
                out[p.name] = str(v)
            elif p.dtype in ("float32", "float64") or p.scale != 1 or p.offset != 0:
                out[p.name] = float(v)
            else:
                out[p.name] = int(v)
        return out


__all__ = ["CORRECTIVE", "UNPLANNED", "DeviceTrack", "PlantModel", "StateLog", "state_codes"]
