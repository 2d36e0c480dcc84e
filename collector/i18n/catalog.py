"""Every label plantproof shows a reader, in 中文 and English: key → {"zh": …, "en": …}.

One catalog for the evidence report and the web console. Texts may hold `{name}` fields filled by
`collector.i18n.text`. Keys in GUIDELINE_TERMS are the guidelines' own terms: pages show them with
the other language beside (接入设备 (connected equipment)).
"""

from __future__ import annotations

from typing import Final

from collector.i18n.catalog_application import APPLICATION
from collector.i18n.catalog_console import CONSOLE

Entry = dict[str, str]


def _e(zh: str, en: str) -> Entry:
    return {"zh": zh, "en": en}


_PAGE: dict[str, Entry] = {
    "report.title": _e("平台证据报告", "Platform evidence"),
    "report.window": _e("统计窗口 {window}", "window {window}"),
    "report.window_dates": _e("统计期间：{period}。", "Window: {period}."),
    "report.generated": _e(
        "由 plantproof {version} 于 {when} 根据 {storage} 存储的数据生成。",
        "Generated {when} by plantproof {version} from {storage} storage.",
    ),
    "report.language": _e("语言", "Language"),
    "report.contents": _e("目录", "Contents"),
    "report.simulated_banner": _e(
        "模拟数据：本证据包中 {simulated} 台设备（共 {total} 台）为模拟器，"
        "凡基于模拟设备计算的内容均标注“模拟”。",
        "SIMULATED DATA: {simulated} of the {total} devices in this bundle are simulators; everything"
        " computed from them is marked “simulated”.",
    ),
    "report.original_text": _e("原文", "original text"),
    "report.more_rows": _e(
        "另有 {n} 行未显示，完整内容见 {file}。", "{n} more rows are not shown; {file} has them all."
    ),
    "report.offline": _e(
        "本页完全自包含（内联样式与 SVG 图表，无外部资源、无脚本），可离线打开。",
        "This page is self-contained (inline styles and SVG charts, no external assets, no scripts) and"
        " opens offline.",
    ),
    "section.glance": _e("概览", "At a glance"),
    "section.verify": _e("签名与验证方法", "Signature and how to verify"),
    "section.claims": _e("KPI 成效声明", "KPI claims"),
    "section.figures": _e("平台指标", "Platform figures"),
    "section.devices": _e("设备清单", "Devices"),
    "section.tiers": _e("平台等级评估", "Tier evaluation"),
    "section.quality": _e("数据质量", "Data quality"),
    "section.parameters": _e("计算参数", "Parameters"),
    "section.definitions": _e("定义", "Definitions"),
    "section.sources": _e("来源与文件", "Sources and files"),
    "simulated": _e("模拟", "simulated"),
}

