"""Every threshold of the four platform tiers (GUIDELINES §1; seeds 000, attachments 3-4 to 3-7).

A tier is met when, for every requirement group, one alternative has all its thresholds met.
Thresholds plant data cannot measure read a declared value and are shown as "declared".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collector.figures.declared import DECLARED_KEYS, Declared
from collector.figures.model import Breakdown, Figures

SOURCE = "000_bdb1f17e7eba8b28.txt"
TIERS: dict[str, str] = {
    "enterprise": f"{SOURCE} attachment 3-4, section 2 (platform service capability)",
    "industry": f"{SOURCE} attachment 3-5, section 2",
    "regional": f"{SOURCE} attachment 3-6, sections 2-3",
    "cross_industry": f"{SOURCE} attachment 3-7, section 2",
}


class TierTableError(ValueError):
    """The threshold table names a figure nothing measures or declares, a tier that does not exist,
    or repeats an id: raised when this module is imported, not when a window is evaluated."""


@dataclass(frozen=True, slots=True)
class Threshold:
    tier: str
    id: str
    figure: str  # a measured key (MEASURES) or a declared key (DECLARED_KEYS)
    minimum: float
    term: str  # the source document's wording
    group: str = ""  # thresholds sharing a group are alternatives (any one alternative suffices)
    alternative: str = ""  # thresholds sharing an alternative must all be met

    @property
    def declared(self) -> bool:
        return self.figure in DECLARED_KEYS


def _max_by_industry(figures: Figures, field: Callable[[Breakdown], int]) -> float:
    return float(max((field(r) for r in figures.breakdown_by_industry.values()), default=0))


def _broad_industries(figures: Figures) -> float:
    rows = figures.breakdown_by_industry.values()
    return float(sum(1 for r in rows if r.connected_equipment >= 500 or r.data_collection_points >= 1000))


# A threshold names its figure by one of these keys; `measure` is the only reader.
MEASURES: dict[str, Callable[[Figures], float | None]] = {
    "connected_equipment": lambda f: f.connected_equipment.default.value,
    "data_collection_points": lambda f: f.data_collection_points.default.value,
    "connected_equipment_one_industry": lambda f: _max_by_industry(f, lambda r: r.connected_equipment),
    "data_collection_points_one_industry": lambda f: _max_by_industry(f, lambda r: r.data_collection_points),
    "equipment_types": lambda f: f.equipment_types.value,
    "industries": lambda f: f.industries.value,
    "industries_500_devices_or_1000_points": _broad_industries,
    "managed_equipment": lambda f: f.managed_equipment.value,
    "managed_equipment_types": lambda f: f.managed_equipment.types,
    "monthly_model_invocations": lambda f: f.monthly_model_invocations.value,
}


def measure(figures: Figures, key: str) -> float | None:
    """The measured value a threshold's figure key names (keys checked by check_table at import)."""
    return MEASURES[key](figures)


def _t(
    tier: str, id_: str, figure: str, minimum: float, term: str, group: str = "", alt: str = ""
) -> Threshold:
    return Threshold(tier, id_, figure, minimum, term, group, alt)


