"""Ground truth from the generated event log (not from sampled telemetry): per device and UTC day,
the time in every canonical state, units, energy, failures and maintenance events, and the KPIs of
DESIGN §6 for any period and any set of devices. Pure numpy.

Faults (simulators.faults) are accounted for exactly: a steady stretch is part of the log, so truth
follows it; register faults change what a device shows, never what it made; delivery faults change
what reaches the collector. `truth` is the truth over the whole plant; `truth_within` the truth over
the time the data covers (any intervals per device, e.g. the collector's state coverage); and
`fault_days` says which device-days each fault touches.
"""

# layering: pure

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from simulators.errors import SimError
from simulators.faults import ClockSkew, WindowFault
from simulators.plant import J_PER_KWH_MS, PlantModel
from simulators.scenario import NS_PER_DAY
from wire.states import CANONICAL_STATES, PLANNED_DOWN, PRODUCTIVE, STATE_CODES, UNPLANNED_DOWN

NS_PER_H = 3_600 * 1_000_000_000
# Grid emission factor used when a caller declares none (kg CO2 per kWh; China national grid 2022).
DEFAULT_EMISSION_FACTOR = 0.5703
_IDX = {
    group: [STATE_CODES[s] for s in sorted(states)]
    for group, states in (
        ("productive", PRODUCTIVE),
        ("planned", PLANNED_DOWN),
        ("unplanned", UNPLANNED_DOWN),
    )
}
_FAILURE_DOWN = [STATE_CODES["unplanned_stop"], STATE_CODES["corrective_maintenance"]]


