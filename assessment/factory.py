"""Smart-factory tiers, Jiangsu 2025 edition: every condition of each tier, evaluated. Pure: no I/O.

Transcribed from 003_78e6f1948a388668.txt, attachment 2 (《江苏省智能工厂梯度建设要素条件（2025 年版）》,
lines 653-855) and attachment 4 (lines 1382-1419); line numbers in the comments.

Each tier asks (attachment 2): the basic requirements 1-5 of section 一 (lines 666-691; item 5 is a
self-assessment score above 60); the stages its scenarios must cover; a minimum number of scenarios
of the self-evaluation reference (attachment 4's table); and a GB/T 39116-2020 maturity level.
Attachment 4 (lines 1401-1414) adds the score above which the tier's scenario self-evaluation is
suggested (60 / 70 / 80 / 90). A scenario counts at a tier when it is declared at that tier's
description or a higher one.

Statuses, as in the platform tiers (collector/figures/tiers.py): "pass" / "fail" where this software
evaluates the rule from its inputs (the score computed from the answer sheet; scenarios counted
against the shipped catalogue), "declared" where it takes the applicant's word with a named document
(maturity level, basic requirements 1-4). A tier is met when every condition is met.
"""

# layering: pure

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from assessment.errors import AnswerError
from assessment.selfassess import SELF_EVALUATION_THRESHOLDS, Assessment, number_text

SEED = "003_78e6f1948a388668.txt"
SOURCE = f"{SEED} attachments 2 and 4"
STAGES: tuple[str, ...] = ("工厂建设", "研发设计", "生产作业", "生产管理", "运营管理")  # lines 697-699
STAGES_EN: dict[str, str] = {
    "工厂建设": "factory construction",
    "研发设计": "R&D and design",
    "生产作业": "production operations",
    "生产管理": "production management",
    "运营管理": "operations management",  # the leading tier writes 经营管理 (line 851)
}
MULTI_STAGE = "多环节模式创新"  # counts towards the number of scenarios, covers none of the five stages
TIER_IDS: tuple[str, ...] = ("basic", "advanced", "excellence", "leading")
MATURITY_LEVELS = (1, 2, 3, 4, 5)  # GB/T 39116-2020 一级-五级 (application form, line 2867)

# Attachment 2 section 一, items 1-4 (item 5 is the score condition).
BASIC_REQUIREMENTS: dict[str, tuple[str, str]] = {
    "above_scale": ("企业为规模以上工业企业，企业和产品均具有较强市场竞争力", "lines 668-672"),
    "sound_operation": (
        "企业近三年生产经营正常，诚信守法，近三年未发生重大（含）以上安全、环保、质量事故（事件），"
        "未被列入严重失信主体名单",
        "lines 674-677",
    ),
    "secure_and_controllable": (
        "工厂使用的关键技术装备、工业软件、工业操作系统、系统解决方案等安全可控，网络安全和数据安全风险可控",
        "lines 680-682",
    ),
    "organisation_and_talent": (
        "企业应建立智能工厂统筹规划、建设和运营的组织机制，拥有一批智能制造专业人才",
        "lines 684-686",
    ),
}


@dataclass(frozen=True, slots=True)
class Tier:
    id: str
    name_zh: str
    score_above: int
    stages: tuple[str, ...]
    scenarios_at_least: int
    maturity_at_least: int
    lines: str  # the tier's section in attachment 2

    @property
    def rank(self) -> int:
        return TIER_IDS.index(self.id)


_THRESHOLD = dict(SELF_EVALUATION_THRESHOLDS)
TIERS: tuple[Tier, ...] = (
    # 二、基础级: "至少覆盖生产作业环节，建设场景数不低于……8 个场景" … "二级及以上" (lines 695-705)
    Tier("basic", "基础级", _THRESHOLD["basic"], ("生产作业",), 8, 2, "693-705"),
    # 三、先进级: "至少覆盖生产作业、生产管理、运营管理三个环节" "不低于 15 个场景" "二级及以上" (729-736)
    Tier(
        "advanced", "先进级", _THRESHOLD["advanced"], ("生产作业", "生产管理", "运营管理"), 15, 2, "727-736"
    ),
    # 四、卓越级: "覆盖全部五个环节" "不低于 20 个场景" "三级及以上" (772-779)
    Tier("excellence", "卓越级", _THRESHOLD["excellence"], STAGES, 20, 3, "770-779"),
    # 五、领航级: "覆盖全部五个环节" "不低于 25 个场景" "四级及以上" (819-827)
    Tier("leading", "领航级", _THRESHOLD["leading"], STAGES, 25, 4, "813-827"),
)
BY_ID = {t.id: t for t in TIERS}


