"""Tier table: every threshold of GUIDELINES §1 with pass / fail / declared."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.errors import CollectorError
from collector.figures.declared import EMPTY, load_declared
from collector.figures.model import (
    Breakdown,
    ByRule,
    Connected,
    Distinct,
    Figures,
    Invocations,
    Managed,
    Points,
)
from collector.figures.rows import FIGURE_ROWS, FigureRow, check_rows
from collector.figures.tiers import (
    MEASURES,
    THRESHOLDS,
    TIERS,
    Threshold,
    TierTableError,
    check_table,
    evaluate,
    measure,
)

ROOT = Path(__file__).resolve().parents[2]


def _figures(connected: int, points: int, managed: int, invocations: float | None, types: int = 3) -> Figures:
    """Figures with the given headline values and nothing else counted."""

    def devices(value: int) -> Connected:
        return Connected(16, value, 0, {}, {}, {}, (), ())

    def collected(value: int) -> Points:
        return Points(16, value, 0, {}, (), ())

    return Figures(
        include_simulated=False,
        connected_equipment=ByRule(devices(connected), devices(0), devices(0)),
        data_collection_points=ByRule(collected(points), collected(0), collected(0)),
        equipment_types=Distinct(types, (), 0, ()),
        industries=Distinct(2, (), 0, ()),
        breakdown_by_industry={"C34": Breakdown(connected, 0, ()), "C26": Breakdown(0, points, ())},
        breakdown_by_sector={},
        managed_equipment=Managed(managed, 0, types, {}, (), ()),
        demonstrated_management_capacity=None,
        monthly_model_invocations=Invocations(invocations, {}, (), {}),
    )


def test_every_threshold_listed_with_status() -> None:
    result = evaluate(_figures(61, 10, 5000, 150.0), EMPTY)
    ids = [row["id"] for tier in result.values() for row in tier["thresholds"]]
    assert ids == [t.id for t in THRESHOLDS] and set(result) == set(TIERS)
    for tier in result.values():
        for row in tier["thresholds"]:
            assert row["status"] in {"pass", "fail", "declared"}
            assert row["term"] and row["minimum"] > 0
    ent = {r["id"]: r for r in result["enterprise"]["thresholds"]}
    assert ent["E1"]["status"] == "pass" and ent["E1"]["value"] == 61
    assert ent["E2"]["status"] == "fail"
    assert ent["E3"]["status"] == "pass" and ent["E6"]["status"] == "pass"
    assert ent["E4"]["status"] == "declared" and ent["E4"]["note"] == "not declared" and not ent["E4"]["met"]
    assert result["enterprise"]["verdict"] == "not met"  # models and apps not declared


def test_declared_values_and_verdicts(tmp_path: Path) -> None:
    declared = load_declared(ROOT / "configs" / "declared.yaml")
    assert declared.values["industrial_models"].source.startswith("model-catalogue")
    result = evaluate(_figures(61, 10, 5000, 150.0), declared)
    ent = {r["id"]: r for r in result["enterprise"]["thresholds"]}
    assert ent["E4"]["status"] == "declared" and ent["E4"]["met"] and ent["E4"]["value"] == 12
    assert result["enterprise"]["verdict"] == "met (relies on declared values)"
    assert evaluate(_figures(59, 999, 5000, 150.0), declared)["enterprise"]["verdict"] == "not met"
    assert evaluate(_figures(60, 0, 4999, 150.0), declared)["enterprise"]["verdict"] == "not met"
    assert evaluate(_figures(60, 0, 5000, None), declared)["enterprise"]["verdict"] == "not met"
    # cross-industry access: 30,000 devices need 10 types as well
    x = {
        r["id"]: r
        for r in evaluate(_figures(30000, 0, 0, 0, types=9), declared)["cross_industry"]["thresholds"]
    }
    assert x["X1"]["status"] == "pass" and x["X2"]["status"] == "fail"

    bad = tmp_path / "bad.yaml"
    bad.write_text("documents: {a: doc}\nvalues:\n  industrial_modles: {value: 3, source: a}\n")
    with pytest.raises(CollectorError, match=r"values\.industrial_modles: unknown key"):
        load_declared(bad)
    bad.write_text("documents: {a: doc}\nvalues:\n  industrial_models: {value: 3, source: b}\n")
    with pytest.raises(CollectorError, match=r"industrial_models\.source"):
        load_declared(bad)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (Threshold("enterprise", "E9", "conected_equipment", 60, "t"), "conected_equipment. is neither"),
        (Threshold("provincial", "P1", "connected_equipment", 60, "t"), "unknown tier 'provincial'"),
        (Threshold("enterprise", "E1", "connected_equipment", 60, "repeat"), "enterprise/E1: id repeats"),
        (Threshold("enterprise", "E9", "industries", float("nan"), "nan"), "is not a number >= 0"),
    ],
)
def test_a_bad_threshold_is_refused_naming_it(bad: Threshold, message: str) -> None:
    check_table(THRESHOLDS)  # the shipped table passes (it did at import, too)
    with pytest.raises(TierTableError, match=message):
        check_table((*THRESHOLDS, bad))


def test_figure_rows_table_is_checked() -> None:
    keys = [r.key for r in FIGURE_ROWS]
    assert len(set(keys)) == len(keys) and "monthly_model_invocations" in keys
    check_rows(FIGURE_ROWS)
    with pytest.raises(ValueError, match=r"repeat a key: \[.managed_equipment.\]"):
        check_rows((*FIGURE_ROWS, FIGURE_ROWS[-2]))
    bad = FigureRow(
        "points_hourly", "data_collection_points", "points", lambda f: 0, None, "x", rule="hourly"
    )
    with pytest.raises(ValueError, match="points_hourly: unknown rule 'hourly'"):
        check_rows((bad,))


def test_every_measured_key_reads_the_figures() -> None:
    figures = _figures(61, 1200, 5000, 150.0, types=4)
    assert {k: measure(figures, k) for k in MEASURES} == {
        "connected_equipment": 61,
        "data_collection_points": 1200,
        "connected_equipment_one_industry": 61.0,
        "data_collection_points_one_industry": 1200.0,
        "equipment_types": 4,
        "industries": 2,
        "industries_500_devices_or_1000_points": 1.0,
        "managed_equipment": 5000,
        "managed_equipment_types": 4,
        "monthly_model_invocations": 150.0,
    }
