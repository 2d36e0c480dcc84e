"""Per device-day series from arrays (pure numpy): time model, counters, and KPI ratios.

Every KPI is a ratio of totals, so it is kept as a numerator and a denominator per device-day; a
period's value is sum(numerators) / sum(denominators) over its valid device-days. A device-day whose
counter steps were excluded (`collector.kpi.counters`) is not valid for KPIs reading that counter:
its value is NaN and its flags say why.
"""

# layering: pure

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import assert_never

import numpy as np
import numpy.typing as npt

from collector.kpi.claims import Claim
from collector.kpi.counters import DEFAULT_RULES, FLAG_NAMES, CounterRules, daily_increments
from collector.kpi.timemodel import DAY_NS, N_STATES, Timeline, build_timeline, coverage, sanitize_codes

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I16 = npt.NDArray[np.int16]
U8 = npt.NDArray[np.uint8]
COUNTER_ROLES = ("produced", "good", "energy")
EPOCH = dt.date(1970, 1, 1)


# Point roles each KPI reads besides the state point (which every KPI needs for its coverage gate).
KPI_ROLES: dict[str, frozenset[str]] = {
    "performance": frozenset({"produced"}),
    "quality": frozenset({"produced", "good"}),
    "defect_rate": frozenset({"produced", "good"}),
    "oee": frozenset({"good"}),
    "work_efficiency": frozenset({"good"}),
    "energy_per_unit": frozenset({"energy", "good"}),
    "co2_per_unit": frozenset({"energy", "good"}),
    "cost_per_unit": frozenset({"energy", "good", "produced"}),
}


@dataclass(frozen=True, slots=True)
class Series:
    """Samples of one role (state, produced, good, energy), sorted by (device index, time)."""

    dev: I64
    t: I64
    value: F64
    quality: I16
    wrap: F64 | None = None  # per sample, NaN where the point cannot wrap

    @classmethod
    def empty(cls) -> Series:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z.copy(), np.zeros(0), np.zeros(0, dtype=np.int16), np.zeros(0))


@dataclass(frozen=True, slots=True)
class PeriodData:
    """Everything the engine needs for one period: samples plus per-device metadata."""

    start: dt.date
    end: dt.date  # last day included
    devices: list[str]
    ideal_rate_per_hour: F64  # NaN where unknown
    state: Series
    produced: Series
    good: Series
    energy: Series
    # role → devices without such a point (their device-days cannot carry KPIs needing it)
    missing: dict[str, list[str]] = field(default_factory=dict)

    @property
    def start_ns(self) -> int:
        return (self.start - EPOCH).days * DAY_NS

    @property
    def end_ns(self) -> int:
        return ((self.end - EPOCH).days + 1) * DAY_NS


@dataclass(frozen=True, slots=True)
class DeviceDays:
    days: list[dt.date]
    devices: list[str]
    timeline: Timeline
    produced: F64  # (devices, days), NaN where the device has no such point
    good: F64
    energy_kwh: F64
    ideal_rate_per_hour: F64  # (devices,)
    missing: dict[str, list[str]]
    # role → (devices, days) flags of excluded counter steps that make the day invalid (NaN there)
    counter_flags: dict[str, U8] = field(default_factory=dict)
    # role → flag name → excluded steps per (device, day), invalidating or not (collector.kpi.counters)
    counter_excluded: dict[str, dict[str, I64]] = field(default_factory=dict)


# Devices are processed in chunks of about this many state samples: small temporaries stay in
# cache and in the allocator's free lists instead of being faulted in afresh for every operation.
CHUNK_ROWS = 1 << 17


def _slice(s: Series, lo: int, hi: int) -> Series:
    """Rows of devices [lo, hi), re-indexed from 0 (views, no copies of the big arrays)."""
    a, b = np.searchsorted(s.dev, [lo, hi])
    return Series(
        s.dev[a:b] - lo, s.t[a:b], s.value[a:b], s.quality[a:b], None if s.wrap is None else s.wrap[a:b]
    )