THRESHOLDS: tuple[Threshold, ...] = (
    # 3-4 enterprise
    _t(
        "enterprise",
        "E1",
        "connected_equipment",
        60,
        "接入不少于60台工业设备（离散行业）",
        "access",
        "discrete",
    ),
    _t(
        "enterprise",
        "E2",
        "data_collection_points",
        1000,
        "不少于1000个工艺流程数据采集点",
        "access",
        "process",
    ),
    _t("enterprise", "E3", "managed_equipment", 5000, "可管理设备数量应达到5000台"),
    _t("enterprise", "E4", "industrial_models", 10, "提供不少于10个工业模型"),
    _t("enterprise", "E5", "industrial_apps", 10, "不少于10项工业APP应用"),
    _t("enterprise", "E6", "monthly_model_invocations", 150, "工业模型的月均调用次数不少于150次"),
    # 3-5 industry
    _t(
        "industry",
        "I1",
        "connected_equipment_one_industry",
        600,
        "连接不少于600台特定行业工业设备",
        "access",
        "d",
    ),
    _t(
        "industry",
        "I2",
        "data_collection_points_one_industry",
        3000,
        "不少于3000个特定行业工艺流程数据采集点",
        "access",
        "p",
    ),
    _t("industry", "I3", "managed_equipment", 10000, "可管理设备数量应达到10000台"),
    _t("industry", "I4", "mechanism_models", 30, "不少于30个特定行业机理模型"),
    _t("industry", "I5", "analysis_algorithms", 30, "不少于30个工业数据分析算法"),
    _t("industry", "I6", "industrial_apps", 25, "不少于25个特定行业工业APP"),
    _t("industry", "I7", "subscribers", 60, "总订阅用户数不少于60家"),
    _t("industry", "I8", "monthly_model_invocations", 600, "每月平均调用次数在600次以上"),
    _t("industry", "I9", "third_party_developers", 100, "第三方开发者数量不少于100人"),
    # 3-6 regional
    _t("regional", "R1", "connected_equipment", 800, "连接不少于800台工业设备"),
    _t("regional", "R2", "managed_equipment", 100000, "可管理设备数量不少于100000台"),
    _t("regional", "R3", "mechanism_models", 30, "不少于30个工业机理模型"),
    _t("regional", "R4", "analysis_algorithms", 30, "不少于30个工业数据分析算法"),
    _t("regional", "R5", "industrial_apps", 25, "不少于25个工业APP"),
    _t("regional", "R6", "subscriber_share_of_park", 0.10, "总订阅用户数不少于园区企业总数的10%"),
    _t("regional", "R7", "monthly_model_invocations", 600, "每月平均调用次数在600次以上"),
    _t("regional", "R8", "decision_management_apps", 10, "不少于10项决策支撑和管理支撑的APP"),
    _t("regional", "R9", "analysis_reports", 5, "至少为园区提供5份能耗、经济运行等分析报告"),
    _t("regional", "R10", "served_share_of_park", 0.30, "服务园区内的企业数不少于规模以上工业企业总数的30%"),
    _t("regional", "R11", "industries", 2, "服务至少2个行业"),
    # 3-7 cross-industry and cross-domain
    _t(
        "cross_industry",
        "X1",
        "connected_equipment",
        30000,
        "连接不少于30000台工业设备",
        "access",
        "discrete",
    ),
    _t("cross_industry", "X2", "equipment_types", 10, "且设备种类达10以上", "access", "discrete"),
    _t(
        "cross_industry",
        "X3",
        "data_collection_points",
        50000,
        "或不少于50000个特定行业工艺流程数据采集点",
        "access",
        "process",
    ),
    _t("cross_industry", "X4", "managed_equipment", 1000000, "设备总数量应达到1000000台"),
    _t("cross_industry", "X5", "managed_equipment_types", 10, "可管理设备种类应在10种以上"),
    _t("cross_industry", "X6", "cloud_software_kinds", 5, "部署云化软件种类至少5种"),
    _t("cross_industry", "X7", "cloud_software_count", 20, "且数量应为20个以上"),
    _t("cross_industry", "X8", "mechanism_models", 100, "不少于100个工业机理模型"),
    _t("cross_industry", "X9", "model_categories", 5, "（机理模型）不少于5类"),
    _t("cross_industry", "X10", "analysis_algorithms", 200, "不少于200个工业数据分析算法"),
    _t("cross_industry", "X11", "industrial_apps", 300, "不少于300个工业APP"),
    _t("cross_industry", "X12", "app_categories", 6, "（工业APP）不少于6类"),
    _t("cross_industry", "X13", "subscribers", 500, "总订阅用户数不少于500家"),
    _t("cross_industry", "X14", "monthly_model_invocations", 1000, "每月平均调用次数在1000次以上"),
    _t("cross_industry", "X15", "dev_tools", 5, "开发工具数量在5个以上"),
    _t("cross_industry", "X16", "sdk_developers", 200, "调用开发工具包开发者数在200个以上"),
    _t("cross_industry", "X17", "sdk_calls_per_month", 300, "每月调用次数在300次以上"),
    _t("cross_industry", "X18", "dev_languages", 5, "开发语言数量在5类以上"),
    _t("cross_industry", "X19", "third_party_developers", 500, "第三方开发者数量不少于500人"),
    _t(
        "cross_industry",
        "X20",
        "industries_500_devices_or_1000_points",
        5,
        "覆盖不少于5个特定行业：每个行业连接不少于500台设备或不少于1000个采集点",
    ),
    _t(
        "cross_industry",
        "X21",
        "industries_covered_by_models_apps",
        5,
        "工业模型和工业APP可覆盖至少5个行业（每行业模型≥10，APP≥20）",
    ),
    _t(
        "cross_industry",
        "X22",
        "industries_with_50_enterprise_users",
        5,
        "用户涵盖至少5个行业，每个行业≥50家企业",
    ),
    _t("cross_industry", "X23", "domains_covered", 6, "覆盖领域不少于6个（每领域机理模型≥10，APP≥100）"),
    _t(
        "cross_industry",
        "X24",
        "third_party_developer_share",
        0.30,
        "第三方开发者占平台开发者总数比例在30%以上",
    ),
)


