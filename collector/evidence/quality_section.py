"""The data-quality section of an evidence bundle: evidence.json's `quality` and its report.html part.

The assessment is `collector.quality`'s, over the bundle's window and as of its `as_of`, with the
default settings and the shipped device types' rules (each point's rules are written beside it, so
a reader sees what it was judged by).
"""

from __future__ import annotations

from typing import Any

from collector.evidence.html import e, section, t, table
from collector.figures.compute import Parameters
from collector.figures.tenant import Tenant
from collector.i18n import Lang, formats

_TEXT: dict[str, dict[str, str]] = {
    "intro": {
        "zh": "数据质量评估（数据去重、数据合并及数据质量评估）：按站点、设备和数据点统计完整性、有效性、"
        "及时性与唯一性；评分公式如下。",
        "en": "Data-quality assessment (deduplication, merging and quality assessment of data): completeness,"
        " validity, timeliness and uniqueness per site, device and point; the score's formula follows.",
    },
    "site": {"zh": "站点", "en": "Site"},
    "score": {"zh": "评分", "en": "Score"},
    "completeness": {"zh": "完整性", "en": "Completeness"},
    "validity": {"zh": "有效性", "en": "Validity"},
    "timeliness": {"zh": "及时性", "en": "Timeliness"},
    "uniqueness": {"zh": "唯一性", "en": "Uniqueness"},
    "received": {"zh": "接收 / 应收读数", "en": "Readings received / expected"},
    "duplicates": {
        "zh": "重复读数（已丢弃）/ 冲突（拒绝 / 替换）",
        "en": "Repeats dropped / conflicts refused / replaced",
    },
    "affected": {"zh": "未达满分的数据点", "en": "Points below full marks"},
    "devices": {"zh": "设备", "en": "Devices"},
    "device": {"zh": "设备", "en": "Device"},
    "type": {"zh": "设备类型", "en": "Type"},
    "dimension": {"zh": "维度", "en": "Dimension"},
    "points": {"zh": "数据点", "en": "Points"},
    "none": {"zh": "无", "en": "none"},
    "formula": {"zh": "评分公式（英文原文）", "en": "Formula"},
    "no_sites": {"zh": "窗口内没有已登记的设备。", "en": "No device registered in the window."},
}
DIMENSIONS = ("completeness", "validity", "timeliness", "uniqueness")
_DUPLICATES = ("repeats_dropped", "conflicts_refused", "conflicts_replaced")


def _t(key: str, lang: Lang) -> str:
    return e(_TEXT[key][lang])


def build(dsn: str, params: Parameters, tenant: Tenant | None = None) -> dict[str, Any]:
    """evidence.json's `quality`: the assessment of every plant site (or the tenant's) over the
    bundle's window."""
    from collector.quality.queries import assessment

    return assessment(dsn, params.window, params.as_of, among=tenant.sites if tenant else None)


def render(ev: dict[str, Any], lang: Lang) -> str:
    """The report's section (empty when the bundle carries no assessment)."""
    quality = ev.get("quality")
    if not quality:
        return ""
    head = [_t("site", lang), _t("score", lang), *(_t(d, lang) for d in DIMENSIONS), _t("received", lang),
            _t("duplicates", lang)]  # fmt: skip
    rows = []
    body_affected = ""
    for site in quality["sites"]:
        c, dup = site["counts"], site["duplicates"]
        rows.append(
            [
                e(site["site"]),
                e(formats.number(site["score"], lang)),
                *(e(formats.share(site["dimensions"][d], lang, 2)) for d in DIMENSIONS),
                e(f"{formats.number(c['received'], lang)} / {formats.number(c['expected'], lang)}"),
                e(" / ".join(formats.number(dup[k], lang) for k in _DUPLICATES)),
            ]
        )
        named = [
            [_t(d, lang), e(formats.listing(site["affected_points"][d], lang) or _TEXT["none"][lang])]
            for d in DIMENSIONS
        ]
        devices = [
            [e(d["device"]), e(d["type"] or "—"), e(formats.number(d["score"], lang)),
             *(e(formats.share(d["dimensions"][k], lang, 2)) for k in DIMENSIONS)]
            for d in site["devices"]
        ]  # fmt: skip
        device_head = [
            _t("device", lang),
            _t("type", lang),
            _t("score", lang),
            *(_t(d, lang) for d in DIMENSIONS),
        ]
        body_affected += (
            f"<h4>{_t('devices', lang)} — {e(site['site'])}</h4>"
            + table(device_head, devices, lang, file="evidence.json")
            + f"<h4>{_t('affected', lang)} — {e(site['site'])}</h4>"
            + table([_t("dimension", lang), _t("points", lang)], named, lang, file="evidence.json")
        )
    sites = table(head, rows, lang, file="evidence.json") if rows else f"<p>{_t('no_sites', lang)}</p>"
    body = (
        f"<p>{_t('intro', lang)}</p>{sites}{body_affected}"
        f"<p>{_t('formula', lang)}: <code lang='en'>{e(quality['formula'])}</code></p>"
    )
    return section(f"{lang}-quality", t("section.quality", lang), body)
