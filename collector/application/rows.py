"""The rows of the application's results table, "工厂整体建设成效" (pure data).

Transcribed from 《江苏省先进级智能工厂申报书》 (notice 003, attachment 5, lines 3009-3061 of
003_78e6f1948a388668.txt), in its order and wording; a label the original breaks over lines is joined
(so row 17 keeps the original's mixed brackets "（CO₂)"). The English is ours. Each row says how the
platform obtains it:

- `kpi`: measured by the KPI engine (collector.kpi) over the factory's devices;
- `labour`: good units (measured) per labour hour (declared);
- `orders`: on-time share of imported orders;
- `declared`: plant data cannot measure it; the applicant declares it with its source.
"""

# layering: pure

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Method = Literal["kpi", "labour", "orders", "declared"]
SOURCE = "003_78e6f1948a388668.txt, attachment 5, 工厂整体建设成效 (lines 3009-3061)"
HEAD_ZH = ("指标", "建设前", "建成后", "变化率")  # line 3011
OTHER_ZH = "其他个性化指标（系统中可自行添加行）"  # lines 3059-3061: rows the applicant adds
OTHER_EN = "other indicators of the applicant's choosing (rows may be added)"


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    zh: str  # the original's wording
    en: str
    line: int  # where the row starts in the seed
    method: Method = "declared"
    kpi: str = ""  # the KPI engine's name, for method "kpi"
    better: Literal["increase", "decrease"] = "increase"  # which way the indicator improves


ROWS: tuple[Row, ...] = (
    Row("nc_rate", "关键设备数控化率（%）", "key-equipment numerical-control rate (%)", 3013),
    Row("apc_usage", "先进过程控制投用率（%）", "advanced process control usage rate (%)", 3015),
    Row("ai_scenario_share", "应用人工智能技术场景比例（%）", "share of scenarios applying AI (%)", 3017),
    Row(
        "decision_models",
        "工厂应用智能决策模型数量（个）",
        "intelligent decision models in use (count)",
        3019,
    ),
    Row("rd_cycle", "研制周期缩短（%）", "R&D cycle shortened (%)", 3021, better="decrease"),
    Row("sales_growth", "销售增长率（%）", "sales growth rate (%)", 3023),
    Row(
        "production_efficiency",
        "生产效率提升（%）",
        "production efficiency increase (%)",
        3025,
        "kpi",
        "work_efficiency",
    ),
    Row("resource_utilisation", "资源综合利用率提升（%）", "overall resource utilisation increase (%)", 3027),
    Row(
        "defect_rate",
        "产品不良率下降（%）",
        "product defect rate decrease (%)",
        3029,
        "kpi",
        "defect_rate",
        "decrease",
    ),
    Row(
        "oee",
        "设备综合利用率提升（%）",
        "overall equipment utilisation (OEE) increase (%)",
        3031,
        "kpi",
        "oee",
    ),
    Row("inventory_turnover", "库存周转率提升（%）", "inventory turnover increase (%)", 3033),
    Row("supplier_on_time", "供应商准时交付率提升（%）", "supplier on-time delivery increase (%)", 3035),
    Row("order_on_time", "订单准时交付率提升（%）", "order on-time delivery increase (%)", 3037, "orders"),
    Row("operating_cost", "运营成本下降（%）", "operating cost decrease (%)", 3039, better="decrease"),
    Row("labour_productivity", "全员劳动生产率提升（%）", "labour productivity increase (%)", 3041, "labour"),
    Row(
        "energy_per_unit",
        "单位产品综合能耗降低（%）",
        "energy per unit of product decrease (%)",
        3043,
        "kpi",
        "energy_per_unit",
        "decrease",
    ),
    Row(
        "co2_per_unit",
        "单位产品二氧化碳（CO₂)排放量降低（%）",
        "CO₂ emission per unit of product decrease (%)",
        3045,
        "kpi",
        "co2_per_unit",
        "decrease",
    ),
    Row("solid_waste_reuse", "一般固废综合利用率（%）", "general solid-waste utilisation rate (%)", 3049),
    Row("water_reuse", "水资源重复利用率（%）", "water reuse rate (%)", 3051),
    Row(
        "replication",
        "先进制造模式/解决方案向产业链供应链上下游复制推广的企业数量（家）",
        "companies up and down the supply chain the advanced model or solution was copied to (count)",
        3053,
    ),
)
BY_KEY: dict[str, Row] = {r.key: r for r in ROWS}
DECLARABLE = frozenset(BY_KEY)  # a measured row may be declared too when its inputs are missing
