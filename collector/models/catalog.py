"""The catalog: named, versioned industrial models and algorithms as pure functions over telemetry.

Each model receives one device's telemetry over a window (`ModelInput`) and returns a flat dict of
numbers. Categories: production efficiency, reliability, quality, energy & carbon, process control,
anomaly detection, data governance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from collector.kpi.counters import BACK_STEP, IMPLAUSIBLE, steps
from collector.kpi.engine import DeviceDays, PeriodData
from collector.kpi.timemodel import NO_DATA
from collector.models import spc
from collector.models.errors import ModelError
from wire.states import CANONICAL_STATES

F64 = npt.NDArray[np.float64]
H = 3600.0
# kg CO2 per kWh when the caller declares none (China national grid average, 2022).
DEFAULT_EMISSION_FACTOR = 0.5703


@dataclass(frozen=True, slots=True)
class ModelInput:
    data: PeriodData  # raw samples of the state, counter and energy points
    days: DeviceDays  # the time model and counters per device-day
    analog: tuple[F64, F64] | None = None  # (t_ns, value) of the point a model asks for
    params: Mapping[str, float] = field(default_factory=dict)
    # seconds of each window day that lie after the invocation ("now"): not yet happened, so
    # neither a state nor no_data (the time model counts them as no_data; models take them out)
    future_s: F64 | None = None


Result = dict[str, float | int | None]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    category: str
    version: str
    inputs: str
    description: str
    fn: Callable[[ModelInput], Result]
    needs_point: bool = False  # an analog point (--point) is required

    def describe(self) -> dict[str, str]:
        return {
            "name": self.name,
            "category": self.category,
            "version": self.version,
            "inputs": self.inputs,
            "description": self.description,
        }


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 and math.isfinite(a) else None


def _sum(x: F64) -> float:
    return float(np.nansum(x))


def _hours(m: ModelInput) -> dict[str, float]:
    tl = m.days.timeline
    return {
        "apt_h": _sum(tl.apt) / H,
        "pbt_h": _sum(tl.pbt) / H,
        "unplanned_h": _sum(tl.unplanned) / H,
        "repair_h": _sum(tl.repair) / H,
        "no_data_h": _sum(tl.no_data) / H,
        "failures": float(tl.failures.sum()),
        "maintenance": float(tl.maintenance.sum()),
    }


def _units(m: ModelInput) -> tuple[float, float, float]:
    d = m.days
    return _sum(d.produced), _sum(d.good), _sum(d.energy_kwh)


def _rate(m: ModelInput) -> float:
    r = float(m.days.ideal_rate_per_hour[0]) if len(m.days.ideal_rate_per_hour) else math.nan
    if not r > 0:
        raise ModelError("the device has no ideal_rate_per_hour")
    return r


def state_timeline(m: ModelInput) -> Result:
    """Hours per state up to now: a window reaching into the future stops at the invocation time."""
    tl = m.days.timeline
    seconds = tl.seconds.copy()
    future = np.zeros(seconds.shape[1]) if m.future_s is None else m.future_s
    seconds[:, :, NO_DATA] = np.maximum(seconds[:, :, NO_DATA] - future[None, :], 0.0)
    secs = seconds.sum(axis=(0, 1)) / H
    out: Result = {f"{s}_h": float(v) for s, v in zip(CANONICAL_STATES, secs, strict=True)}
    past = future < 86_400.0  # days that have begun
    if tl.coverage.size and past.any():
        planned = tl.pbt + seconds[:, :, NO_DATA]
        with np.errstate(invalid="ignore", divide="ignore"):
            cover = np.where(planned > 0, tl.pbt / np.where(planned > 0, planned, 1.0), 1.0)
        out["coverage"] = float(np.mean(cover[:, past]))
    else:
        out["coverage"] = None
    out["future_h_excluded"] = float(future.sum() / H) * len(m.days.devices)
    return out


def counter_reconciliation(m: ModelInput) -> Result:
    out: Result = {}
    for role, s in (("produced", m.data.produced), ("good", m.data.good), ("energy", m.data.energy)):
        ok = np.isfinite(s.value) & (s.quality < 2)
        rate = m.data.ideal_rate_per_hour[s.dev[ok]] if role != "energy" else None
        wrap = None if s.wrap is None else s.wrap[ok]
        found = steps(s.dev[ok], s.t[ok], s.value[ok], wrap=wrap, rate_per_hour=rate)
        out[f"{role}_samples"] = int(ok.sum())
        out[f"{role}_wraps"] = int(found.wrapped.sum())
        out[f"{role}_resets"] = int(found.reset.sum())
        out[f"{role}_back_steps"] = int(np.count_nonzero(found.flags & BACK_STEP))
        out[f"{role}_implausible"] = int(np.count_nonzero(found.flags & IMPLAUSIBLE))
    produced, good, kwh = _units(m)
    out.update(produced=produced, good=good, energy_kwh=kwh, good_exceeds_produced=int(good > produced))
    return out


def availability(m: ModelInput) -> Result:
    h = _hours(m)
    return {"availability": _ratio(h["apt_h"], h["pbt_h"]), **h}


def performance(m: ModelInput) -> Result:
    h, (produced, _, _) = _hours(m), _units(m)
    return {"performance": _ratio(produced / _rate(m), h["apt_h"]), "produced": produced, "apt_h": h["apt_h"]}


def quality_yield(m: ModelInput) -> Result:
    produced, good, _ = _units(m)
    return {"quality": _ratio(good, produced), "produced": produced, "good": good}


def oee(m: ModelInput) -> Result:
    a, p, q = availability(m)["availability"], performance(m)["performance"], quality_yield(m)["quality"]
    value = a * p * q if a is not None and p is not None and q is not None else None
    return {"oee": value, "availability": a, "performance": p, "quality": q}


def unplanned_downtime(m: ModelInput) -> Result:
    h = _hours(m)
    return {"unplanned_h": h["unplanned_h"], "per_pbt_hour": _ratio(h["unplanned_h"], h["pbt_h"])}


def mtbf(m: ModelInput) -> Result:
    h = _hours(m)
    return {"mtbf_h": _ratio(h["apt_h"], h["failures"]), "failures": int(h["failures"]), "apt_h": h["apt_h"]}


def mttr(m: ModelInput) -> Result:
    h = _hours(m)
    return {"mttr_h": _ratio(h["repair_h"], h["failures"]), "failures": int(h["failures"])}


def maintenance_rate(m: ModelInput) -> Result:
    h = _hours(m)
    return {"per_1000_apt_h": _ratio(1000 * h["maintenance"], h["apt_h"]), "events": int(h["maintenance"])}


def work_efficiency(m: ModelInput) -> Result:
    h, (_, good, _) = _hours(m), _units(m)
    return {"good_per_pbt_hour": _ratio(good, h["pbt_h"]), "good": good, "pbt_h": h["pbt_h"]}


def energy_per_unit(m: ModelInput) -> Result:
    _, good, kwh = _units(m)
    return {"kwh_per_good_unit": _ratio(kwh, good), "energy_kwh": kwh, "good": good}


def co2_per_unit(m: ModelInput) -> Result:
    _, good, kwh = _units(m)
    factor = float(m.params.get("emission_factor", DEFAULT_EMISSION_FACTOR))
    return {"kg_co2_per_good_unit": _ratio(kwh * factor, good), "emission_factor": factor, "energy_kwh": kwh}


def _analog(m: ModelInput) -> F64:
    if m.analog is None:
        raise ModelError("this model needs an analog point (--point)")
    x = m.analog[1][np.isfinite(m.analog[1])]
    if len(x) < 2:
        raise ModelError("fewer than two analog samples in the window")
    return x


def spc_capability(m: ModelInput) -> Result:
    if "lsl" not in m.params or "usl" not in m.params:
        raise ModelError("spc_capability needs params lsl and usl")
    return dict(spc.capability(_analog(m), float(m.params["lsl"]), float(m.params["usl"])))


def western_electric(m: ModelInput) -> Result:
    return dict(spc.western_electric(_analog(m), m.params.get("center"), m.params.get("sigma")))


def ewma_anomaly(m: ModelInput) -> Result:
    p = m.params
    return dict(
        spc.ewma_alarms(
            _analog(m), float(p.get("lambda", 0.2)), float(p.get("width", 3.0)), int(p.get("train", 100))
        )
    )


_STATE = "state point (canonical state codes), heartbeat timeout"
_COUNT = "parts_total/parts_good counters (resets and wrap handled)"


def _m(
    name: str,
    category: str,
    inputs: str,
    description: str,
    fn: Callable[[ModelInput], Result],
    point: bool = False,
) -> ModelSpec:
    return ModelSpec(name, category, "1.0.0", inputs, description, fn, point)


_MODELS = [
    _m(
        "state_timeline",
        "data governance",
        _STATE,
        "hours per canonical state incl. inferred no_data",
        state_timeline,
    ),
    _m(
        "counter_reconciliation",
        "data governance",
        f"{_COUNT}, energy register",
        "unwrapped totals, register wraps and counter resets",
        counter_reconciliation,
    ),
    _m("availability", "production efficiency", _STATE, "ISO 22400 availability APT/PBT", availability),
    _m(
        "performance",
        "production efficiency",
        f"{_STATE}; {_COUNT}; ideal rate",
        "ideal cycle × produced / APT",
        performance,
    ),
    _m("quality_yield", "quality", _COUNT, "good / produced", quality_yield),
    _m(
        "oee",
        "production efficiency",
        f"{_STATE}; {_COUNT}; ideal rate",
        "availability × performance × quality",
        oee,
    ),
    _m(
        "unplanned_downtime",
        "reliability",
        _STATE,
        "unplanned downtime hours and per PBT hour",
        unplanned_downtime,
    ),
    _m("mtbf", "reliability", _STATE, "mean time between failures: APT / failures", mtbf),
    _m("mttr", "reliability", _STATE, "mean time to repair: failure downtime / failures", mttr),
    _m(
        "maintenance_event_rate",
        "reliability",
        _STATE,
        "maintenance events per 1000 APT hours",
        maintenance_rate,
    ),
    _m(
        "work_efficiency",
        "production efficiency",
        f"{_STATE}; {_COUNT}",
        "good units per PBT hour",
        work_efficiency,
    ),
    _m(
        "energy_per_good_unit",
        "energy & carbon",
        f"energy register; {_COUNT}",
        "kWh per good unit",
        energy_per_unit,
    ),
    _m(
        "co2_per_good_unit",
        "energy & carbon",
        f"energy register; {_COUNT}; param emission_factor (kg/kWh)",
        "kg CO2 per good unit",
        co2_per_unit,
    ),
    _m(
        "spc_capability",
        "process control",
        "analog point; params lsl, usl",
        "process capability Cp and Cpk",
        spc_capability,
        True,
    ),
    _m(
        "western_electric_rules",
        "process control",
        "analog point; optional params center, sigma",
        "points violating Western Electric rules 1-4",
        western_electric,
        True,
    ),
    _m(
        "ewma_anomaly",
        "anomaly detection",
        "analog point; params lambda, width, train",
        "EWMA control-chart alarms",
        ewma_anomaly,
        True,
    ),
]

CATALOG: dict[str, ModelSpec] = {m.name: m for m in _MODELS}


def get(name: str) -> ModelSpec:
    try:
        return CATALOG[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(sorted(CATALOG))}") from None
