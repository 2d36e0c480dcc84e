"""The 中文 / English catalog: every key in both languages, the same fields, every figure and KPI named."""

from __future__ import annotations

import string
import typing
from datetime import UTC, datetime

import pytest

from collector.evidence import bundle
from collector.figures.compute import DEFINITIONS
from collector.figures.declared import DECLARED_KEYS
from collector.figures.tiers import MEASURES, THRESHOLDS, TIERS
from collector.i18n import CATALOG, DEFINITIONS_ZH, GUIDELINE_TERMS, LANGS, formats, label, text
from collector.kpi.claims import KpiName


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_key_has_both_languages_with_the_same_fields() -> None:
    for key, entry in CATALOG.items():
        assert set(entry) == set(LANGS), key
        assert all(entry[lang].strip() for lang in LANGS), key
        assert _fields(entry["zh"]) == _fields(entry["en"]), key
    # Chinese is Chinese: every zh text that differs from the English holds at least one CJK character
    latin_only = [
        k
        for k, v in CATALOG.items()
        if v["zh"] != v["en"] and not any("\u4e00" <= c <= "\u9fff" for c in v["zh"])
    ]
    assert latin_only == []


def test_the_guidelines_terms_are_shown_beside_the_english() -> None:
    expected = {
        "fig.connected_equipment": "接入设备",
        "fig.managed_equipment": "可管理设备",
        "fig.data_collection_points": "工艺流程数据采集点",
        "fig.monthly_model_invocations": "月均调用次数",
        "kpi.unplanned_downtime": "非计划停工时间",
    }
    for key, zh in expected.items():
        assert key in GUIDELINE_TERMS and CATALOG[key]["zh"] == zh
        assert label(key, "en") == f"{CATALOG[key]['en']} ({zh})"
        assert label(key, "zh") == f"{zh}（{CATALOG[key]['en']}）"
    assert label("figs.value", "en") == "value"  # not a guideline term: no second language


def test_everything_the_report_names_has_a_label() -> None:
    figures = set(DECLARED_KEYS) | set(MEASURES) | {t.figure for t in THRESHOLDS}
    assert [f for f in sorted(figures) if f"fig.{f}" not in CATALOG] == []
    kpis = typing.get_args(KpiName)
    assert [k for k in kpis if f"kpi.{k}" not in CATALOG or f"unit.{k}" not in CATALOG] == []
    assert [t for t in TIERS if f"tier.{t}" not in CATALOG or f"tier_source.{t}" not in CATALOG] == []
    for key in DEFINITIONS:
        assert key in DEFINITIONS_ZH, key
        assert f"fig.{key}" in CATALOG or f"def.{key}" in CATALOG, key
    names = {bundle.EVIDENCE, bundle.DEVICES, bundle.QUERIES, bundle.REPORT, bundle.CLAIMS, bundle.PUBKEY,
             bundle.MANIFEST, bundle.SIGNATURE}  # fmt: skip
    assert {k[len("file.") :] for k in CATALOG if k.startswith("file.")} == names


def test_text_fills_fields_and_names_a_missing_key() -> None:
    assert text("report.window", "zh", window="2026-10") == "统计窗口 2026-10"
    assert text("report.window", "en", window="2026-10") == "window 2026-10"
    with pytest.raises(KeyError, match="no-such-key"):
        text("no-such-key", "en")


@pytest.mark.parametrize(
    ("lang", "day", "moment", "change", "pp", "share"),
    [
        ("zh", "2026年11月1日", "2026年12月2日 05:27 UTC", "-20.5%", "+2 个百分点", "99.9%"),
        ("en", "1 Nov 2026", "2 Dec 2026, 05:27 UTC", "-20.5 %", "+2 pp", "99.9 %"),
    ],
)
def test_numbers_and_dates_per_language(
    lang: formats.Lang, day: str, moment: str, change: str, pp: str, share: str
) -> None:
    assert formats.day("2026-11-01", lang) == day
    # an aware timestamp in another zone is shown in UTC
    assert formats.moment("2026-12-02T13:27:00+08:00", lang) == moment
    assert formats.moment(datetime(2026, 12, 2, 5, 27, tzinfo=UTC), lang) == moment
    assert formats.change(-20.5, "%", lang) == change and formats.change(2.0, "pp", lang) == pp
    assert formats.share(0.99999, lang) == share  # rounded down: 100 only when nothing is missing
    assert formats.number(1234567, lang) == "1,234,567" and formats.number(1234.5678, lang) == "1,234.57"
    assert formats.number(None, lang) == "—" and formats.number(-0.0001, lang) == "0"