def day_bounds(start_ns: int, end_ns: int) -> np.ndarray:
    """[start, every UTC midnight inside, end]."""
    first = (start_ns // NS_PER_DAY + 1) * NS_PER_DAY
    inner = np.arange(first, end_ns, NS_PER_DAY, dtype=np.int64)
    return np.concatenate([[start_ns], inner, [end_ns]]).astype(np.int64)


@dataclass(frozen=True)
class Truth:
    """Arrays indexed [device, day(, state)]; `bounds` holds the day edges (len days + 1)."""

    devices: tuple[str, ...]
    sites: tuple[str, ...]
    types: tuple[str, ...]
    sectors: tuple[str, ...]
    ideal_rates: np.ndarray  # units per hour, engineering
    unit_scales: np.ndarray  # engineering units per raw count
    bounds: np.ndarray
    state_ns: np.ndarray  # int64 [dev, day, state]
    total_raw: np.ndarray  # int64 [dev, day]
    good_raw: np.ndarray
    energy_wms: np.ndarray  # int64 W·ms
    failures: np.ndarray
    maintenance: np.ndarray

    @property
    def days(self) -> list[dt.date]:
        return [dt.datetime.fromtimestamp(int(b) // 1_000_000_000, dt.UTC).date() for b in self.bounds[:-1]]

    def rows(self) -> list[dict[str, Any]]:
        """One record per device and day (durations in seconds, energy in kWh)."""
        out: list[dict[str, Any]] = []
        days = self.days
        for i, dev in enumerate(self.devices):
            for j, day in enumerate(days):
                out.append(
                    {
                        "device": dev,
                        "site": self.sites[i],
                        "day": day.isoformat(),
                        "states_s": {
                            s: self.state_ns[i, j, k] / 1e9
                            for k, s in enumerate(CANONICAL_STATES)
                            if self.state_ns[i, j, k]
                        },
                        "total_units": float(self.total_raw[i, j] * self.unit_scales[i]),
                        "good_units": float(self.good_raw[i, j] * self.unit_scales[i]),
                        "energy_kwh": float(self.energy_wms[i, j] / J_PER_KWH_MS),
                        "failures": int(self.failures[i, j]),
                        "maintenance_events": int(self.maintenance[i, j]),
                    }
                )
        return out

    def _select(
        self, start_ns: int | None, end_ns: int | None, devices: Iterable[str] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        starts = self.bounds[:-1]
        lo = self.bounds[0] if start_ns is None else start_ns
        hi = self.bounds[-1] if end_ns is None else end_ns
        days = np.nonzero((starts >= lo) & (starts < hi))[0]
        if devices is None:
            devs = np.arange(len(self.devices))
        else:
            wanted = set(devices)
            unknown = wanted - set(self.devices)
            if unknown:
                raise SimError(f"no such devices in the truth: {', '.join(sorted(unknown))}")
            devs = np.asarray([i for i, d in enumerate(self.devices) if d in wanted], dtype=np.int64)
        return devs, days

    def totals(
        self, start_ns: int | None = None, end_ns: int | None = None, devices: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Sums over the selected whole days and devices (state times in hours)."""
        devs, days = self._select(start_ns, end_ns, devices)
        sub = np.ix_(devs, days)
        state_h = self.state_ns[sub].sum(axis=(0, 1)) / NS_PER_H
        scales = self.unit_scales[devs][:, None]
        producing = (self.ideal_rates[devs] > 0)[:, None]
        ideal_h = np.where(
            producing,
            self.total_raw[sub] * scales / np.where(producing, self.ideal_rates[devs][:, None], 1),
            0,
        ).sum()
        return {
            "devices": len(devs),
            "days": len(days),
            "state_hours": {s: float(state_h[k]) for k, s in enumerate(CANONICAL_STATES)},
            "calendar_hours": float(
                sum(self.bounds[d + 1] - self.bounds[d] for d in days) * len(devs) / NS_PER_H
            ),
            "total_units": float((self.total_raw[sub] * scales).sum()),
            "good_units": float((self.good_raw[sub] * scales).sum()),
            "ideal_hours": float(ideal_h),
            "producing_apt_hours": float(
                self.state_ns[sub][..., _IDX["productive"]].sum(axis=2)[producing[:, 0]].sum() / NS_PER_H
            ),
            # OEE as a ratio of totals over the devices with an ideal rate: good at the ideal rate / PBT
            "good_ideal_hours": float(
                np.where(
                    producing,
                    self.good_raw[sub] * scales / np.where(producing, self.ideal_rates[devs][:, None], 1),
                    0,
                ).sum()
            ),
            "producing_pbt_hours": float(
                (
                    (self.bounds[1:] - self.bounds[:-1])[days][None, :] * producing
                    - self.state_ns[sub][..., _IDX["planned"] + [STATE_CODES["no_data"]]].sum(axis=2)
                    * producing
                ).sum()
                / NS_PER_H
            ),
            "energy_kwh": float(self.energy_wms[sub].sum() / J_PER_KWH_MS),
            "failures": int(self.failures[sub].sum()),
            "maintenance_events": int(self.maintenance[sub].sum()),
            "failure_downtime_hours": float(state_h[_FAILURE_DOWN].sum()),
        }

    def kpis(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        devices: Iterable[str] | None = None,
        emission_factor: float = DEFAULT_EMISSION_FACTOR,
        tariff_per_kwh: float | None = None,
    ) -> dict[str, float | None]:
        """DESIGN §6 KPIs as ratios of totals over the period (None where undefined)."""
        t = self.totals(start_ns, end_ns, devices)
        h = t["state_hours"]
        planned = sum(h[s] for s in PLANNED_DOWN)
        pbt = t["calendar_hours"] - planned - h["no_data"]
        apt = sum(h[s] for s in PRODUCTIVE)
        unplanned = sum(h[s] for s in UNPLANNED_DOWN)
        total, good, kwh, failures = t["total_units"], t["good_units"], t["energy_kwh"], t["failures"]

        def ratio(a: float, b: float) -> float | None:
            return a / b if b else None

        availability = ratio(apt, pbt)
        performance = ratio(t["ideal_hours"], t["producing_apt_hours"])
        quality = ratio(good, total)
        oee = (
            availability * performance * quality
            if availability is not None and performance is not None and quality is not None
            else None
        )
        return {
            "pbt_hours": pbt,
            "apt_hours": apt,
            "unplanned_downtime_hours": unplanned,
            "availability": availability,
            "performance": performance,
            "quality": quality,
            "oee": oee,
            "oee_of_totals": ratio(t["good_ideal_hours"], t["producing_pbt_hours"]),
            "unplanned_downtime_per_pbt_hour": ratio(unplanned, pbt),
            "mtbf_hours": ratio(apt, failures),
            "mttr_hours": ratio(t["failure_downtime_hours"], failures),
            "maintenance_per_1000_apt_hours": ratio(1000 * t["maintenance_events"], apt),
            "good_units_per_pbt_hour": ratio(good, pbt),
            "kwh_per_good_unit": ratio(kwh, good),
            "co2_kg_per_good_unit": ratio(kwh * emission_factor, good),
            "cost_per_good_unit": ratio(kwh * tariff_per_kwh, good) if tariff_per_kwh is not None else None,
            "total_units": total,
            "good_units": good,
            "energy_kwh": kwh,
            "failures": failures,
        }


def truth(model: PlantModel, start_ns: int, end_ns: int) -> Truth:
    """Exact per-device, per-day totals from the model's event logs over [start_ns, end_ns)."""
    if not model.start_ns <= start_ns < end_ns <= model.end_ns:
        raise SimError("the truth period must lie inside the model range")
    bounds = day_bounds(start_ns, end_ns)
    tracks = [model.track(d) for d in model.device_ids]
    n, days = len(tracks), len(bounds) - 1
    state_ns = np.zeros((n, days, len(CANONICAL_STATES)), np.int64)
    total = np.zeros((n, days), np.int64)
    good = np.zeros((n, days), np.int64)
    energy = np.zeros((n, days), np.int64)
    failures = np.zeros((n, days), np.int64)
    maintenance = np.zeros((n, days), np.int64)
    for i, track in enumerate(tracks):
        state_ns[i] = np.diff(track.state_time(bounds), axis=0)
        tot, gd = track.units(bounds)
        total[i], good[i] = np.diff(tot), np.diff(gd)
        energy[i] = np.diff(track.energy_wms(bounds))
        failures[i] = np.diff(np.searchsorted(track.log.failures, bounds, side="left"))
        maintenance[i] = np.diff(np.searchsorted(track.log.maintenance, bounds, side="left"))
    devices = [t.device for t in tracks]
    return Truth(
        devices=tuple(d.id for d in devices),
        sites=tuple(d.site for d in devices),
        types=tuple(d.device_type.type for d in devices),
        sectors=tuple(d.device_type.sector for d in devices),
        ideal_rates=np.asarray([d.device_type.ideal_rate_per_hour for d in devices], np.float64),
        unit_scales=np.asarray([t.unit_scale for t in tracks], np.float64),
        bounds=bounds,
        state_ns=state_ns,
        total_raw=total,
        good_raw=good,
        energy_wms=energy,
        failures=failures,
        maintenance=maintenance,
    )


def _pieces(
    intervals: Sequence[tuple[int, int]], bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intervals split at the day bounds: (start, end, day index), inside [bounds[0], bounds[-1])."""
    starts, ends, days = [], [], []
    for s, e in intervals:
        s, e = max(int(s), int(bounds[0])), min(int(e), int(bounds[-1]))
        if e <= s:
            continue
        first = int(np.searchsorted(bounds, s, side="right")) - 1
        last = int(np.searchsorted(bounds, e, side="left")) - 1
        for d in range(first, last + 1):
            a, b = max(s, int(bounds[d])), min(e, int(bounds[d + 1]))
            if b > a:
                starts.append(a)
                ends.append(b)
                days.append(d)
    return np.asarray(starts, np.int64), np.asarray(ends, np.int64), np.asarray(days, np.int64)


def truth_within(
    model: PlantModel, start_ns: int, end_ns: int, covered: Mapping[str, Sequence[tuple[int, int]]]
) -> Truth:
    """The truth over only the given intervals of each device (devices not named: nothing), per day:
    what really happened in the time the data covers; the rest of each day is no_data, so PBT is the
    covered planned busy time. Events count where they begin."""
    whole = truth(model, start_ns, end_ns)
    n, days = len(whole.devices), len(whole.bounds) - 1
    state_ns = np.zeros_like(whole.state_ns)
    total, good, energy = (np.zeros((n, days), np.int64) for _ in range(3))
    failures, maintenance = np.zeros((n, days), np.int64), np.zeros((n, days), np.int64)
    for i, dev in enumerate(whole.devices):
        s, e, d = _pieces(covered.get(dev, ()), whole.bounds)
        if not len(s):
            continue
        track = model.track(dev)
        np.add.at(state_ns[i], d, track.state_time(e) - track.state_time(s))
        (t_e, g_e), (t_s, g_s) = track.units(e), track.units(s)
        np.add.at(total[i], d, t_e - t_s)
        np.add.at(good[i], d, g_e - g_s)
        np.add.at(energy[i], d, track.energy_wms(e) - track.energy_wms(s))
        for out, times in ((failures, track.log.failures), (maintenance, track.log.maintenance)):
            np.add.at(out[i], d, np.searchsorted(times, e) - np.searchsorted(times, s))
    day_ns = np.diff(whole.bounds)[None, :]
    state_ns[..., STATE_CODES["no_data"]] += day_ns - state_ns.sum(axis=2)
    return replace(
        whole,
        state_ns=state_ns,
        total_raw=total,
        good_raw=good,
        energy_wms=energy,
        failures=failures,
        maintenance=maintenance,
    )


def fault_days(model: PlantModel, start_ns: int, end_ns: int) -> dict[str, np.ndarray]:
    """Per fault kind, which [device, day] it touches: a window overlapping the day, a register
    fault's moment inside it, a clock skew every day."""
    bounds = day_bounds(start_ns, end_ns)
    devices = model.plant.devices
    out: dict[str, np.ndarray] = {}
    for i, device in enumerate(devices):
        faults = device.faults
        for f in faults.faults:
            mask = out.setdefault(f.kind, np.zeros((len(devices), len(bounds) - 1), dtype=bool))
            if isinstance(f, ClockSkew):
                mask[i] = True
                continue
            spans = list(f.windows(end_ns)) if isinstance(f, WindowFault) else [(f.at_ns, f.at_ns + 1)]
            for s, e in spans:
                mask[i] |= (bounds[:-1] < e) & (bounds[1:] > s)
    return out