_VERIFY: dict[str, Entry] = {
    "verify.fingerprint": _e(
        "签名密钥指纹（Ed25519 公钥原始字节的 SHA-256）",
        "Signing key fingerprint (SHA-256 of the raw Ed25519 public key)",
    ),
    "verify.how": _e(
        "验证方法：通过可信渠道取得运营方的公钥（运营方用 plantproof evidence pubkey 打印），"
        "保存为 trusted.pem，"
        "核对其指纹与上面的指纹一致，然后运行：",
        "To verify: get the operator's public key through a channel you trust (the operator prints it with"
        " plantproof evidence pubkey), save it as trusted.pem, check that its fingerprint is the one above,"
        " and run:",
    ),
    "verify.verified": _e(
        "OK（退出码 0）：每个文件都与签名清单一致，且签名来自您信任的密钥。",
        "OK (exit status 0): every file matches the signed manifest and the signature is by the key you"
        " trust.",
    ),
    "verify.untrusted": _e(
        "NOT VERIFIED（未指定 --pubkey，退出码 3）：证据包与其自带的 pubkey.pem 一致，"
        "但篡改者完全可以用自己的密钥重新签名。"
        "在指纹与运营方公布的公钥一致之前，这一结果不证明任何事情。",
        "NOT VERIFIED (no --pubkey, exit status 3): the bundle agrees with its own pubkey.pem, but whoever"
        " altered it could have re-signed it with their own key. It proves nothing until the fingerprint"
        " matches the operator's published key.",
    ),
    "verify.failed": _e(
        "FAILED（退出码 1）：某个文件、清单或签名被改动，或证据包由其他密钥签名；每个问题都会指出相关文件。",
        "FAILED (exit status 1): a file, the manifest or the signature was altered, or another key signed the"
        " bundle; each problem names the file.",
    ),
    "verify.recompute": _e(
        "有数据库读权限时，加上 --recompute --dsn DSN 会重新计算每项指标和声明，并指出不一致之处。",
        "With read access to the database, --recompute --dsn DSN recomputes every figure and claim and names"
        " what differs.",
    ),
    "verify.rerender": _e(
        "本页与图表以确定性方式生成：plantproof evidence render BUNDLE 根据 evidence.json 和 pubkey.pem"
        " 重新生成 report.html，并与本文件逐字节比较（需相同的 plantproof 与 matplotlib 版本和图表字体）。",
        "This page and its charts are rendered deterministically: plantproof evidence render BUNDLE renders"
        " report.html again from evidence.json and pubkey.pem and compares it byte for byte with this file"
        " (same plantproof and matplotlib versions and chart font).",
    ),
    "verify.rendered_with": _e(
        "图表：matplotlib {matplotlib}，字体 {font}。", "Charts: matplotlib {matplotlib}, font {font}."
    ),
    "verify.no_cjk_font": _e(
        "未安装中文字体（图表中的中文显示为方框）",
        "no CJK font installed (Chinese in the charts shows as boxes)",
    ),
    "verify.no_fingerprint": _e(
        "（未知：证据包中没有 pubkey.pem）", "(unknown: the bundle has no pubkey.pem)"
    ),
}

_GLANCE: dict[str, Entry] = {
    "glance.claims": _e("声明核验结果", "Claim verdicts"),
    "glance.figures": _e("主要指标（{window}）", "Headline figures ({window})"),
}

# The guidelines' own terms (GUIDELINES.md): shown with the other language beside.
_TERMS: dict[str, Entry] = {
    "fig.connected_equipment": _e("接入设备", "connected equipment"),
    "fig.managed_equipment": _e("可管理设备", "managed equipment"),
    "fig.data_collection_points": _e("工艺流程数据采集点", "data-collection points"),
    "fig.monthly_model_invocations": _e("月均调用次数", "monthly model invocations"),
    "kpi.unplanned_downtime": _e("非计划停工时间", "unplanned downtime"),
    "kpi.maintenance_events": _e("设备检修维修次数", "maintenance and repair events"),
    "fig.industrial_models": _e("工业模型", "industrial models"),
    "fig.mechanism_models": _e("工业机理模型", "industrial mechanism models"),
    "fig.analysis_algorithms": _e("工业数据分析算法", "industrial data-analysis algorithms"),
    "fig.industrial_apps": _e("工业APP", "industrial apps"),
    "fig.subscribers": _e("订阅用户", "subscribing organisations"),
}
GUIDELINE_TERMS: Final = frozenset(_TERMS)