@dataclass(frozen=True, slots=True)
class Scenario:
    number: int
    name_zh: str
    name_en: str
    group: str
    stage: str
    tiers: tuple[str, ...]  # columns of the reference table that describe it
    reference_row: int
    reference_name_zh: str


@dataclass(frozen=True, slots=True)
class ImplementedScenario:
    number: int
    level: str  # the tier whose description in attachment 4's table the scenario meets
    name: str | None = None  # optional: the declared name, checked against the number
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Maturity:
    level: int
    source: str  # the document the self-evaluated level comes from
    certificate: str | None = None  # 智能制造成熟度认定证书 (not required, line 2871)
    certificate_level: int | None = None


@dataclass(frozen=True, slots=True)
class Declaration:
    factory: str
    scenarios: tuple[ImplementedScenario, ...]
    maturity: Maturity | None
    basic_requirements: dict[str, str]  # requirement key -> the document that shows it


def check_catalogue(catalogue: Sequence[Scenario]) -> None:
    """The catalogue must be the guide's 40 scenarios, each with a known stage and tier columns."""
    numbers = [s.number for s in catalogue]
    if numbers != list(range(1, 41)):
        raise AnswerError(f"the scenario catalogue must number 1-40 in order (the 2024 guide), got {numbers}")
    for s in catalogue:
        if s.stage not in (*STAGES, MULTI_STAGE):
            raise AnswerError(f"scenario {s.number}: unknown stage {s.stage!r}")
        if not s.tiers or any(t not in TIER_IDS for t in s.tiers):
            raise AnswerError(f"scenario {s.number}: tiers must be among {', '.join(TIER_IDS)}")


def check_scenario(catalogue: Sequence[Scenario], number: int, level: str, name: str | None) -> Scenario:
    """A declared scenario exists, is described at the declared tier and, if named, is named right."""
    by_number = {s.number: s for s in catalogue}
    if number not in by_number:
        raise AnswerError(f"scenario {number} does not exist (the 2024 guide numbers 1-40, lines 177-652)")
    s = by_number[number]
    if name is not None and name not in (s.name_zh, s.reference_name_zh):
        other = next((c for c in catalogue if name in (c.name_zh, c.reference_name_zh)), None)
        hint = (
            f"; {name} is scenario {other.number} of the guide (row {other.reference_row} of attachment 4)"
            if other
            else ""
        )
        raise AnswerError(f"scenario {number} is {s.name_zh}, not {name}{hint}")
    if level not in TIER_IDS:
        raise AnswerError(f"scenario {number}: level {level!r} is not a tier ({', '.join(TIER_IDS)})")
    if level not in s.tiers:
        raise AnswerError(
            f"scenario {number} ({s.name_zh}) has no {BY_ID[level].name_zh} ({level}) description in "
            f"attachment 4's table (row {s.reference_row} reads '/'); it is described at {', '.join(s.tiers)}"
        )
    return s


def check_maturity(m: Maturity) -> None:
    for what, level in (("level", m.level), ("certificate level", m.certificate_level)):
        if level is not None and level not in MATURITY_LEVELS:
            raise AnswerError(f"maturity {what} {level} is not a GB/T 39116-2020 level (1-5)")
    if (m.certificate is None) != (m.certificate_level is None):
        raise AnswerError("a maturity certificate needs both its document and its level")


def check_declaration(d: Declaration, catalogue: Sequence[Scenario]) -> None:
    seen: set[int] = set()
    for s in d.scenarios:
        if s.number in seen:
            raise AnswerError(f"scenario {s.number} is declared twice")
        seen.add(s.number)
        check_scenario(catalogue, s.number, s.level, s.name)
    if d.maturity is not None:
        check_maturity(d.maturity)
    unknown = sorted(set(d.basic_requirements) - set(BASIC_REQUIREMENTS))
    if unknown:
        raise AnswerError(f"unknown basic requirement(s) {unknown} (known: {', '.join(BASIC_REQUIREMENTS)})")


@dataclass(frozen=True, slots=True)
class Condition:
    id: str
    term: str  # the seed's wording, with where it stands
    status: str  # "pass" | "fail" | "declared"
    required: str | list[str]
    value: float | int | str | list[str] | None
    met: bool
    source: str | None  # the input or declared document the value comes from
    note: str = ""
    members: dict[str, list[int]] | list[int] | None = None  # the scenarios counted

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def _computed(ok: bool) -> str:
    return "pass" if ok else "fail"