def device_days(data: PeriodData, timeout_s: float, rules: CounterRules = DEFAULT_RULES) -> DeviceDays:
    n = len(data.devices)
    start, end = data.start_ns, data.end_ns
    n_days = (end - start) // DAY_NS
    timeout_ns = int(timeout_s * 1e9)
    seconds = np.zeros((n, n_days, N_STATES))
    failures = np.zeros((n, n_days), dtype=np.int64)
    maintenance = np.zeros((n, n_days), dtype=np.int64)
    counters = {role: np.zeros((n, n_days)) for role in COUNTER_ROLES}
    flags = {role: np.zeros((n, n_days), dtype=np.uint8) for role in COUNTER_ROLES}
    excluded = {
        role: {k: np.zeros((n, n_days), dtype=np.int64) for k in FLAG_NAMES.values()}
        for role in COUNTER_ROLES
    }
    rows = max(len(data.state.t), len(data.produced.t), 1)
    step = max(1, CHUNK_ROWS * max(n, 1) // rows)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        st = _slice(data.state, lo, hi)
        codes = sanitize_codes(st.value, st.quality)
        tl = build_timeline(
            st.dev, st.t, codes, n_devices=hi - lo, start=start, end=end, timeout_ns=timeout_ns
        )
        seconds[lo:hi], failures[lo:hi], maintenance[lo:hi] = tl.seconds, tl.failures, tl.maintenance
        state_covers, busy = coverage(st.dev, st.t, codes, end=end, timeout_ns=timeout_ns)
        for role, out in counters.items():
            c = _slice(getattr(data, role), lo, hi)
            rate = data.ideal_rate_per_hour[lo:hi] if role != "energy" else None
            got = daily_increments(
                c.dev,
                c.t,
                c.value,
                n_devices=hi - lo,
                start=start,
                end=end,
                wrap=c.wrap,
                quality=c.quality,
                rate_per_hour=rate,
                covered=state_covers,
                busy=busy,
                rules=rules,
            )
            out[lo:hi], flags[role][lo:hi] = got.inc, got.invalid
            for name, count in got.excluded.items():
                excluded[role][name][lo:hi] = count
    for role, out in counters.items():
        out[flags[role] != 0] = np.nan  # not valid for KPIs reading this counter
        for name in data.missing.get(role, []):
            out[data.devices.index(name)] = np.nan
    return DeviceDays(
        days=[data.start + dt.timedelta(days=i) for i in range(n_days)],
        devices=list(data.devices),
        timeline=Timeline(seconds=seconds, failures=failures, maintenance=maintenance),
        produced=counters["produced"],
        good=counters["good"],
        energy_kwh=counters["energy"],
        ideal_rate_per_hour=data.ideal_rate_per_hour,
        missing=data.missing,
        counter_flags=flags,
        counter_excluded=excluded,
    )


def kpi_parts(claim: Claim, dd: DeviceDays) -> tuple[F64, F64]:
    """Numerator and denominator per device-day for the claim's KPI (NaN where inputs are missing)."""
    tl = dd.timeline
    h = 3600.0
    apt, pbt = tl.apt / h, tl.pbt / h
    rate = dd.ideal_rate_per_hour[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        match claim.kpi:
            case "availability":
                return apt, pbt
            case "performance":
                # ideal cycle time × produced = produced / ideal rate (hours), over APT hours;
                # devices without an ideal rate (utilities, meters) take no part: 0/0
                has = rate > 0
                return np.where(has, dd.produced / np.where(has, rate, 1.0), 0.0), np.where(has, apt, 0.0)
            case "quality":
                return dd.good, dd.produced
            case "defect_rate":  # 1 − quality, kept as its own ratio so its relative change is direct
                return dd.produced - dd.good, dd.produced
            case "oee":
                has = rate > 0
                return np.where(has, dd.good / np.where(has, rate, 1.0), 0.0), np.where(has, pbt, 0.0)
            case "unplanned_downtime":
                return tl.unplanned / h, pbt
            case "mtbf":
                return apt, tl.failures.astype(np.float64)
            case "mttr":
                return tl.repair / h, tl.failures.astype(np.float64)
            case "maintenance_events":
                return 1000.0 * tl.maintenance.astype(np.float64), apt
            case "work_efficiency":
                return dd.good, pbt
            case "energy_per_unit":
                return dd.energy_kwh, dd.good
            case "co2_per_unit":
                return dd.energy_kwh * (claim.emission_factor_kg_per_kwh or 0.0), dd.good
            case "cost_per_unit":
                uc = claim.unit_costs
                cost = dd.energy_kwh * (claim.tariff_per_kwh or 0.0)
                if uc is not None:
                    cost = cost + dd.produced * uc.per_unit_produced + pbt * uc.per_operating_hour
                return cost, dd.good
            case unreachable:  # a KPI added to KpiName without a formula fails type checking here
                assert_never(unreachable)
