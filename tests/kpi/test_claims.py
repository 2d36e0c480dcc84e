"""Claim files: the shipped demo claims load; bad files fail naming the file and the field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collector.kpi.claimfile import load_claims
from collector.kpi.claims import Period
from collector.kpi.errors import KpiError

ROOT = Path(__file__).resolve().parents[2]


def test_demo_claims_load_with_file_periods_and_overrides() -> None:
    claims = load_claims(ROOT / "configs/claims/demo.yaml")
    assert {c.kpi for c in claims} == {"unplanned_downtime", "work_efficiency", "quality", "energy_per_unit"}
    by_kpi = {c.kpi: c for c in claims}
    assert (
        by_kpi["unplanned_downtime"].change == pytest.approx(-0.20) and by_kpi["unplanned_downtime"].decrease
    )
    assert by_kpi["quality"].change_kind == "pp" and by_kpi["quality"].change == 2
    assert all(c.baseline is not None and c.baseline.start == dt.date(2026, 1, 1) for c in claims)
    over = load_claims(
        ROOT / "configs/claims/demo.yaml",
        reporting=Period(start=dt.date(2026, 5, 1), end=dt.date(2026, 5, 31)),
    )
    assert all(c.reporting is not None and c.reporting.days == 31 for c in over)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("claims:\n  - {id: a, title: t, kpi: speed, change_pct: 5}\n", "bad.yaml:2: Input should be"),
        ("claims:\n  - {id: a, title: t, kpi: oee, change_pct: 5, change_pp: 1}\n", "(field claims.0)"),
        ("claims:\n  - {id: a, title: t, kpi: co2_per_unit, change_pct: -5}\n", "emission_factor"),
        (
            "claims:\n  - {id: a, title: t, kpi: oee, change_pct: 5}\n",
            "bad.yaml:2: missing (and no file-wide periods.baseline) (field claims.0.baseline)",
        ),
        (
            "periods: {baseline: {start: 2026-02-01, end: 2026-01-01}}\nclaims: []\n",
            "periods.baseline",
        ),
        (
            "claims:\n  - {id: a, title: t, kpi: oee, change_pct: 5, colour: red}\n",
            "bad.yaml:2: Extra inputs are not permitted (field claims.0.colour)",
        ),
        ("claims: [\n", "invalid YAML"),
    ],
)
def test_bad_claim_files_name_file_and_field(tmp_path: Path, body: str, where: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(KpiError) as err:
        load_claims(path)
    assert str(path) in str(err.value)
    assert where in str(err.value)


def test_duplicate_ids_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(
        "periods: {baseline: {start: 2026-01-01, end: 2026-01-31},"
        " reporting: {start: 2026-02-01, end: 2026-02-28}}\n"
        "claims:\n  - {id: a, title: t, kpi: oee, change_pct: 5}\n"
        "  - {id: a, title: t, kpi: oee, change_pct: 5}\n",
        encoding="utf-8",
    )
    with pytest.raises(KpiError, match=r"dup\.yaml:4: duplicate id 'a' \(field claims\.1\.id\)"):
        load_claims(path)
    with pytest.raises(KpiError, match="cannot read"):
        load_claims(tmp_path / "nope.yaml")
    with pytest.raises(ValueError, match="end is before start"):
        Period(start=dt.date(2026, 1, 2), end=dt.date(2026, 1, 1))