_FIGURES: dict[str, Entry] = {
    "fig.connected_equipment_one_industry": _e("特定行业接入设备", "connected equipment of one industry"),
    "fig.data_collection_points_one_industry": _e(
        "特定行业工艺流程数据采集点", "data-collection points of one industry"
    ),
    "fig.equipment_types": _e("设备种类", "equipment types"),
    "fig.industries": _e("行业数", "industries"),
    "fig.industries_500_devices_or_1000_points": _e(
        "连接 ≥ 500 台设备或 ≥ 1,000 个采集点的行业", "industries with ≥ 500 devices or ≥ 1,000 points"
    ),
    "fig.managed_equipment_types": _e("可管理设备种类", "managed equipment types"),
    "fig.model_categories": _e("机理模型类别", "model categories"),
    "fig.app_categories": _e("工业APP类别", "app categories"),
    "fig.decision_management_apps": _e("决策支撑和管理支撑APP", "decision-support and management apps"),
    "fig.subscriber_share_of_park": _e(
        "订阅用户占园区企业比例", "subscribers as a share of park enterprises"
    ),
    "fig.served_share_of_park": _e("服务园区规上企业比例", "park above-scale enterprises served (share)"),
    "fig.analysis_reports": _e("能耗、经济运行分析报告", "energy / economic-operation analysis reports"),
    "fig.cloud_software_kinds": _e("云化软件种类", "kinds of cloud software"),
    "fig.cloud_software_count": _e("云化软件数量", "cloud software deployed"),
    "fig.dev_tools": _e("开发工具", "development tools"),
    "fig.dev_languages": _e("开发语言", "development languages"),
    "fig.sdk_developers": _e("调用开发工具包的开发者", "developers calling the SDK"),
    "fig.sdk_calls_per_month": _e("开发工具包月调用次数", "SDK calls per month"),
    "fig.third_party_developers": _e("第三方开发者", "third-party developers"),
    "fig.third_party_developer_share": _e("第三方开发者占比", "third-party developers' share"),
    "fig.industries_covered_by_models_apps": _e(
        "模型和APP覆盖的行业（每行业模型 ≥ 10、APP ≥ 20）", "industries with ≥ 10 models and ≥ 20 apps"
    ),
    "fig.industries_with_50_enterprise_users": _e(
        "企业用户 ≥ 50 家的行业", "industries with ≥ 50 enterprise users"
    ),
    "fig.domains_covered": _e(
        "覆盖领域（每领域机理模型 ≥ 10、APP ≥ 100）", "domains with ≥ 10 models and ≥ 100 apps"
    ),
    "fig.demonstrated_management_capacity": _e(
        "已演示的管理能力（合成）", "demonstrated management capacity (synthetic)"
    ),
    "figs.figure": _e("指标", "figure"),
    "figs.value": _e("数值", "value"),
    "figs.simulated_column": _e("模拟设备（单列）", "simulated (separate column)"),
    "figs.excluded": _e(
        "模拟设备不计入数值，单独列出。",
        "Simulated devices are excluded from the values and counted in a separate column.",
    ),
    "figs.included": _e("数值包含模拟设备。", "Values include simulated devices."),
    "figs.rule.default": _e("默认口径：≥ {n} 个活跃日", "default rule: ≥ {n} active days"),
    "figs.rule.any_day": _e("任一日：≥ 1 个活跃日", "any day: ≥ 1 active day"),
    "figs.rule.every_day": _e("每日：{n} 日全部活跃", "every day: all {n} days active"),
    "figs.invocations_note": _e("窗口内完整月份的平均值", "average over the window's complete months"),
    "figs.capacity": _e(
        "{answered} 台模拟设备应答（抽样 {sampled} 台，注册 {registered} 台），成功率 {rate}，"
        "延迟 p50 / p95 / p99 为 {p50} / {p95} / {p99} 毫秒；测试 {run}，{date}。不计入可管理设备。",
        "{answered} simulated devices answered of {sampled} sampled ({registered} registered), success rate"
        " {rate}, latency p50 / p95 / p99 {p50} / {p95} / {p99} ms; run {run} on {date}. Not managed"
        " equipment.",
    ),
    "figs.no_capacity": _e("未记录管理容量测试。", "No management capacity run recorded."),
    "figs.by_industry": _e("按行业", "By industry"),
    "figs.by_sector": _e("按类别（离散 / 流程）", "By sector (discrete / process)"),
    "figs.industry": _e("行业（GB/T 4754）", "industry (GB/T 4754)"),
    "figs.sector": _e("类别", "sector"),
    "figs.breakdown_empty_simulated": _e(
        "没有可分解的内容：窗口内没有非模拟设备计入（{n} 台模拟设备只在单列中计数）。",
        "Nothing to break down: no non-simulated device was counted in the window ({n} simulated devices are"
        " counted in the separate column only).",
    ),
    "figs.breakdown_empty": _e(
        "没有可分解的内容：窗口内没有设备计入。",
        "Nothing to break down: no device was counted in the window.",
    ),
    "sector.discrete": _e("离散", "discrete"),
    "sector.process": _e("流程", "process"),
}

