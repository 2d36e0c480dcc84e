"""Smart-factory tiers (003 attachments 2 and 4) and the scenario catalogue they count against."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from assessment.errors import AnswerError, InputError
from assessment.factory import (
    BASIC_REQUIREMENTS,
    STAGES,
    TIERS,
    Declaration,
    ImplementedScenario,
    Maturity,
    check_declaration,
    evaluate,
)
from assessment.load import assess, load_declaration, load_scenarios
from assessment.selfassess import AmountAnswer, Answer, Assessment, LevelAnswer, score_sheet

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "configs" / "assessment" / "example.yaml"
DECLARATION = ROOT / "configs" / "assessment" / "factory.yaml"
CATALOGUE = load_scenarios()

# Attachment 1's section headings (lines 182-582), by scenario number.
GROUPS = {
    "工厂建设": range(1, 3),
    "产品设计": range(3, 5),
    "工艺设计": range(5, 7),
    "计划调度": range(7, 9),
    "生产作业": range(9, 14),
    "质量管控": range(14, 16),
    "设备管理": range(16, 18),
    "仓储物流": range(18, 20),
    "安全管控": range(20, 22),
    "能碳管理": range(22, 24),
    "环保管理": range(24, 25),
    "营销与售后": range(25, 28),
    "供应链管理": range(28, 31),
    "信息基础设施": range(31, 34),
    "多环节模式创新": range(34, 41),
}
# The five stages, as configs/scenarios.yaml maps the groups (its header gives attachment 2's lines).
STAGE_OF = (
    {n: "工厂建设" for n in (1, 2, 31, 32, 33)}
    | {n: "研发设计" for n in (3, 4, 5, 6)}
    | {n: "生产作业" for n in (9, 10, 11, 12, 13, 14, 16)}
    | {n: "生产管理" for n in (7, 8, 15, 17, 18, 19, 20, 21, 22, 23, 24)}
    | {n: "运营管理" for n in (25, 26, 27, 28, 29, 30)}
    | {n: "多环节模式创新" for n in range(34, 41)}
)
# "/" cells of attachment 4's table, by guide number (its rows 29 and 30 are the guide's 30 and 29).
NO_BASIC = {1, 2, 4, 8, 11, 23, 28, 30, 34, 35, 36, 37, 38, 39, 40}
NO_ADVANCED = {28, 30, 34, 35, 36, 37, 38, 40}
DOCS = {k: f"{k}: document" for k in BASIC_REQUIREMENTS}


def test_catalogue_has_the_40_scenarios_with_the_seed_stages() -> None:
    assert [s.number for s in CATALOGUE] == list(range(1, 41))
    assert {s.number: s.group for s in CATALOGUE} == {n: g for g, ns in GROUPS.items() for n in ns}
    assert {s.number: s.stage for s in CATALOGUE} == STAGE_OF
    assert {s.number for s in CATALOGUE if "basic" not in s.tiers} == NO_BASIC
    assert {s.number for s in CATALOGUE if "advanced" not in s.tiers} == NO_ADVANCED
    assert all({"excellence", "leading"} <= set(s.tiers) for s in CATALOGUE)
    rows = {s.number: s.reference_row for s in CATALOGUE}
    assert (rows[20], rows[21], rows[29], rows[30]) == (21, 20, 30, 29)
    assert all(rows[n] == n for n in rows if n not in (20, 21, 29, 30))
    names = {s.number: s.name_zh for s in CATALOGUE}
    assert (names[1], names[16], names[17], names[40]) == (
        "工厂数字化设计与交付",
        "设备运行监控",
        "设备智能运维",
        "可持续制造",
    )
    assert next(s for s in CATALOGUE if s.number == 10).reference_name_zh == "人机协同制造"


def _assessment(score: int) -> Assessment:
    """Ten indicators at the same score (indicator 7 declared): the final score is that score."""
    level = next(lv for lv, low in ((6, 80), (5, 60), (4, 40)) if score >= low)
    answers: list[Answer] = [LevelAnswer(n, level, Fraction(score)) for n in range(1, 11) if n != 7]
    answers.append(AmountAnswer(7, Fraction(500), Fraction(50), Fraction(score), "doc"))
    result = score_sheet(answers)
    assert result.score == score
    return result


def _declare(levels: dict[int, str], maturity: int | None) -> Declaration:
    scenarios = tuple(ImplementedScenario(n, lv) for n, lv in levels.items())
    m = Maturity(maturity, "self-evaluation report") if maturity is not None else None
    return Declaration("plant", scenarios, m, dict(DOCS))


def _failing(result: dict[str, Any], tier: str) -> list[str]:
    conditions = result["tiers"][tier]["conditions"]
    return [c["id"] for c in conditions if not c["met"]]


def _met(result: dict[str, Any]) -> list[str]:
    return [t for t, v in result["tiers"].items() if v["met"]]


BASIC_8 = {n: "basic" for n in (3, 5, 7, 9, 12, 15, 22, 25)}  # 9 and 12: 生产作业


def test_basic_tier_met_and_advanced_not() -> None:
    result = evaluate(_assessment(61), _declare(BASIC_8, 2), CATALOGUE)
    assert _met(result) == ["basic"] and result["highest_tier_met"] == "basic"
    assert result["tiers"]["basic"]["verdict"] == "met (relies on declared values)"
    # advanced: score 61 is not above 70, none of the 8 is declared at advanced level.
    assert _failing(result, "advanced") == ["score", "stages", "scenarios"]


def test_basic_tier_edges() -> None:
    seven = {n: lv for n, lv in BASIC_8.items() if n != 25}
    assert _failing(evaluate(_assessment(61), _declare(seven, 2), CATALOGUE), "basic") == ["scenarios"]
    no_operations = {n: "basic" for n in (3, 5, 7, 15, 22, 25, 26, 27)}  # 8 scenarios, none in 生产作业
    result = evaluate(_assessment(61), _declare(no_operations, 2), CATALOGUE)
    assert _failing(result, "basic") == ["stages"]
    assert _failing(evaluate(_assessment(60), _declare(BASIC_8, 2), CATALOGUE), "basic") == ["score"]
    assert _failing(evaluate(_assessment(61), _declare(BASIC_8, 1), CATALOGUE), "basic") == ["maturity"]
    assert _failing(evaluate(_assessment(61), _declare(BASIC_8, None), CATALOGUE), "basic") == ["maturity"]


# 15 at advanced level: 生产作业 9-13, 生产管理 7, 8, 15, 17, 18, 运营管理 25, 26, 29, 工厂建设 31, 33.
ADVANCED_15 = {n: "advanced" for n in (9, 10, 11, 12, 13, 7, 8, 15, 17, 18, 25, 26, 29, 31, 33)}


def test_advanced_tier_met_without_rd_stage() -> None:
    result = evaluate(_assessment(71), _declare(ADVANCED_15, 2), CATALOGUE)
    assert _met(result) == ["basic", "advanced"]
    stages = next(c for c in result["tiers"]["advanced"]["conditions"] if c["id"] == "stages")
    assert stages["value"] == ["工厂建设", "生产作业", "生产管理", "运营管理"]
    assert stages["members"]["运营管理"] == [25, 26, 29]
    # excellence asks for all five stages, 20 scenarios at its level, score above 80, maturity 3.
    assert _failing(result, "excellence") == ["score", "stages", "scenarios", "maturity"]


def test_advanced_tier_needs_operations_management() -> None:
    levels = {n: lv for n, lv in ADVANCED_15.items() if n not in (25, 26, 29)} | {
        n: "advanced" for n in (19, 20, 21)
    }
    result = evaluate(_assessment(71), _declare(levels, 2), CATALOGUE)
    assert _failing(result, "advanced") == ["stages"]
    stages = next(c for c in result["tiers"]["advanced"]["conditions"] if c["id"] == "stages")
    assert stages["note"] == "missing 运营管理"


def test_multi_stage_scenarios_count_but_cover_no_stage() -> None:
    levels = {n: lv for n, lv in ADVANCED_15.items() if n != 33} | {39: "advanced"}
    result = evaluate(_assessment(71), _declare(levels, 2), CATALOGUE)
    assert "advanced" in _met(result)
    count = next(c for c in result["tiers"]["advanced"]["conditions"] if c["id"] == "scenarios")
    assert count["value"] == 15 and 39 in count["members"]
    stages = next(c for c in result["tiers"]["advanced"]["conditions"] if c["id"] == "stages")
    assert 39 not in [n for ns in stages["members"].values() for n in ns]


# 20 at excellence level covering all five stages.
EXCELLENCE_20 = {
    n: "excellence" for n in (1, 2, 3, 4, 9, 10, 11, 12, 14, 16, 7, 8, 15, 17, 22, 25, 28, 29, 34, 36)
}


def test_excellence_tier() -> None:
    result = evaluate(_assessment(81), _declare(EXCELLENCE_20, 3), CATALOGUE)
    assert _met(result) == ["basic", "advanced", "excellence"]
    assert _failing(result, "leading") == ["score", "stages", "scenarios", "maturity"]
    # Scenarios declared at excellence count at every tier below it.
    basic_count = next(c for c in result["tiers"]["basic"]["conditions"] if c["id"] == "scenarios")
    assert basic_count["value"] == 20
    at_two = evaluate(_assessment(81), _declare(EXCELLENCE_20, 2), CATALOGUE)
    assert _failing(at_two, "excellence") == ["maturity"]
    maturity = next(c for c in at_two["tiers"]["excellence"]["conditions"] if c["id"] == "maturity")
    assert (maturity["status"], maturity["value"], maturity["required"]) == ("declared", 2, ">= 3")


LEADING_25 = {n: "leading" for n in (*EXCELLENCE_20, 5, 6, 13, 18, 30)}


def test_leading_tier() -> None:
    assert len(LEADING_25) == 25
    result = evaluate(_assessment(91), _declare(LEADING_25, 4), CATALOGUE)
    assert _met(result) == ["basic", "advanced", "excellence", "leading"]
    assert result["highest_tier_met"] == "leading"
    assert _failing(evaluate(_assessment(90), _declare(LEADING_25, 4), CATALOGUE), "leading") == ["score"]
    fewer = {n: lv for n, lv in LEADING_25.items() if n != 30}
    assert _failing(evaluate(_assessment(91), _declare(fewer, 4), CATALOGUE), "leading") == ["scenarios"]
    assert _failing(evaluate(_assessment(91), _declare(LEADING_25, 3), CATALOGUE), "leading") == ["maturity"]


def test_every_tier_needs_the_basic_requirements_declared() -> None:
    d = _declare(LEADING_25, 4)
    missing = Declaration(
        d.factory, d.scenarios, d.maturity, {k: v for k, v in DOCS.items() if k != "above_scale"}
    )
    result = evaluate(_assessment(91), missing, CATALOGUE)
    assert _met(result) == [] and result["highest_tier_met"] is None
    assert all(_failing(result, t.id) == ["basic.above_scale"] for t in TIERS)


def test_tier_table_transcribed() -> None:
    got = [(t.id, t.score_above, t.stages, t.scenarios_at_least, t.maturity_at_least) for t in TIERS]
    assert got == [
        ("basic", 60, ("生产作业",), 8, 2),
        ("advanced", 70, ("生产作业", "生产管理", "运营管理"), 15, 2),
        ("excellence", 80, STAGES, 20, 3),
        ("leading", 90, STAGES, 25, 4),
    ]


def test_declarations_that_break_the_reference_table() -> None:
    with pytest.raises(AnswerError, match=r"scenario 28 .* no 基础级 \(basic\) description"):
        check_declaration(_declare({28: "basic"}, 2), CATALOGUE)
    with pytest.raises(AnswerError, match="scenario 41 does not exist"):
        check_declaration(_declare({41: "basic"}, 2), CATALOGUE)
    named = Declaration("p", (ImplementedScenario(20, "basic", "安全一体化管控"),), None, {})
    with pytest.raises(AnswerError, match="安全一体化管控 is scenario 21 of the guide"):
        check_declaration(named, CATALOGUE)
    twice = Declaration("p", (ImplementedScenario(9, "basic"), ImplementedScenario(9, "advanced")), None, {})
    with pytest.raises(AnswerError, match="declared twice"):
        check_declaration(twice, CATALOGUE)


def test_shipped_declaration_with_the_example_sheet() -> None:
    _, sheet = assess(EXAMPLE)
    result = evaluate(sheet, load_declaration(DECLARATION, CATALOGUE), CATALOGUE)
    assert _met(result) == ["basic", "advanced"]
    assert _failing(result, "excellence") == ["score", "stages", "scenarios"]
    assert _failing(result, "leading") == ["score", "stages", "scenarios", "maturity"]
    maturity = next(c for c in result["tiers"]["advanced"]["conditions"] if c["id"] == "maturity")
    assert "gbt39116-cert-2024" in maturity["note"] and maturity["source"].startswith("gbt39116-self-2025")


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            "{number: 24, level: basic}",
            "{number: 28, level: basic}",
            "scenario 28 (供应链计划协同优化) has no 基础级",
        ),
        (
            "{number: 10, name: 人机协同作业,",
            "{number: 10, name: 设备运行监控,",
            "scenario 10 is 人机协同作业",
        ),
        ("{number: 24, level: basic}", "{number: 24, level: gold}", "level 'gold' is not a tier"),
    ],
)
def test_declaration_errors_name_file_line_and_scenario(
    tmp_path: Path, old: str, new: str, words: str
) -> None:
    text = DECLARATION.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "factory.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_declaration(bad, CATALOGUE)
    assert err.value.file == str(bad)
    assert err.value.line == next(i for i, ln in enumerate(text.splitlines(), 1) if old in ln)
    assert words in str(err.value)


def test_declaration_cites_listed_documents(tmp_path: Path) -> None:
    text = DECLARATION.read_text(encoding="utf-8").replace("  source: gbt39116-self-2025", "  source: lost")
    bad = tmp_path / "factory.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="maturity source: document 'lost' is not listed"):
        load_declaration(bad, CATALOGUE)


def test_catalogue_must_hold_40(tmp_path: Path) -> None:
    text = (ROOT / "configs" / "scenarios.yaml").read_text(encoding="utf-8")
    short = tmp_path / "scenarios.yaml"
    short.write_text("\n".join(ln for ln in text.splitlines() if "number: 40," not in ln), encoding="utf-8")
    with pytest.raises(InputError, match="must number 1-40"):
        load_scenarios(short)
