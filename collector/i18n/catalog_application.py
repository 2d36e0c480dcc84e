"""中文 / English for the application's results table and the scenario evidence (collector.application)."""

from __future__ import annotations

from typing import Final


def _e(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


APPLICATION: Final[dict[str, dict[str, str]]] = {
    "fig.emission_factor_kg_per_kwh": _e("排放因子（千克 CO₂ / 千瓦时）", "emission factor (kg CO₂ per kWh)"),
    "unit.labour_productivity": _e("合格品 / 工时", "good units per labour hour"),
    "section.application": _e("工厂整体建设成效", "Overall construction results"),
    "app.title": _e("工厂整体建设成效", "Overall construction results (application table)"),
    "app.periods": _e("建设前：{baseline}；建成后：{reporting}。", "Before: {baseline}; after: {reporting}."),
    "app.devices": _e("实测行覆盖 {n} 台设备。", "Measured rows cover {n} devices."),
    "app.head.indicator": _e("指标", "indicator"),
    "app.head.before": _e("建设前", "before"),
    "app.head.after": _e("建成后", "after"),
    "app.head.change": _e("变化率", "change rate"),
    "app.head.interval": _e("{confidence} 置信区间", "{confidence} interval"),
    "app.head.verdict": _e("结论", "verdict"),
    "app.head.basis": _e("依据", "basis"),
    "app.status.measured": _e("实测", "measured"),
    "app.status.declared": _e("申报", "declared"),
    "app.status.not_declared": _e("未申报", "not declared"),
    "app.change_computed": _e("由申报的前后值计算", "computed from the declared values"),
    "app.claimed": _e("对照变化 {claimed}", "against a change of {claimed}"),
    "app.reason.not_measurable": _e("平台数据无法实测", "plant data cannot measure it"),
    "app.reason.no_factor": _e(
        "未申报排放因子（values.emission_factor_kg_per_kwh）",
        "no emission factor declared (values.emission_factor_kg_per_kwh)",
    ),
    "app.reason.no_labour_hours": _e(
        "未申报工时（application.labour_hours）", "no labour hours declared (application.labour_hours)"
    ),
    "app.reason.no_orders": _e("未导入订单", "no orders imported"),
    "app.reason.applicant_row": _e("申报单位自行添加的指标", "a row of the applicant's choosing"),
    "scen.title": _e("典型场景的实测依据", "Measured evidence for the typical scenarios"),
    "scen.number": _e("序号", "no."),
    "scen.name": _e("典型场景", "scenario"),
    "scen.facts": _e("平台实测", "measured by the platform"),
    "scen.evidenced": _e("有实测依据", "evidenced by plant data"),
    "scen.not_evidenced": _e("窗口内无实测依据", "no measured evidence in the window"),
    "scen.no_alarms_table": _e(
        "数据库中没有告警表：不统计告警。", "The database has no alarms table: alarms are not counted."
    ),
    "app.others": _e("其他个性化指标", "Other indicators"),
    "app.how": _e(
        "实测行由 KPI 引擎计算：两期各自的总量之比、覆盖率门槛、按日块自助法区间，结论对照申报的变化率"
        "（未申报时对照 0，即改进本身是否成立）。变化率 = 建成后 / 建设前 − 1。",
        "Measured rows come from the KPI engine: a ratio of totals per period, its coverage gates, a block"
        " bootstrap interval over days, and a verdict against the change the application states (0 when it"
        " states none: whether the improvement itself is established). Change rate = after / before − 1.",
    ),
    "app.none": _e(
        "本证据包未包含申报书成效表（导出时使用 --baseline 与 --reporting 以包含）。",
        "This bundle holds no application results table (export with --baseline and --reporting).",
    ),
}