def check_table(thresholds: tuple[Threshold, ...]) -> None:
    """Every threshold names a known tier, a measured or declared figure, a unique id per tier."""
    seen: set[tuple[str, str]] = set()
    for t in thresholds:
        where = f"tier threshold {t.tier}/{t.id}"
        if t.tier not in TIERS:
            raise TierTableError(f"{where}: unknown tier {t.tier!r} (known: {', '.join(TIERS)})")
        if t.figure not in MEASURES and t.figure not in DECLARED_KEYS:
            raise TierTableError(
                f"{where}: figure {t.figure!r} is neither measured ({', '.join(sorted(MEASURES))})"
                " nor declared (collector.figures.declared)"
            )
        if (t.tier, t.id) in seen:
            raise TierTableError(f"{where}: id repeats")
        if not t.minimum >= 0:
            raise TierTableError(f"{where}: minimum {t.minimum!r} is not a number >= 0")
        seen.add((t.tier, t.id))


check_table(THRESHOLDS)


def _row(t: Threshold, figures: Figures, declared: Declared) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": t.id,
        "figure": t.figure,
        "term": t.term,
        "minimum": t.minimum,
        "group": t.group or t.id,
        "alternative": t.alternative or t.id,
    }
    if t.declared:
        d = declared.values.get(t.figure)
        value = d.value if d else None
        met = value is not None and value >= t.minimum
        return row | {
            "status": "declared",
            "value": value,
            "met": met,
            "source": d.source if d else None,
            "note": "" if d else "not declared",
        }
    value = measure(figures, t.figure)
    met = value is not None and value >= t.minimum
    return row | {
        "status": "pass" if met else "fail",
        "value": value,
        "met": met,
        "source": "measured",
        "note": "" if value is not None else "no data in the window",
    }


def evaluate(figures: Figures, declared: Declared) -> dict[str, Any]:
    """Per tier: every threshold with measured or declared value, and whether the tier is met."""
    out: dict[str, Any] = {}
    for tier, source in TIERS.items():
        rows = [_row(t, figures, declared) for t in THRESHOLDS if t.tier == tier]
        groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for r in rows:
            groups.setdefault(r["group"], {}).setdefault(r["alternative"], []).append(r)
        met = True
        relies_on_declared = False
        for alternatives in groups.values():
            passing = [alt for alt in alternatives.values() if all(r["met"] for r in alt)]
            if not passing:
                met = False
            elif all(any(r["status"] == "declared" for r in alt) for alt in passing):
                relies_on_declared = True
        if not met:
            verdict = "not met"
        elif relies_on_declared:
            verdict = "met (relies on declared values)"
        else:
            verdict = "met (measured)"
        out[tier] = {"source": source, "verdict": verdict, "met": met, "thresholds": rows}
    return out
