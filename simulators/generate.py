"""Discrete-event generation of one machine's state log over its shift calendar (pure, seeded).

Running time ends at the first of several competing exponential clocks (failure, minor stop, idle,
reduced speed) or when a setup is due; each clock is memoryless, so it is drawn afresh every time
the machine starts running. Times are whole milliseconds so integer production and energy sums are
exact.
"""

# layering: pure

import bisect
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulators.scenario import SimDevice, to_ns
from simulators.simconfig import SimulationSpec
from wire.states import CANONICAL_STATES, STATE_CODES

MS = 1_000_000  # ns
HOUR_MS = 3_600_000
RUNNING, REDUCED, SETUP, IDLE = (STATE_CODES[s] for s in ("running", "reduced_speed", "setup", "idle"))
PLANNED_STOP, PLANNED_MAINT = STATE_CODES["planned_stop"], STATE_CODES["planned_maintenance"]
UNPLANNED, CORRECTIVE, MINOR = (
    STATE_CODES[s] for s in ("unplanned_stop", "corrective_maintenance", "minor_stop")
)
N_STATES = len(CANONICAL_STATES)


@dataclass(frozen=True)
class Params:
    """Simulation parameters in force from `from_ns` on (after the interventions up to then)."""

    from_ns: int
    mtbf_h: float | None
    mttr_h: float
    minor_rate: float
    idle_rate: float  # idle episodes per running hour
    reduced_rate: float
    setup_min: float
    yield_permille: int
    power_w: tuple[int, ...]  # by canonical state code


def device_seed(seed: int, device_id: str) -> list[int]:
    """Per-device seed: independent of which other devices are generated alongside."""
    return [seed & 0xFFFFFFFF, zlib.crc32(device_id.encode())]


def params_timeline(device: SimDevice) -> list[Params]:
    sim = device.sim
    f = [1.0] * 7  # mtbf, mttr, minor stops, idle, setup, idle power, power
    pp = 0.0
    out = [_params(sim, 0, *f, yield_pp=pp)]
    for iv in sorted(device.interventions, key=lambda i: i.from_):
        changes = (iv.mtbf, iv.mttr, iv.minor_stops, iv.idle, iv.setup, iv.idle_power, iv.power)
        f = [a * b for a, b in zip(f, changes, strict=True)]
        pp += iv.yield_pp
        out.append(_params(sim, to_ns(iv.from_), *f, yield_pp=pp))
    return out


def _params(
    sim: SimulationSpec,
    from_ns: int,
    *factors: float,
    yield_pp: float,
) -> Params:
    mtbf, mttr, minor, idle, setup, idle_power, power = factors
    idle_fraction = min(sim.idle_fraction * idle, 0.85)
    # Episode rates per running hour that give roughly the configured fractions of production time.
    idle_rate = idle_fraction / max(1e-9, 1 - idle_fraction) / (sim.idle_minutes / 60)
    reduced_rate = (
        sim.reduced_speed_fraction / (1 - sim.reduced_speed_fraction) / (sim.reduced_speed_minutes / 60)
    )
    watts = []
    for state in CANONICAL_STATES:
        w = sim.power_w(state) * power * (idle_power if state == "idle" else 1.0)
        watts.append(round(w))
    return Params(
        from_ns=from_ns,
        mtbf_h=sim.mtbf_hours * mtbf if sim.mtbf_hours else None,
        mttr_h=sim.mttr_hours * mttr,
        minor_rate=sim.minor_stops_per_hour * minor,
        idle_rate=idle_rate,
        reduced_rate=reduced_rate,
        setup_min=sim.setup_minutes * setup,
        yield_permille=max(0, min(1000, round((sim.yield_ + yield_pp / 100) * 1000))),
        power_w=tuple(watts),
    )


