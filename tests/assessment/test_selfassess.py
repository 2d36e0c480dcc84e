"""Self-assessment score against hand calculations from the seed's rules (003 attachment 3)."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

import pytest

from assessment.errors import AnswerError, InputError
from assessment.load import assess
from assessment.selfassess import (
    BANDS,
    BY_NUMBER,
    AmountAnswer,
    Answer,
    LevelAnswer,
    NotApplicable,
    band_of,
    eligible_tier,
    score_sheet,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "configs" / "assessment" / "example.yaml"
EXAMPLE_NA = ROOT / "configs" / "assessment" / "example-not-applicable.yaml"

# Table 3 (lines 1343-1370), typed again from the seed so that a slip in either copy shows.
TABLE_3 = {
    2: [("basic", 0, 7), ("fairly", 7, 14), ("fully", 14, 20)],
    3: [("basic", 20, 27), ("fairly", 27, 34), ("fully", 34, 40)],
    4: [("basic", 40, 47), ("fairly", 47, 54), ("fully", 54, 60)],
    5: [("basic", 60, 67), ("fairly", 67, 74), ("fully", 74, 80)],
    6: [("basic", 80, 87), ("fairly", 87, 94), ("fully", 94, 100)],
}


def _sheet(scores: Mapping[int, tuple[int, float] | None]) -> list[Answer]:
    """level/score per indicator; None = not applicable; indicator 7 is declared."""
    out: list[Answer] = []
    for n, entry in scores.items():
        if entry is None:
            out.append(NotApplicable(n))
        elif n == 7:
            out.append(AmountAnswer(7, Fraction(100), Fraction(10), Fraction(str(entry[1])), "doc"))
        else:
            out.append(LevelAnswer(n, entry[0], Fraction(str(entry[1]))))
    return out


def test_table_3_transcribed() -> None:
    assert [(b.level, b.low, b.high) for b in BANDS if b.level == 1] == [(1, 0, 0)]
    for level, rows in TABLE_3.items():
        got = [(b.fit, b.low, b.high) for b in BANDS if b.level == level]
        assert got == [(f, Fraction(lo), Fraction(hi)) for f, lo, hi in rows]
    # Every band is [low, high) except level 2's "(0-7)" and level 1's exact 0.
    assert [(b.level, b.fit) for b in BANDS if not b.low_closed] == [(2, "basic")]
    assert sorted(n for n, i in BY_NUMBER.items() if i.may_be_not_applicable) == [1, 5, 6]


def test_full_sheet_equals_hand_calculation() -> None:
    # 70 + 85 + 76 + 68 + 56 + 64 + 72 + 70 + 78 + 66 = 705 over 10 × 100: 70.5, above 70 -> advanced.
    sheet, result = assess(EXAMPLE)
    assert (result.total, result.full_marks, result.score) == (705, 1000, Fraction(141, 2))
    assert result.eligible == "advanced"
    rows = {r.indicator.number: r for r in result.rows}
    assert rows[2].band is not None and (rows[2].band.level, rows[2].band.fit) == (6, "basic")
    assert rows[3].band is not None and (rows[3].band.level, rows[3].band.fit) == (5, "fully")
    assert rows[7].status == "declared" and "江苏政务服务网" in rows[7].to_json()["score_source"]
    assert sheet.enterprise.startswith("Sample Precision")


def test_not_applicable_indicators_leave_the_total() -> None:
    # Indicators 1 and 5 not applicable: 75 + 70 + 58 + 54 + 60 + 60 + 66 + 57 = 500 over 8 × 100 = 62.5.
    _, result = assess(EXAMPLE_NA)
    assert (result.total, result.full_marks, result.score, result.eligible) == (500, 800, 62.5, "basic")
    assert [r.indicator.number for r in result.rows if r.status == "not applicable"] == [1, 5]
    # The same answers with 1 and 5 at level 1 (score 0) stay over 10 × 100: 50, not eligible.
    answers = [a for a in (r.answer for r in result.rows) if not isinstance(a, NotApplicable)]
    zeroed = score_sheet([*answers, LevelAnswer(1, 1, Fraction(0)), LevelAnswer(5, 1, Fraction(0))])
    assert (zeroed.score, zeroed.eligible) == (50, None)


def test_one_not_applicable_gives_ninths_exactly() -> None:
    # Indicator 6 not applicable; eight scores of 70 and one of 73: 633 / 900 × 100 = 211/3 ≈ 70.33.
    scores: dict[int, tuple[int, float] | None] = {n: (5, 70) for n in range(1, 11)}
    scores[6], scores[10] = None, (5, 73)
    result = score_sheet(_sheet(scores))
    assert result.score == Fraction(211, 3) and result.eligible == "advanced"
    assert result.formula.startswith("633 / 900 × 100 = ≈70.33")


def test_decimal_scores_add_exactly() -> None:
    # 66.9 + 9 × 60.1 = 607.8 -> 60.78 exactly (floats would give 60.779999...).
    scores: dict[int, tuple[int, float] | None] = {n: (5, 60.1) for n in range(1, 11)}
    scores[1] = (5, 66.9)
    assert score_sheet(_sheet(scores)).score == Fraction(6078, 100)


@pytest.mark.parametrize(
    ("score", "eligible"),
    [
        (Fraction(60), None),  # "高于 60": 60 itself is not above
        (Fraction(6001, 100), "basic"),
        (Fraction(70), "basic"),
        (Fraction(7001, 100), "advanced"),
        (Fraction(80), "advanced"),
        (Fraction(90), "excellence"),
        (Fraction(181, 2), "leading"),
    ],
)
def test_eligibility_is_strictly_above(score: Fraction, eligible: str | None) -> None:
    assert eligible_tier(score) == eligible


def test_all_sixty_is_not_eligible() -> None:
    result = score_sheet(_sheet({n: (5, 60) for n in range(1, 11)}))
    assert (result.score, result.eligible) == (60, None)


@pytest.mark.parametrize(
    ("level", "score", "fit"),
    [
        (1, 0, None),
        (2, 0.01, "basic"),
        (2, 6.99, "basic"),
        (2, 7, "fairly"),
        (2, 14, "fully"),
        (2, 19.99, "fully"),
        (3, 20, "basic"),
        (4, 59.99, "fully"),
        (5, 60, "basic"),
        (5, 67, "fairly"),
        (5, 74, "fully"),
        (6, 80, "basic"),
        (6, 87, "fairly"),
        (6, 94, "fully"),
        (6, 99.99, "fully"),
    ],
)
def test_band_edges_inside(level: int, score: float, fit: str | None) -> None:
    assert band_of(BY_NUMBER[2], level, Fraction(str(score))).fit == fit


@pytest.mark.parametrize(
    ("level", "score", "band"),
    [
        (1, 0.5, "exactly 0"),
        (2, 0, "基本符合 (0, 7)"),  # 0 belongs to level 1
        (2, 20, "非常符合 [14, 20)"),
        (4, 60, "[54, 60)"),
        (5, 80, "[74, 80)"),
        (6, 100, "非常符合 [94, 100)"),  # as printed: 100 is outside [94-100)
        (3, 19.99, "基本符合 [20, 27)"),
    ],
)
def test_band_edges_outside(level: int, score: float, band: str) -> None:
    with pytest.raises(AnswerError, match="indicator 2") as err:
        band_of(BY_NUMBER[2], level, Fraction(str(score)))
    assert band in str(err.value) and f"level {level}" in str(err.value)


def test_pure_core_refuses_broken_sheets() -> None:
    full = {n: (5, 70.0) for n in range(1, 11)}
    with pytest.raises(AnswerError, match="unanswered: indicator 9"):
        score_sheet(_sheet({n: e for n, e in full.items() if n != 9}))
    with pytest.raises(AnswerError, match=r"indicator 2 .* cannot be 'not applicable'"):
        score_sheet(_sheet(full | {2: None}))
    with pytest.raises(AnswerError, match="answered twice"):
        score_sheet([*_sheet(full), LevelAnswer(3, 5, Fraction(70))])
    with pytest.raises(AnswerError, match="not a level"):
        score_sheet([*_sheet({n: e for n, e in full.items() if n != 7}), LevelAnswer(7, 5, Fraction(70))])


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            "{indicator: 3, level: 5, score: 76}",
            "{indicator: 3, level: 5, score: 80}",
            ["indicator 3", "非常符合 [74, 80)"],
        ),
        (
            "score: 85, fit: basic}",
            "score: 88, fit: basic}",
            ["indicator 2", "比较符合", "not basic", "[80, 87)"],
        ),
        (
            "{indicator: 8, level: 5, score: 70}",
            "{indicator: 8, not_applicable: true}",
            ["indicator 8", "1, 5 and 6"],
        ),
        (
            "{indicator: 8, level: 5, score: 70}",
            "{indicator: 8, level: 7, score: 70}",
            ["indicator 8", "level 7"],
        ),
        (
            "{indicator: 8, level: 5, score: 70}",
            "{indicator: 8, level: 0, score: 0}",
            ["indicator 8", "level 0"],
        ),
        (
            "{indicator: 10, level: 5, score: 66}",
            "{indicator: 10, level: 2, score: 0}",
            ["indicator 10", "(0, 7)"],
        ),
        (
            "{indicator: 9, level: 5, score: 78}",
            "{indicator: 9, level: 5, score: .nan}",
            ["not a finite number"],
        ),
        (
            "{indicator: 9, level: 5, score: 78}",
            "{indicator: 9, level: 5, score: '78'}",
            ["'78' is not a number"],
        ),
        (
            "{indicator: 6, level: 5, score: 64}",
            "{indicator: 6, not_applicable: true, score: 64}",
            ["takes no score"],
        ),
        ("{indicator: 4, level: 5, score: 68}", "{indicator: 4, level: 5}", ["indicator 4", "needs score"]),
        (
            "{indicator: 4, level: 5, score: 68}",
            "{indicator: 4, level: 5, score: 68, weight: 2}",
            ["Extra inputs"],
        ),
        ("    score: 72", "    score: 100", ["indicator 7", "declared score 100 is outside"]),
        ("    investment_2024: 450", "    investment_2024: 4500", ["indicator 7", "cannot exceed"]),
    ],
)
def test_errors_name_file_line_indicator_and_band(
    tmp_path: Path, old: str, new: str, words: list[str]
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "answers.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as err:
        assess(bad)
    assert err.value.file == str(bad)
    assert err.value.line == _line_of(text, old)
    assert all(w in str(err.value) for w in words), str(err.value)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("  - {indicator: 9, level: 5, score: 78}               # 数据要素\n", "", "unanswered: indicator 9"),
        ("{indicator: 10,", "{indicator: 9,", "indicator 9 is answered twice"),
        ("    source: jszwfw-2025-02", "    source: nowhere", "document 'nowhere' is not listed"),
    ],
)
def test_sheet_level_errors_point_at_the_indicator_list(
    tmp_path: Path, old: str, new: str, words: str
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "answers.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError, match=words) as err:
        assess(bad)
    assert err.value.line == _line_of(text, "indicators:") + 1  # the list itself