_KPI: dict[str, Entry] = {
    "kpi.availability": _e("时间开动率", "availability"),
    "kpi.performance": _e("性能开动率", "performance"),
    "kpi.quality": _e("良率", "quality (yield)"),
    "kpi.defect_rate": _e("产品不良率", "defect rate"),
    "kpi.oee": _e("设备综合效率（OEE）", "overall equipment effectiveness (OEE)"),
    "kpi.mtbf": _e("平均故障间隔时间（MTBF）", "mean time between failures (MTBF)"),
    "kpi.mttr": _e("平均修复时间（MTTR）", "mean time to repair (MTTR)"),
    "kpi.work_efficiency": _e("工作效率", "work efficiency"),
    "kpi.energy_per_unit": _e("单位产品能耗", "energy per good unit"),
    "kpi.co2_per_unit": _e("单位产品二氧化碳排放", "CO₂ per good unit"),
    "kpi.cost_per_unit": _e("单位产品成本", "cost per good unit"),
    "unit.availability": _e("运行时间 / 计划生产时间", "running time / planned busy time"),
    "unit.performance": _e("理论节拍 × 产量 / 运行时间", "ideal cycle × produced / running time"),
    "unit.quality": _e("合格品 / 产量", "good / produced"),
    "unit.defect_rate": _e("不合格品 / 产量", "defective / produced"),
    "unit.oee": _e("比率", "ratio"),
    "unit.unplanned_downtime": _e("小时 / 计划生产小时", "h per planned busy hour"),
    "unit.mtbf": _e("小时", "h"),
    "unit.mttr": _e("小时", "h"),
    "unit.maintenance_events": _e("次 / 1,000 运行小时", "events per 1,000 running hours"),
    "unit.work_efficiency": _e("合格品 / 计划生产小时", "good units per planned busy hour"),
    "unit.energy_per_unit": _e("千瓦时 / 合格品", "kWh per good unit"),
    "unit.co2_per_unit": _e("千克 CO₂ / 合格品", "kg CO₂ per good unit"),
    "unit.cost_per_unit": _e("成本 / 合格品", "cost per good unit"),
}

