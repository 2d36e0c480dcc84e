"""The application's results table, pure core: the rows as the original has them, the declared
section's rules, and measured rows that are the KPI engine's claims on hand-built device-day series."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import numpy as np
import pytest

from collector.application.declared import parse_application
from collector.application.rows import OTHER_ZH, ROWS
from collector.application.table import Periods, build_table, claim_for
from collector.application.text import lines
from collector.errors import CollectorError
from collector.evidence.application_section import application_section
from collector.kpi.claims import Period, Scope
from collector.kpi.engine import DeviceDays
from collector.kpi.timemodel import N_STATES, Timeline
from collector.kpi.verify import evaluate
from wire.states import STATE_CODES as C

# 工厂整体建设成效 as the seed (003, attachment 5) writes it, row by row; labels broken over lines joined.
ORIGINAL = [
    "关键设备数控化率（%）",
    "先进过程控制投用率（%）",
    "应用人工智能技术场景比例（%）",
    "工厂应用智能决策模型数量（个）",
    "研制周期缩短（%）",
    "销售增长率（%）",
    "生产效率提升（%）",
    "资源综合利用率提升（%）",
    "产品不良率下降（%）",
    "设备综合利用率提升（%）",
    "库存周转率提升（%）",
    "供应商准时交付率提升（%）",
    "订单准时交付率提升（%）",
    "运营成本下降（%）",
    "全员劳动生产率提升（%）",
    "单位产品综合能耗降低（%）",
    "单位产品二氧化碳（CO₂)排放量降低（%）",
    "一般固废综合利用率（%）",
    "水资源重复利用率（%）",
    "先进制造模式/解决方案向产业链供应链上下游复制推广的企业数量（家）",
]
BASE = Period(start=dt.date(2026, 1, 5), end=dt.date(2026, 2, 1))  # 28 days
REP = Period(start=dt.date(2026, 2, 2), end=dt.date(2026, 3, 1))
PERIODS = Periods(BASE, REP, Scope())
DOCS = {"grid": "Grid factor 2022", "hr": "Attendance", "mes": "MES report"}


def _days(p: Period, run_h: float, good: float, bad: float, kwh: float, seed: int) -> DeviceDays:
    rng = np.random.default_rng(seed)
    n, devices = p.days, 3
    secs = np.zeros((devices, n, N_STATES))
    secs[:, :, C["running"]] = run_h * 3600
    secs[:, :, C["unplanned_stop"]] = (16 - run_h) * 3600
    secs[:, :, C["planned_stop"]] = 8 * 3600
    noise = rng.normal(1.0, 0.02, size=(devices, n))
    g = good * noise
    zero = np.zeros((devices, n), dtype=np.int64)
    return DeviceDays(
        days=[p.start + dt.timedelta(days=i) for i in range(n)],
        devices=[f"d{i}" for i in range(devices)],
        timeline=Timeline(secs, zero, zero.copy()),
        produced=g + bad,
        good=g,
        energy_kwh=kwh * noise,
        ideal_rate_per_hour=np.full(devices, 40.0),
        missing={},
    )


def _app(**section: Any) -> Any:
    data = {
        "documents": DOCS,
        "values": {"emission_factor_kg_per_kwh": {"value": 0.5, "source": "grid"}},
        "application": section,
    }
    return parse_application(data, "declared.yaml")


def test_rows_are_the_originals_in_its_order_and_wording() -> None:
    assert [r.zh for r in ROWS] == ORIGINAL
    assert OTHER_ZH == "其他个性化指标（系统中可自行添加行）"
    assert [r.line for r in ROWS] == sorted(r.line for r in ROWS)  # seed lines in reading order
    assert all(r.en and r.en != r.zh for r in ROWS)


def test_measured_rows_are_the_engines_claims_and_improvements_are_verified() -> None:
    b = _days(BASE, run_h=12, good=400, bad=20, kwh=300, seed=1)
    r = _days(REP, run_h=14, good=480, bad=12, kwh=310, seed=2)
    app = _app(labour_hours={"before": 2000, "after": 1800, "source": "hr"}, claimed={"oee": 5})
    table = build_table(b, r, app, PERIODS)
    rows = {row["key"]: row for row in table["rows"]}
    assert [row["zh"] for row in table["rows"]] == ORIGINAL
    for key in ("production_efficiency", "defect_rate", "oee", "energy_per_unit", "co2_per_unit"):
        row = rows[key]
        engine = evaluate(claim_for(next(x for x in ROWS if x.key == key), PERIODS, app), b, r).to_json()
        assert row["status"] == "measured"
        assert (row["change_pct"], row["ci_low"], row["ci_high"]) == (
            engine["point_estimate"], engine["ci_low"], engine["ci_high"],
        )  # fmt: skip
        assert row["verdict"] == engine["verdict"] == "verified", row
    # the defect rate fell from 20/420 to 12/492 of what was produced: change = ratio of the two - 1
    assert rows["defect_rate"]["change_pct"] == pytest.approx(((12 / 492) / (20 / 420) - 1) * 100, abs=1.0)
    assert rows["defect_rate"]["before"] == pytest.approx(100 * 20 / 420, rel=0.02)
    assert rows["oee"]["claimed_change_pct"] == 5
    co2, energy = rows["co2_per_unit"], rows["energy_per_unit"]
    assert (
        co2["before"] == pytest.approx(energy["before"] * 0.5) and co2["change_pct"] == energy["change_pct"]
    )
    labour = rows["labour_productivity"]
    good_b, good_r = b.good.sum(), r.good.sum()
    assert labour["before"] == pytest.approx(good_b / 2000) and labour["after"] == pytest.approx(
        good_r / 1800
    )
    assert labour["change_pct"] == pytest.approx(((good_r / 1800) / (good_b / 2000) - 1) * 100, abs=1e-4)
    assert labour["ci_low"] < labour["change_pct"] < labour["ci_high"] and labour["verdict"] == "verified"


def test_a_worsening_is_refuted_and_missing_inputs_are_said() -> None:
    b = _days(BASE, run_h=14, good=480, bad=10, kwh=300, seed=3)
    r = _days(REP, run_h=12, good=400, bad=30, kwh=330, seed=4)
    data = {"documents": DOCS, "application": {}}
    table = build_table(b, r, parse_application(data, "d.yaml"), PERIODS)
    rows = {row["key"]: row for row in table["rows"]}
    assert rows["oee"]["verdict"] == rows["energy_per_unit"]["verdict"] == "refuted"
    assert rows["co2_per_unit"]["status"] == "not_declared"
    assert "emission factor" in rows["co2_per_unit"]["reason"]
    assert rows["labour_productivity"]["status"] == "not_declared"
    assert rows["order_on_time"]["reason"] == "no orders imported"


def test_declared_rows_keep_their_source_and_compute_a_missing_change() -> None:
    app = _app(
        rows={
            "nc_rate": {"before": 60, "after": 75, "source": "mes"},
            "sales_growth": {"change": 12.5, "source": "mes"},
        },
        others=[{"name": "换模时间（分钟）", "before": 45, "after": 18, "source": "mes"}],
    )
    b = _days(BASE, 12, 400, 20, 300, 5)
    table = build_table(b, _days(REP, 12, 400, 20, 300, 6), app, PERIODS)
    rows = {row["key"]: row for row in table["rows"]}
    assert (rows["nc_rate"]["status"], rows["nc_rate"]["change_pct"]) == ("declared", 25.0)
    assert rows["nc_rate"]["source"] == "mes: MES report" and not rows["nc_rate"]["change_declared"]
    assert rows["sales_growth"]["change_pct"] == 12.5 and rows["sales_growth"]["change_declared"]
    assert rows["apc_usage"]["status"] == "not_declared"
    other = table["others"]["rows"][0]
    assert other["zh"] == "换模时间（分钟）" and other["change_pct"] == -60.0
    zh, en = "\n".join(lines(table, "zh")), "\n".join(lines(table, "en"))
    assert "关键设备数控化率（%）（key-equipment numerical-control rate (%)）" in zh
    assert "key-equipment numerical-control rate (%) (关键设备数控化率（%）)" in en
    assert "换模时间（分钟）" in zh and "申报: mes: MES report" in zh
    # the form's own label, then the applicant's rows
    assert "\n其他个性化指标（系统中可自行添加行）（other indicators" in zh
    page = application_section({"application": {"included": True, "table": table}}, "zh")
    assert page.index("<strong>其他个性化指标（系统中可自行添加行）") < page.index("换模时间（分钟）")
    assert all(html.escape(r, quote=True) in page for r in ORIGINAL)
    assert "本证据包未包含申报书成效表" in application_section({}, "zh")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"rows": {"nc_ratio": {"before": 1, "after": 2, "source": "mes"}}},
            "application.rows.nc_ratio: unknown row",
        ),
        ({"rows": {"nc_rate": {"before": 1, "after": 2, "source": "web"}}}, "nc_rate.source: document 'web'"),
        ({"rows": {"nc_rate": {"before": 1, "source": "mes"}}}, "nc_rate: give before and after, or change"),
        (
            {"rows": {"nc_rate": {"before": "x", "after": 2, "source": "mes"}}},
            "nc_rate.before: 'x' is not a number",
        ),
        ({"claimed": {"nc_rate": 3}}, "application.claimed.nc_rate: not a measured row"),
        (
            {"labour_hours": {"before": 0, "after": 10, "source": "hr"}},
            "labour_hours: before and after must be",
        ),
        ({"others": [{"before": 1, "after": 2, "source": "mes"}]}, "application.others[0].name: missing"),
        ({"extra": 1}, "unknown field(s) ['extra']"),
    ],
)
def test_declared_errors_name_the_field(section: dict[str, Any], message: str) -> None:
    with pytest.raises(CollectorError, match=r"declared\.yaml") as err:
        _app(**section)
    assert message in str(err.value)
