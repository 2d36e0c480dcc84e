"""Enterprise digital-transformation self-assessment, Jiangsu 2025 edition: tables and scoring rule.

Transcribed from 003_78e6f1948a388668.txt, attachment 3 (《江苏省企业数字化转型通用评估指标体系
（2025 年版）》); the numbers in the comments are its line numbers. Pure: no I/O.

- Table 1 (lines 867-936): 2 primary and 10 secondary indicators.
- Table 2 (lines 945-1333): each secondary indicator is answered with a level and a self-score inside
  that level's band (lines 939-943); indicators 1, 5 and 6 offer "□不涉及此环节" (lines 1003, 1164,
  1207). Indicator 7 (数字化投入规模, lines 1213-1230) asks for amounts in 万元, not a level, and the
  seed states no rule that turns the amount into a score ("系统将自动综合计算得分", line 943): its
  score is therefore declared with the document it comes from, and shown as declared.
- Table 3 (lines 1341-1370): the score band of each level, split into 基本符合 / 比较符合 / 非常符合
  from low to high (lines 1335-1339). The bands are half-open as printed: "[94-100)" excludes 100,
  level 2's "(0-7)" excludes 0 (level 1 scores exactly 0).
- Rule 3 (lines 1375-1381): a "not applicable" indicator's weight is spread evenly over the others,
  "即：最终综合得分=其他问题的综合得分/其他问题的总分". The seed gives no per-indicator weights, so all
  ten weigh the same and every indicator's full mark is 100; the final score, in points, is
  100 × (sum of the applicable indicators' scores) / (100 × their number). With no indicator
  excluded this is the plain mean, and the two wordings of rule 3 agree.
- Attachment 4 (lines 1401-1414): a score above 60 / 70 / 80 / 90 ("得分高于") suggests the
  enterprise self-evaluates its scenarios for the basic / advanced / excellence / leading tier.
"""

# layering: pure

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from assessment.errors import AnswerError

SOURCE = "003_78e6f1948a388668.txt attachment 3"
FULL_MARK = 100  # each indicator's 总分: Table 3's bands run from 0 to 100


@dataclass(frozen=True, slots=True)
class Indicator:
    number: int
    name_zh: str
    name_en: str
    primary_zh: str
    primary_en: str
    answered_by: Literal["level", "amount"]
    may_be_not_applicable: bool
    lines: str  # where Table 2 asks it

    @property
    def label(self) -> str:
        return f"indicator {self.number} ({self.name_zh})"


_APP = ("数字化应用能力", "digital application capability")  # Table 1, lines 877-881
_SUP = ("数字化支撑能力", "digital support capability")  # Table 1, lines 921-925

INDICATORS: tuple[Indicator, ...] = (
    Indicator(1, "研发设计数字化水平", "R&D and design digitalisation", *_APP, "level", True, "961-1007"),
    Indicator(
        2, "生产作业数字化水平", "production operations digitalisation", *_APP, "level", False, "1009-1040"
    ),
    Indicator(
        3, "生产管理数字化水平", "production management digitalisation", *_APP, "level", False, "1042-1086"
    ),
    Indicator(
        4, "经营管理数字化水平", "business management digitalisation", *_APP, "level", False, "1088-1121"
    ),
    Indicator(
        5, "营销服务数字化水平", "marketing and service digitalisation", *_APP, "level", True, "1123-1168"
    ),
    Indicator(
        6,
        "产业链供应链协同数字化水平",
        "industrial and supply chain collaboration digitalisation",
        *_APP,
        "level",
        True,
        "1169-1211",
    ),
    Indicator(7, "数字化投入规模", "scale of digital investment", *_SUP, "amount", False, "1213-1230"),
    Indicator(8, "网络与安全", "network and security", *_SUP, "level", False, "1232-1269"),
    Indicator(9, "数据要素", "data as a factor of production", *_SUP, "level", False, "1271-1302"),
    Indicator(10, "组织战略人才", "organisation, strategy and talent", *_SUP, "level", False, "1304-1333"),
)
BY_NUMBER = {i.number: i for i in INDICATORS}