_CLAIMS: dict[str, Entry] = {
    "claim.none": _e(
        "本证据包未包含任何声明（导出时使用 --claims 以包含）。",
        "No claims are included in this bundle (export with --claims to include them).",
    ),
    "claim.kpi": _e("指标", "KPI"),
    "claim.point_estimate": _e("点估计", "point estimate"),
    "claim.interval": _e("{confidence} 置信区间", "{confidence} confidence interval"),
    "claimed_change": _e("声明的变化", "claimed change"),
    "claim.verdict": _e("结论", "verdict"),
    "claim.method": _e("方法", "method"),
    "claim.reasons": _e("无定论的原因", "why inconclusive"),
    "claim.notes": _e("备注", "notes"),
    "claim.devices": _e("范围内设备（{n} 台）", "devices in scope ({n})"),
    "claim.no_devices": _e("范围内没有设备。", "No devices in scope."),
    "claim.source": _e("来源", "source"),
    "claim.simulated": _e("基于模拟设备计算：{devices}", "computed from simulated devices: {devices}"),
    "claim.interval_chart": _e("置信区间与声明的变化", "interval against the claimed change"),
    "claim.series_chart": _e(
        "基准期与报告期的每日数值（同一纵轴）", "baseline and reporting daily values (one shared scale)"
    ),
    "claim.no_series": _e("没有可绘制的每日数值。", "No daily values to chart."),
    "chart.change_axis": _e("从基准期到报告期的变化（{unit}）", "change from baseline to reporting ({unit})"),
    "chart.day_axis": _e("日期（UTC）", "day (UTC)"),
    "chart.no_change": _e("无变化", "no change"),
    "chart.verified_zone": _e("证实区域", "verified if the whole interval is here"),
    "chart.no_interval": _e(
        "无置信区间（数据不足以定义该指标）", "no interval (the data do not define the KPI)"
    ),
    "chart.period_value": _e("期间值（总量之比）", "period value (ratio of totals)"),
    "chart.unbounded": _e("无界", "unbounded"),
    "baseline": _e("基准期", "baseline"),
    "reporting": _e("报告期", "reporting"),
    "verdict.verified": _e("已证实", "verified"),
    "verdict.refuted": _e("不成立", "refuted"),
    "verdict.inconclusive": _e("无定论", "inconclusive"),
    "verdict.verified.why": _e(
        "整个置信区间都超过了声明的变化。", "The whole interval lies beyond the claimed change."
    ),
    "verdict.refuted.why": _e(
        "整个置信区间都未达到声明的变化。", "The whole interval falls short of the claimed change."
    ),
    "verdict.inconclusive.why": _e(
        "置信区间跨越声明的变化，或覆盖率门槛未通过。",
        "The interval straddles the claimed change, or a coverage gate failed.",
    ),
    "unit.pct": _e("%", "%"),
    "unit.pp": _e("个百分点", "percentage points"),
    "cov.title": _e("数据覆盖", "Coverage"),
    "cov.gates": _e(
        "门槛：状态数据覆盖计划时间 ≥ {device_day} 的设备日为有效；有效设备日 ≥ {period} 的期间为有效。",
        "Gates: a device-day is valid when state data cover ≥ {device_day} of its planned time; a period is"
        " valid when ≥ {period} of its device-days are valid.",
    ),
    "cov.period": _e("期间", "period"),
    "cov.dates": _e("日期", "dates"),
    "cov.device_days": _e("设备日", "device-days"),
    "cov.valid": _e("有效设备日", "valid device-days"),
    "cov.valid_share": _e("有效比例", "valid share"),
    "cov.value": _e("期间值", "period value"),
    "cov.excluded": _e("剔除原因", "reasons for exclusion"),
    "cov.low_state": _e("{n} 个状态数据覆盖不足", "{n} with too little state data"),
    "cov.no_inputs": _e(
        "{n} 个缺少指标输入（缺测点或计数跳变被剔除）",
        "{n} without KPI inputs (point missing or counter steps excluded)",
    ),
    "cov.missing_points": _e("缺少测点：{roles}", "missing points: {roles}"),
    "cov.nothing_excluded": _e("无", "none"),
    "cov.by_device": _e("按设备", "Per device"),
    "cov.device": _e("设备", "device"),
}

_DEVICES: dict[str, Entry] = {
    "dev.device": _e("设备", "device"),
    "dev.type": _e("类型", "type"),
    "dev.industry": _e("行业", "industry"),
    "dev.sector": _e("类别", "sector"),
    "dev.first_seen": _e("首次有效读数", "first seen"),
    "dev.last_seen": _e("最后有效读数", "last seen"),
    "dev.active_days": _e("活跃天数", "active days"),
    "dev.messages": _e("消息数", "messages"),
    "dev.readings": _e("读数", "readings"),
    "dev.counted": _e("计入口径", "counted under"),
    "dev.none": _e("窗口内没有设备提供有效读数。", "No device delivered valid readings in the window."),
    "dev.from_csv": _e(
        "与 devices.csv 相同的数据（{n} 台设备）。", "The same data as devices.csv ({n} devices)."
    ),
    "dev.chart": _e(
        "每台设备的活跃天数（共 {days} 天；虚线：默认口径的最低天数 {min}）",
        "Active days per device (of {days}; dashed line: the default rule's minimum, {min})",
    ),
    "dev.chart_axis": _e("活跃天数", "active days"),
    "dev.chart_top": _e(
        "图中只显示最活跃的 {n} 台设备；表中列出全部。",
        "The chart shows the {n} most active devices; the table lists all.",
    ),
    "rule.default": _e("默认", "default"),
    "rule.any_day": _e("任一日", "any day"),
    "rule.every_day": _e("每日", "every day"),
}