def _basic_requirements(d: Declaration) -> list[Condition]:
    return [
        Condition(
            f"basic.{key}",
            f"{term} (attachment 2 一, {lines})",
            "declared",
            "a named document",
            d.basic_requirements.get(key),
            key in d.basic_requirements,
            d.basic_requirements.get(key),
            "" if key in d.basic_requirements else "not declared",
        )
        for key, (term, lines) in BASIC_REQUIREMENTS.items()
    ]


def _score(tier: Tier, score: Fraction) -> Condition:
    above = tier.score_above
    term = (
        "自评价得分高于 60 分 (attachment 2 一.5, lines 688-691)"
        if above == 60
        else f"得分高于 {above} 分 (attachment 4 一, lines 1401-1414; implies attachment 2 一.5)"
    )
    exactly = f"exactly {score}" if number_text(score).startswith("≈") else ""
    return Condition(
        "score",
        term,
        _computed(score > above),
        f"> {above}",
        float(score),
        score > above,
        "self-assessment answer sheet",
        exactly,
    )


def _scenarios(tier: Tier, d: Declaration, catalogue: Sequence[Scenario]) -> list[Condition]:
    stage_of = {s.number: s.stage for s in catalogue}
    counted = sorted(s.number for s in d.scenarios if TIER_IDS.index(s.level) >= tier.rank)
    covered = [st for st in STAGES if any(stage_of[n] == st for n in counted)]
    missing = [st for st in tier.stages if st not in covered]
    n, least = len(counted), tier.scenarios_at_least
    return [
        Condition(
            "stages",
            f"覆盖{'、'.join(tier.stages)}环节 (attachment 2, lines {tier.lines})",
            _computed(not missing),
            list(tier.stages),
            covered,
            not missing,
            "factory declaration",
            f"missing {', '.join(missing)}" if missing else "",
            {st: [x for x in counted if stage_of[x] == st] for st in covered},
        ),
        Condition(
            "scenarios",
            f"建设场景数不低于 {least} 个 (attachment 2, lines {tier.lines})",
            _computed(n >= least),
            f">= {least}",
            n,
            n >= least,
            "factory declaration",
            f"scenarios declared at {tier.id} level or above",
            counted,
        ),
    ]


def _maturity(tier: Tier, m: Maturity | None) -> Condition:
    term = (
        f"智能制造能力成熟度自评价水平达到 GB/T 39116-2020 {tier.maturity_at_least} 级及以上 "
        f"(attachment 2, lines {tier.lines})"
    )
    if m is None:
        return Condition(
            "maturity", term, "declared", f">= {tier.maturity_at_least}", None, False, None, "not declared"
        )
    note = (
        f"certificate: {m.certificate} (level {m.certificate_level})"
        if m.certificate
        else "no certificate named (not required, line 2871)"
    )
    if m.certificate_level is not None and m.certificate_level < m.level:
        note += f"; the certificate's level {m.certificate_level} is below the self-evaluated level {m.level}"
    return Condition(
        "maturity",
        term,
        "declared",
        f">= {tier.maturity_at_least}",
        m.level,
        m.level >= tier.maturity_at_least,
        m.source,
        note,
    )


def conditions(tier: Tier, score: Fraction, d: Declaration, catalogue: Sequence[Scenario]) -> list[Condition]:
    """Every condition of one tier, in the order attachment 2 states them."""
    return [
        *_basic_requirements(d),
        _score(tier, score),
        *_scenarios(tier, d, catalogue),
        _maturity(tier, d.maturity),
    ]


def evaluate(assessment: Assessment, d: Declaration, catalogue: Sequence[Scenario]) -> dict[str, Any]:
    """Per tier: every condition with its value and status, and whether the tier is met."""
    check_catalogue(catalogue)
    check_declaration(d, catalogue)
    tiers: dict[str, Any] = {}
    for tier in TIERS:
        rows = conditions(tier, assessment.score, d, catalogue)
        met = all(r.met for r in rows)
        declared = any(r.status == "declared" for r in rows)
        verdict = "not met" if not met else "met (relies on declared values)" if declared else "met"
        tiers[tier.id] = {
            "name_zh": tier.name_zh,
            "source": f"{SEED} attachment 2, lines {tier.lines}",
            "verdict": verdict,
            "met": met,
            "conditions": [r.to_json() for r in rows],
        }
    reached = [t for t in TIER_IDS if tiers[t]["met"]]
    return {
        "factory": d.factory,
        "score": float(assessment.score),
        "eligible_tier": assessment.eligible,
        "highest_tier_met": reached[-1] if reached else None,
        "tiers": tiers,
    }