Fit = Literal["basic", "fairly", "fully"]
FITS: dict[str, str] = {"basic": "基本符合", "fairly": "比较符合", "fully": "非常符合"}  # lines 1337-1338
FITS_EN: dict[str, str] = {"basic": "basically meets", "fairly": "fairly meets", "fully": "fully meets"}


@dataclass(frozen=True, slots=True)
class Band:
    level: int
    fit: Fit | None  # None for level 1 ("——")
    low: Fraction
    high: Fraction
    low_closed: bool
    high_closed: bool

    def contains(self, x: Fraction) -> bool:
        above = x >= self.low if self.low_closed else x > self.low
        below = x <= self.high if self.high_closed else x < self.high
        return above and below

    @property
    def text(self) -> str:
        if self.low == self.high:
            return f"{self.low}"
        return f"{'[' if self.low_closed else '('}{self.low}, {self.high}{']' if self.high_closed else ')'}"

    @property
    def fit_text(self) -> str:
        return "——" if self.fit is None else f"{FITS[self.fit]} ({FITS_EN[self.fit]})"


def _b(level: int, fit: Fit, low: int, high: int, low_closed: bool = True) -> Band:
    return Band(level, fit, Fraction(low), Fraction(high), low_closed, False)


# Table 3, lines 1343-1370, exactly as printed.
BANDS: tuple[Band, ...] = (
    Band(1, None, Fraction(0), Fraction(0), True, True),  # line 1345: "1 —— 0"
    _b(2, "basic", 0, 7, low_closed=False),  # line 1348: 基本符合 (0-7)
    _b(2, "fairly", 7, 14),  # line 1349
    _b(2, "fully", 14, 20),  # line 1350
    _b(3, "basic", 20, 27),  # line 1353
    _b(3, "fairly", 27, 34),  # line 1354
    _b(3, "fully", 34, 40),  # line 1355
    _b(4, "basic", 40, 47),  # line 1358
    _b(4, "fairly", 47, 54),  # line 1359
    _b(4, "fully", 54, 60),  # line 1360
    _b(5, "basic", 60, 67),  # line 1363
    _b(5, "fairly", 67, 74),  # line 1364
    _b(5, "fully", 74, 80),  # line 1365
    _b(6, "basic", 80, 87),  # line 1368
    _b(6, "fairly", 87, 94),  # line 1369
    _b(6, "fully", 94, 100),  # line 1370
)
LEVELS = tuple(sorted({b.level for b in BANDS}))

# Attachment 4, lines 1401-1414: "得分高于 N 分" suggests the scenario self-evaluation of this tier.
SELF_EVALUATION_THRESHOLDS: tuple[tuple[str, int], ...] = (
    ("basic", 60),  # lines 1402-1405
    ("advanced", 70),  # lines 1405-1408
    ("excellence", 80),  # lines 1408-1411
    ("leading", 90),  # lines 1411-1414
)


@dataclass(frozen=True, slots=True)
class LevelAnswer:
    indicator: int
    level: int
    score: Fraction
    fit: Fit | None = None  # optional: the degree of fit chosen; must agree with the score


@dataclass(frozen=True, slots=True)
class AmountAnswer:
    """Indicator 7: the amounts asked (万元) and the score, declared with its source document."""

    indicator: int
    investment_total: Fraction  # since 2014, excluding R&D staff costs (lines 1223-1225)
    investment_2024: Fraction  # of which in 2024 (lines 1225-1226)
    score: Fraction
    source: str


@dataclass(frozen=True, slots=True)
class NotApplicable:
    indicator: int


Answer = LevelAnswer | AmountAnswer | NotApplicable