_TIERS: dict[str, Entry] = {
    "tier.enterprise": _e("企业级平台（附件 3-4）", "enterprise platform (attachment 3-4)"),
    "tier.industry": _e("行业级平台（附件 3-5）", "industry platform (attachment 3-5)"),
    "tier.regional": _e("区域级平台（附件 3-6）", "regional platform (attachment 3-6)"),
    "tier.cross_industry": _e(
        "跨行业跨领域平台（附件 3-7）", "cross-industry, cross-domain platform (attachment 3-7)"
    ),
    "tier_source.enterprise": _e(
        "附件 3-4《江苏省企业级重点工业互联网平台建设指南》“二、平台服务能力”",
        "attachment 3-4, Jiangsu guideline for key enterprise-level industrial internet platforms,"
        " section 2 (platform service capability)",
    ),
    "tier_source.industry": _e(
        "附件 3-5《江苏省行业级重点工业互联网平台建设指南》“二、平台服务能力”",
        "attachment 3-5, Jiangsu guideline for key industry-level industrial internet platforms,"
        " section 2 (platform service capability)",
    ),
    "tier_source.regional": _e(
        "附件 3-6《江苏省区域级重点工业互联网平台建设指南》“二、平台服务能力”“三、平台应用成效”",
        "attachment 3-6, Jiangsu guideline for key regional industrial internet platforms, sections 2-3"
        " (platform service capability, application results)",
    ),
    "tier_source.cross_industry": _e(
        "附件 3-7《江苏省跨行业跨领域重点工业互联网平台建设指南》“二、平台服务能力”",
        "attachment 3-7, Jiangsu guideline for key cross-industry and cross-domain industrial internet"
        " platforms, section 2 (platform service capability)",
    ),
    "tier_verdict.not met": _e("未达到", "not met"),
    "tier_verdict.met (measured)": _e("达到（实测）", "met (measured)"),
    "tier_verdict.met (relies on declared values)": _e(
        "达到（依赖申报值）", "met (relies on declared values)"
    ),
    "tiers.id": _e("编号", "id"),
    "tiers.term": _e("原文条款", "term (as written)"),
    "tiers.figure": _e("指标", "figure"),
    "tiers.minimum": _e("门槛", "minimum"),
    "tiers.value": _e("数值", "value"),
    "tiers.status": _e("状态", "status"),
    "tiers.source": _e("来源", "source"),
    "tiers.note": _e(
        "同组条款互为替代（如离散行业的接入设备或流程行业的采集点），满足其一即可。",
        "Thresholds of one group are alternatives (connected equipment for discrete industry, or"
        " data-collection points for process industry): one alternative suffices.",
    ),
    "status.pass": _e("达到", "met"),
    "status.fail": _e("未达到", "not met"),
    "status.declared_meets": _e("申报值达到", "declared, meets"),
    "status.declared_short": _e("申报值未达到", "declared, short"),
    "status.not_declared": _e("未申报", "not declared"),
    "status.no_data": _e("窗口内无数据", "no data in the window"),
    "status.measured": _e("实测", "measured"),
}

_PARAMS: dict[str, Entry] = {
    "param.window": _e("统计窗口", "window"),
    "param.window_start": _e("窗口开始（含）", "window start (included)"),
    "param.window_end": _e("窗口结束（不含）", "window end (excluded)"),
    "param.window_days": _e("窗口天数", "days in the window"),
    "param.as_of": _e("计算时点", "computed as of"),
    "param.min_active_days_ratio": _e(
        "默认口径的最低活跃日比例", "default rule: minimum share of active days"
    ),
    "param.include_simulated": _e("数值是否包含模拟设备", "simulated devices in the values"),
    "param.storage": _e("存储", "storage"),
    "param.database": _e("数据库", "database"),
    "param.software": _e("软件版本", "software"),
    "param.name": _e("参数", "parameter"),
    "param.value": _e("值", "value"),
    "def.term": _e("术语", "term"),
    "def.text": _e("定义", "definition"),
    "def.valid_reading": _e("有效读数", "valid reading"),
    "def.active_day": _e("活跃日", "active day"),
    "def.equipment": _e("设备", "equipment"),
    "def.simulated": _e("模拟设备", "simulated"),
}

