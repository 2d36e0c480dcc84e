"""The engine fed with a simulated plant's sampled state, counter and energy series agrees with the
simulator's ground truth (computed from its event log, not from samples)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from collector.kpi.claims import Claim
from collector.kpi.engine import EPOCH, PeriodData, Series, device_days, kpi_parts
from collector.kpi.load import _pick

plant_mod = pytest.importorskip("simulators.plant")
truth_mod = pytest.importorskip("simulators.truth")
plantfile = pytest.importorskip("simulators.plantfile")

START, END = dt.date(2026, 3, 3), dt.date(2026, 3, 14)  # inside test-small's range, after a lookback day
DAY = 86_400 * 10**9
MIN = 60 * 10**9


def _series(rows: list[tuple[int, np.ndarray, np.ndarray, float | None]]) -> Series:
    dev = np.concatenate([np.full(len(t), d, dtype=np.int64) for d, t, _, _ in rows])
    return Series(
        dev=dev,
        t=np.concatenate([t for _, t, _, _ in rows]).astype(np.int64),
        value=np.concatenate([v for _, _, v, _ in rows]).astype(np.float64),
        quality=np.zeros(len(dev), dtype=np.int16),
        wrap=np.concatenate([np.full(len(t), np.nan if w is None else w) for _, t, _, w in rows]),
    )


def test_engine_matches_simulator_truth_within_one_point() -> None:
    plant = plantfile.load_plant("test-small")
    model = plant_mod.PlantModel(plant, plant.start_ns, plant.end_ns)
    start_ns, end_ns = (START - EPOCH).days * DAY, ((END - EPOCH).days + 1) * DAY
    devices = [d for d in plant.devices if d.device_type.type in ("cnc_machine", "press")]
    grid = np.arange(start_ns - DAY, end_ns, MIN, dtype=np.int64)
    roles: dict[str, list[tuple[int, np.ndarray, np.ndarray, float | None]]] = {
        "state": [], "produced": [], "good": [], "energy": []
    }  # fmt: skip
    for i, d in enumerate(devices):
        log = model.events(d.id)
        # state: every transition of the log plus a one-minute heartbeat, as a gateway would publish
        t = np.unique(np.concatenate([log.start[(log.start >= grid[0]) & (log.start < end_ns)], grid]))
        roles["state"].append((i, t, log.state[log.index_at(t)].astype(np.float64), None))
        values = model.sample(d.id, grid)
        pts = [(j, p.name, p.kind, p.wrap) for j, p in enumerate(d.device_type.points)]
        for role in ("produced", "good", "energy"):
            picked = _pick(pts, role, None)
            assert picked is not None, (d.id, role)
            name = pts[picked[0]][1]
            roles[role].append((i, grid, np.asarray(values[name], dtype=np.float64), picked[1]))
    data = PeriodData(
        start=START,
        end=END,
        devices=[d.id for d in devices],
        ideal_rate_per_hour=np.array([d.device_type.ideal_rate_per_hour for d in devices], dtype=np.float64),
        state=_series(roles["state"]),
        produced=_series(roles["produced"]),
        good=_series(roles["good"]),
        energy=_series(roles["energy"]),
    )
    dd = device_days(data, timeout_s=300)
    truth = truth_mod.truth(model, start_ns, end_ns).kpis(start_ns, end_ns, [d.id for d in devices])

    def ours(kpi: str) -> float:
        claim = Claim(id="x", title="x", kpi=kpi, change_pct=1)  # type: ignore[arg-type]
        num, den = kpi_parts(claim, dd)
        return float(np.nansum(num) / np.nansum(den))

    assert dd.timeline.coverage.min() > 0.99
    for kpi, key in (
        ("availability", "availability"),
        ("quality", "quality"),
        ("unplanned_downtime", "unplanned_downtime_per_pbt_hour"),
    ):
        assert ours(kpi) == pytest.approx(truth[key], abs=0.01), kpi  # within 1 percentage point
    for kpi, key in (
        ("energy_per_unit", "kwh_per_good_unit"),
        ("work_efficiency", "good_units_per_pbt_hour"),
        ("mtbf", "mtbf_hours"),
        ("mttr", "mttr_hours"),
        ("maintenance_events", "maintenance_per_1000_apt_hours"),
    ):
        assert ours(kpi) == pytest.approx(truth[key], rel=0.01), kpi  # within 1 %