def exact(x: int | float | Fraction) -> Fraction:
    """A YAML number as an exact fraction (66.9 stays 669/10); NaN and infinities are refused."""
    if isinstance(x, Fraction | int):
        return Fraction(x)
    if not math.isfinite(x):
        raise AnswerError(f"{x!r} is not a finite number")
    return Fraction(repr(x))


def number_text(x: Fraction) -> str:
    """Exact decimal when it has at most 4 places, otherwise rounded to 2 with '≈'."""
    for places in range(5):
        scaled = x * 10**places
        if scaled.denominator == 1:
            return f"{float(x):.{places}f}" if places else str(scaled.numerator)
    return f"≈{float(x):.2f}"


def indicator(number: int) -> Indicator:
    if number not in BY_NUMBER:
        raise AnswerError(f"indicator {number} does not exist (Table 1 numbers them 1-10, lines 875-936)")
    return BY_NUMBER[number]


def check_not_applicable(ind: Indicator) -> None:
    if not ind.may_be_not_applicable:
        raise AnswerError(
            f"{ind.label} cannot be 'not applicable': only indicators 1, 5 and 6 offer "
            "不涉及此环节 (lines 1375-1376)"
        )


def check_level(ind: Indicator, level: int) -> None:
    if ind.answered_by != "level":
        raise AnswerError(
            f"{ind.label} is answered with amounts in 万元 (lines {ind.lines}), not a level; "
            "give investment_total, investment_2024, score and source"
        )
    if level not in LEVELS:
        raise AnswerError(f"{ind.label}: level {level} does not exist (levels 1-6, Table 3 lines 1343-1370)")


def level_bands(level: int) -> tuple[Band, ...]:
    return tuple(b for b in BANDS if b.level == level)


def _bands_text(level: int) -> str:
    bands = level_bands(level)
    if len(bands) == 1:
        return f"level {level} scores exactly {bands[0].text}"
    inner = ", ".join(f"{FITS[b.fit]} {b.text}" for b in bands if b.fit is not None)
    return f"level {level}'s band is {inner}"


def band_of(ind: Indicator, level: int, score: Fraction, fit: Fit | None = None) -> Band:
    """The sub-band of `level` that holds `score`; the error names the indicator and the band."""
    check_level(ind, level)
    hit = next((b for b in level_bands(level) if b.contains(score)), None)
    if hit is None:
        raise AnswerError(
            f"{ind.label}: score {number_text(score)} is outside level {level}: {_bands_text(level)} "
            "(Table 3, lines 1343-1370)"
        )
    if fit is not None and hit.fit != fit:
        want = next((b for b in level_bands(level) if b.fit == fit), None)
        where = f"{FITS[fit]} is {want.text}" if want else f"level {level} has no sub-bands"
        raise AnswerError(
            f"{ind.label}: score {number_text(score)} at level {level} is {hit.fit_text} {hit.text}, "
            f"not {fit} ({where})"
        )
    return hit


def declared_band(ind: Indicator, score: Fraction) -> Band:
    """Where a declared score (indicator 7) falls among Table 3's bands; outside them it is refused."""
    hit = next((b for b in BANDS if b.contains(score)), None)
    if hit is None:
        raise AnswerError(
            f"{ind.label}: declared score {number_text(score)} is outside Table 3's range 0 to 100 "
            "(100 excluded, lines 1343-1370)"
        )
    return hit


def check_amounts(ind: Indicator, total: Fraction, in_2024: Fraction) -> None:
    if total < 0 or in_2024 < 0:
        raise AnswerError(f"{ind.label}: investment amounts cannot be negative")
    if in_2024 > total:
        raise AnswerError(
            f"{ind.label}: investment_2024 ({number_text(in_2024)} 万元) is part of investment_total "
            f"since 2014 ({number_text(total)} 万元) and cannot exceed it (其中, line 1225)"
        )