class _Draws:
    """Buffered standard exponential and normal draws (scalar numpy calls are slow)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.exp: list[float] = []
        self.norm: list[float] = []

    def expo(self, mean: float) -> float:
        if not self.exp:
            self.exp = self.rng.standard_exponential(4096).tolist()
        return self.exp.pop() * mean

    def normal(self) -> float:
        if not self.norm:
            self.norm = self.rng.standard_normal(1024).tolist()
        return self.norm.pop()


@dataclass
class RawLog:
    starts: list[int]
    states: list[int]
    failures: list[int]
    maintenance: list[int]


def _ms(x: float) -> int:
    """Duration in hours → whole ms ≥ 1 (in ns)."""
    return max(1, round(x * HOUR_MS)) * MS


def _repair(t: int, w1: int, repair: list[list[int]], emit: Callable[[int, int], None], log: RawLog) -> int:
    """Advance through the remaining repair steps [state, ns left, started] until done or the window
    ends; returns the new time. A corrective maintenance counts as one event however it is split."""
    while repair and t < w1:
        step = repair[0]
        if step[1] <= 0:
            repair.pop(0)
            continue
        if step[0] == CORRECTIVE and not step[2]:
            log.maintenance.append(t)
            step[2] = 1
        emit(t, step[0])
        used = min(step[1], w1 - t)
        t += used
        step[1] -= used
        if step[1] <= 0:
            repair.pop(0)
    return t


def generate(device: SimDevice, seed: int, start_ns: int, end_ns: int) -> RawLog:
    """State changes (start time, canonical code) covering [start_ns, end_ns) plus failure and
    maintenance event times."""
    start_ns, end_ns = start_ns - start_ns % MS, end_ns - end_ns % MS
    rng = np.random.default_rng(device_seed(seed, device.id))
    draw = _Draws(rng)
    sim = device.sim
    timeline = params_timeline(device)
    breaks = [p.from_ns for p in timeline]
    log = RawLog([], [], [], [])

    def emit(t: int, state: int) -> None:
        if log.states and log.states[-1] == state:
            return
        if log.starts and log.starts[-1] == t:
            log.states[-1] = state
            if len(log.states) > 1 and log.states[-2] == state:
                log.starts.pop()
                log.states.pop()
            return
        log.starts.append(t)
        log.states.append(state)

    # Planned maintenance: every N days (seeded phase), when due or at the next production window.
    pm_every = sim.planned_maintenance_every_days
    pm_next = start_ns + (int(rng.uniform(0, pm_every) * 86_400_000) * MS if pm_every else 0)
    since_setup_h = rng.uniform(0, sim.setup_every_hours) if sim.setup_every_hours else 0.0
    repair: list[list[int]] = []  # [state, ns left, started] of a repair still in progress
    emit(start_ns, PLANNED_STOP)
    for w0, w1 in device.calendar.windows(start_ns, end_ns):
        w0, w1 = w0 - w0 % MS, w1 - w1 % MS
        if w1 <= w0:
            continue
        t = w0
        if repair:
            t = _repair(t, w1, repair, emit, log)
        while t < w1:
            p = timeline[bisect.bisect_right(breaks, t) - 1]
            if pm_every and t >= pm_next:  # due: at once, or at the start of the next window
                emit(t, PLANNED_MAINT)
                log.maintenance.append(t)
                t = min(w1, t + _ms(sim.planned_maintenance_hours))
                while pm_next <= t:
                    pm_next += round(pm_every * 86_400_000) * MS
                continue
            if sim.setup_every_hours and since_setup_h >= sim.setup_every_hours:
                emit(t, SETUP)
                t = min(w1, t + _ms(p.setup_min / 60 * (0.8 + 0.4 * rng.random())))
                since_setup_h = 0.0
                continue
            clocks = [
                draw.expo(p.mtbf_h) if p.mtbf_h else float("inf"),
                draw.expo(1 / p.minor_rate) if p.minor_rate else float("inf"),
                draw.expo(1 / p.idle_rate) if p.idle_rate else float("inf"),
                draw.expo(1 / p.reduced_rate) if p.reduced_rate else float("inf"),
                sim.setup_every_hours - since_setup_h if sim.setup_every_hours else float("inf"),
                (pm_next - t) / (HOUR_MS * MS) if pm_every else float("inf"),
            ]
            which = min(range(6), key=clocks.__getitem__)
            run_ns = min(_ms(clocks[which]) if clocks[which] != float("inf") else w1 - t, w1 - t)
            emit(t, RUNNING)
            t += run_ns
            since_setup_h += run_ns / (HOUR_MS * MS)
            if t >= w1 or which >= 4:  # a setup or planned maintenance is due
                continue
            if which == 0:  # failure: wait for the technician, then repair (across breaks and shifts)
                log.failures.append(t)
                repair_h = p.mttr_h * float(np.exp(sim.mttr_sigma * draw.normal() - sim.mttr_sigma**2 / 2))
                response_ns = min(_ms(sim.response_minutes / 60), _ms(repair_h))
                repair += [[UNPLANNED, response_ns, 0], [CORRECTIVE, _ms(repair_h) - response_ns, 0]]
                t = _repair(t, w1, repair, emit, log)
            elif which == 1:
                emit(t, MINOR)
                t = min(w1, t + _ms(draw.expo(sim.minor_stop_minutes / 60)))
            elif which == 2:
                emit(t, IDLE)
                t = min(w1, t + _ms(draw.expo(sim.idle_minutes / 60)))
            else:
                emit(t, REDUCED)
                dur = _ms(draw.expo(sim.reduced_speed_minutes / 60))
                since_setup_h += min(dur, w1 - t) / (HOUR_MS * MS)
                t = min(w1, t + dur)
        emit(w1, PLANNED_STOP)
    if log.starts[-1] >= end_ns:  # a window ending at end_ns leaves a zero-length tail
        log.starts.pop()
        log.states.pop()
    return log
