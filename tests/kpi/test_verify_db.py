"""Claims verified against a synthetic plant written to PostgreSQL, compared with its known truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collector.kpi.claimfile import load_claims
from collector.kpi.claims import Period
from collector.kpi.verify import ClaimResult, verify_claims
from tests.kpi.conftest import BASE, REP


def _rel(b: float, r: float) -> float:
    return 100.0 * (r / b - 1.0)


def _claims(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(
        "periods:\n"
        f"  baseline: {{start: {BASE.start}, end: {BASE.end}}}\n"
        f"  reporting: {{start: {REP.start}, end: {REP.end}}}\n"
        "claims:\n" + body,
        encoding="utf-8",
    )
    return path


def _claim(cid: str, kpi: str, line: str, change: str) -> str:
    return (
        f"  - {{id: {cid}, title: {cid}, kpi: {kpi}, scope: {{line: {line}}}, {change},"
        " heartbeat_timeout_s: 1800, source: synthetic}\n"
    )


def _by_id(results: list[ClaimResult]) -> dict[str, ClaimResult]:
    return {r.id: r for r in results}


def test_unplanned_downtime_yield_and_energy_verdicts_match_truth(plant_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dsn, truths = plant_db
    body = ""
    for line in ("big", "small", "gap", "holes"):
        body += _claim(f"ud-{line}", "unplanned_downtime", line, "change_pct: -20")
        body += _claim(f"y-{line}", "quality", line, "change_pp: 2")
        body += _claim(f"e-{line}", "energy_per_unit", line, "change_pct: -5")
    claims = load_claims(_claims(tmp_path, body))
    res = _by_id(verify_claims(dsn, claims))

    for line, expected in (("big", "verified"), ("small", "refuted")):
        tb, tr = truths[line]
        ud = res[f"ud-{line}"]
        true_ud = _rel(tb.unplanned_s / tb.pbt_s, tr.unplanned_s / tr.pbt_s)
        assert ud.verdict == expected, (ud.point_estimate, ud.ci_low, ud.ci_high, true_ud)
        assert abs(ud.point_estimate - true_ud) < 1.0
        assert ud.ci_low < ud.point_estimate < ud.ci_high
        y = res[f"y-{line}"]
        assert y.verdict == expected, y.to_json()
        assert abs(y.point_estimate - 100 * (tr.good / tr.produced - tb.good / tb.produced)) < 1.0
        e = res[f"e-{line}"]
        assert e.verdict == expected, e.to_json()
        assert abs(e.point_estimate - _rel(tb.kwh / tb.good, tr.kwh / tr.good)) < 1.0
        js = ud.to_json()
        assert js["coverage"]["baseline"]["valid_share"] == 1.0
        assert len(js["series"]["reporting"]) == REP.days
        assert js["series"]["baseline"][0][0] == "2026-01-05"

    # 40 % of reporting state data missing: inconclusive for every KPI, with the reason given
    for kpi in ("ud", "y", "e"):
        gap = res[f"{kpi}-gap"]
        assert gap.verdict == "inconclusive"
        assert any("device-days valid" in r for r in gap.reasons), gap.reasons
        assert gap.reporting is not None and 0.45 < gap.reporting.coverage < 0.75
        # ~40 % of every reporting day's planned time without state data: no device-day is valid
        holes = res[f"{kpi}-holes"]
        assert holes.verdict == "inconclusive"
        assert holes.reporting is not None and holes.reporting.coverage == 0.0
        assert holes.baseline is not None and holes.baseline.coverage == 1.0
        assert any("state coverage under 75%" in r for r in holes.reasons), holes.reasons


def test_one_week_reporting_period_is_inconclusive(plant_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dsn, _ = plant_db
    path = _claims(tmp_path, _claim("ud-week", "unplanned_downtime", "big", "change_pct: -20"))
    week = Period(start=REP.start, end=REP.start + dt.timedelta(days=6))
    (res,) = verify_claims(dsn, load_claims(path, reporting=week))
    assert res.verdict == "inconclusive"
    assert any("7 days" in r for r in res.reasons)
    assert len(res.to_json()["series"]["reporting"]) == 7


def test_results_are_reproducible_and_other_kpis_are_sane(plant_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dsn, truths = plant_db
    body = "".join(
        _claim(f"k-{k}", k, "big", "change_pct: 5")
        for k in (
            "availability",
            "oee",
            "work_efficiency",
            "mtbf",
            "mttr",
            "maintenance_events",
            "performance",
        )
    )
    claims = load_claims(_claims(tmp_path, body))
    first = [r.to_json() for r in verify_claims(dsn, claims)]
    assert first == [r.to_json() for r in verify_claims(dsn, claims)]
    res = {r["id"]: r for r in first}
    tb, tr = truths["big"]
    # availability = 1 − unplanned/PBT here (no other states in planned time)
    true_av = _rel(1 - tb.unplanned_s / tb.pbt_s, 1 - tr.unplanned_s / tr.pbt_s)
    assert abs(res["k-availability"]["point_estimate"] - true_av) < 1.0
    # MTBF grows when stops become rarer: stops per day 3.0 → 1.8 with longer running in between
    assert res["k-mtbf"]["verdict"] == "verified" and res["k-mtbf"]["point_estimate"] > 50
    assert "Poisson" in res["k-mtbf"]["method"]
    assert res["k-maintenance_events"]["verdict"] == "inconclusive"  # no maintenance in this plant
    perf = res["k-performance"]
    assert perf["coverage"]["reporting"]["value"] == pytest.approx(36 / 40, abs=0.01)  # synthetic rate 36/h


def test_scope_by_device_list_and_empty_scope(plant_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dsn, _ = plant_db
    body = (
        "  - {id: one, title: one, kpi: quality, scope: {devices: [plant1/big-0]}, change_pp: 2,"
        " heartbeat_timeout_s: 1800}\n"
        "  - {id: none, title: none, kpi: quality, scope: {line: nowhere}, change_pp: 2}\n"
    )
    res = _by_id(verify_claims(dsn, load_claims(_claims(tmp_path, body))))
    assert res["one"].devices == ["plant1/big-0"]
    assert res["one"].verdict == "verified"
    assert res["none"].verdict == "inconclusive"
    assert any("no devices" in r for r in res["none"].reasons)


def test_claim_can_name_its_points_even_one_point_for_two_roles(plant_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dsn, _ = plant_db
    body = (
        "  - {id: same, title: t, kpi: quality, scope: {line: big}, change_pp: 2, heartbeat_timeout_s: 1800,"
        " points: {produced: parts_total, good: parts_total}}\n"
        "  - {id: ghost, title: t, kpi: quality, scope: {line: big}, change_pp: 2, heartbeat_timeout_s: 1800,"
        " points: {good: no_such_point}}\n"
    )
    res = _by_id(verify_claims(dsn, load_claims(_claims(tmp_path, body))))
    same = res["same"]
    assert same.baseline is not None and same.baseline.value == pytest.approx(1.0)
    assert same.point_estimate == pytest.approx(0.0) and same.verdict == "refuted"
    ghost = res["ghost"]
    assert ghost.verdict == "inconclusive"
    assert any("valid" in r for r in ghost.reasons), ghost.reasons
    assert any("no good point on plant1/big-0" in n for n in ghost.notes), ghost.notes