@dataclass(frozen=True, slots=True)
class Rated:
    indicator: Indicator
    answer: Answer
    band: Band | None  # None when not applicable

    @property
    def status(self) -> str:
        if isinstance(self.answer, NotApplicable):
            return "not applicable"
        return "declared" if isinstance(self.answer, AmountAnswer) else "self-scored"

    def to_json(self) -> dict[str, Any]:
        a = self.answer
        row: dict[str, Any] = {
            "indicator": self.indicator.number,
            "name_zh": self.indicator.name_zh,
            "name_en": self.indicator.name_en,
            "primary_zh": self.indicator.primary_zh,
            "status": self.status,
            "level": self.band.level if self.band else None,
            "fit": self.band.fit if self.band else None,
            "band": self.band.text if self.band else None,
            "score": None if isinstance(a, NotApplicable) else float(a.score),
            "source_lines": self.indicator.lines,
        }
        if isinstance(a, AmountAnswer):
            row |= {
                "investment_total_10k_cny": float(a.investment_total),
                "investment_2024_10k_cny": float(a.investment_2024),
                "score_source": a.source,
            }
        return row


def rate(answer: Answer) -> Rated:
    ind = indicator(answer.indicator)
    if isinstance(answer, NotApplicable):
        check_not_applicable(ind)
        return Rated(ind, answer, None)
    if isinstance(answer, AmountAnswer):
        if ind.answered_by != "amount":
            raise AnswerError(f"{ind.label} is answered with a level and a score, not amounts")
        check_amounts(ind, answer.investment_total, answer.investment_2024)
        return Rated(ind, answer, declared_band(ind, answer.score))
    return Rated(ind, answer, band_of(ind, answer.level, answer.score, answer.fit))


def check_complete(numbers: Sequence[int]) -> None:
    seen: set[int] = set()
    for n in numbers:
        if n in seen:
            raise AnswerError(f"indicator {n} is answered twice")
        seen.add(n)
    missing = [i.label for i in INDICATORS if i.number not in seen]
    if missing:
        raise AnswerError(f"unanswered: {', '.join(missing)} (all 10 are asked, line 939)")


def eligible_tier(score: Fraction) -> str | None:
    """The highest tier whose scenario self-evaluation the score suggests (strictly above, '高于')."""
    eligible = [tier for tier, above in SELF_EVALUATION_THRESHOLDS if score > above]
    return eligible[-1] if eligible else None


@dataclass(frozen=True, slots=True)
class Assessment:
    rows: tuple[Rated, ...]
    total: Fraction  # sum of the applicable indicators' scores
    full_marks: int  # their 总分: 100 each
    score: Fraction  # final score in points, 0-100
    eligible: str | None

    @property
    def formula(self) -> str:
        n = self.full_marks // FULL_MARK
        return (
            f"{number_text(self.total)} / {self.full_marks} × 100 = {number_text(self.score)} "
            f"({n} applicable indicator{'s' if n != 1 else ''} × {FULL_MARK})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "source": SOURCE,
            "score": float(self.score),
            "score_exact": str(self.score),
            "total": float(self.total),
            "full_marks": self.full_marks,
            "formula": self.formula,
            "rule": "最终综合得分=其他问题的综合得分/其他问题的总分 (lines 1375-1381)",
            "eligible_tier": self.eligible,
            "thresholds": {tier: above for tier, above in SELF_EVALUATION_THRESHOLDS},
            "indicators": [r.to_json() for r in self.rows],
        }


def score_sheet(answers: Sequence[Answer]) -> Assessment:
    """Rate every answer and combine them by rule 3; any broken rule raises AnswerError."""
    check_complete([a.indicator for a in answers])
    rows = tuple(sorted((rate(a) for a in answers), key=lambda r: r.indicator.number))
    applicable = [r.answer for r in rows if not isinstance(r.answer, NotApplicable)]
    total = sum((a.score for a in applicable if not isinstance(a, NotApplicable)), Fraction(0))
    full_marks = FULL_MARK * len(applicable)
    score = total * 100 / full_marks
    return Assessment(rows, total, full_marks, score, eligible_tier(score))