_SOURCES: dict[str, Entry] = {
    "src.document": _e("文件", "document"),
    "src.file": _e("文件名", "file"),
    "src.used_for": _e("用途", "used for"),
    "src.guidelines_000": _e(
        "《示范企业培育和建设指南》（附件 3）",
        "Demonstration enterprise cultivation and construction guidelines (attachment 3)",
    ),
    "src.tier_thresholds": _e("平台等级门槛", "tier thresholds"),
    "src.declared_none": _e(
        "未提供申报值：依赖申报值的门槛显示为“未申报”。",
        "No declared values given: thresholds that need them show as “not declared”.",
    ),
    "src.bundle_files": _e("本证据包中的文件", "Files in this bundle"),
    "file.evidence.json": _e(
        "全部指标、等级、声明、定义与参数（机器可读）",
        "every figure, tier, claim, definition and parameter (machine-readable)",
    ),
    "file.devices.csv": _e(
        "每台计入设备：首次 / 最后出现、活跃天数、消息数",
        "each counted device: first / last seen, active days, messages",
    ),
    "file.queries.sql": _e("得出每项指标的确切 SQL", "the exact SQL behind every figure"),
    "file.report.html": _e("本页", "this page"),
    "file.claims.yaml": _e("所核验的声明", "the claims verified"),
    "file.pubkey.pem": _e(
        "签名公钥（仅供核对指纹，不能代替可信公钥）",
        "the signing public key (compare its fingerprint; not a trusted key by itself)",
    ),
    "file.MANIFEST.sha256": _e("其他每个文件的 SHA-256", "SHA-256 of every other file"),
    "file.MANIFEST.sha256.sig": _e("对清单的 Ed25519 签名", "Ed25519 signature over the manifest"),
}

CATALOG: Final[dict[str, Entry]] = {
    **CONSOLE,
    **_PAGE,
    **_VERIFY,
    **_GLANCE,
    **_TERMS,
    **_FIGURES,
    **_KPI,
    **_CLAIMS,
    **_DEVICES,
    **_TIERS,
    **_PARAMS,
    **_SOURCES,
    **APPLICATION,
}

# Chinese renderings of collector.figures.compute.DEFINITIONS (the English there is the authority).
DEFINITIONS_ZH: Final[dict[str, str]] = {
    "valid_reading": (
        "质量为 0（良好）、值非空、时间戳在窗口内的读数，"
        "测点类型为模拟量、状态、计数、能耗或开关量（不含设定值）"
    ),
    "active_day": "设备至少提供一个有效读数的窗口内 UTC 自然日",
    "equipment": "命名空间为 plant 的注册设备（容量测试的合成设备从不计入）",
    "connected_equipment": (
        "在窗口中至少 min_active_days_ratio 比例的天数有有效读数的设备（默认口径）；"
        "另按“任一日”和“每日”口径给出"
    ),
    "data_collection_points": "流程行业设备中，本身在足够天数内提供有效读数的不同测点（同一口径）",
    "equipment_types": "接入设备（默认口径）中不同的设备类型数",
    "industries": "接入设备（默认口径）中不同的行业代码（GB/T 4754）数",
    "managed_equipment": "窗口内其管理通道成功应答管理操作的设备，来自 management_ops 台账",
    "demonstrated_management_capacity": "窗口结束前完成、模拟设备应答最多的容量测试；从不计入可管理设备",
    "monthly_model_invocations": (
        "model_invocations 台账中每个 UTC 自然月成功的非内部调用次数，取窗口内完整月份的平均值"
    ),
    "simulated": "注册时 simulated = true 的设备；始终单列，仅当 include_simulated 为真时计入数值",
}
