"""report.html: platform figures, the device table and the tier evaluation."""

from __future__ import annotations

from typing import Any

from collector.evidence import charts
from collector.evidence.devices import RULES, device_rows
from collector.evidence.html import badge, e, lbl, num, section, simulated_badge, t, table
from collector.figures.tiers import SOURCE, TIERS
from collector.i18n import Lang, formats, has, text

CHART_DEVICES = 60  # bars in the active-days chart; the table lists every device
TIER_SOURCE_FILE = SOURCE  # the guidelines' text the thresholds are transcribed from
TIER_ORDER = tuple(TIERS)


def fig_label(key: str, lang: Lang) -> str:
    return lbl(f"fig.{key}", lang) if has(f"fig.{key}") else e(key)


def _rule(rule: str, fig: dict[str, Any], lang: Lang) -> str:
    return t(f"figs.rule.{rule}", lang, n=fig.get("min_active_days", "?"))


def figures_section(ev: dict[str, Any], lang: Lang) -> str:
    f = ev["figures"]
    rows: list[list[str]] = []
    for key in ("connected_equipment", "data_collection_points"):
        for rule in RULES:
            fig = f[key][rule]
            rows.append(
                [
                    f"{fig_label(key, lang)}"
                    f" <span class='note'>{_rule(rule, f['connected_equipment'][rule], lang)}</span>",
                    num(fig["value"], lang),
                    num(fig["simulated"], lang),
                ]
            )
    for key in ("equipment_types", "industries", "managed_equipment"):
        rows.append([fig_label(key, lang), num(f[key]["value"], lang), num(f[key]["simulated"], lang)])
    inv = f["monthly_model_invocations"]
    rows.append(
        [
            f"{fig_label('monthly_model_invocations', lang)}"
            f" <span class='note'>{t('figs.invocations_note', lang)}</span>",
            num(inv["value"], lang),
            "—",
        ]
    )
    head = [t("figs.figure", lang), t("figs.value", lang), t("figs.simulated_column", lang)]
    counting = t("figs.included" if f.get("include_simulated") else "figs.excluded", lang)
    body = f"<p>{counting}</p>{table(head, rows, lang)}{_capacity(f, lang)}"
    body += _breakdown(f, "breakdown_by_industry", "figs.by_industry", "figs.industry", lang)
    body += _breakdown(f, "breakdown_by_sector", "figs.by_sector", "figs.sector", lang)
    return section(f"{lang}-figures", t("section.figures", lang), body)


def _capacity(f: dict[str, Any], lang: Lang) -> str:
    cap = f.get("demonstrated_management_capacity")
    title = f"<h3>{fig_label('demonstrated_management_capacity', lang)}</h3>"
    if not cap:
        return f"{title}<p>{t('figs.no_capacity', lang)}</p>"
    lat = cap.get("latency_ms") or {}
    return (
        title
        + "<p>"
        + t(
            "figs.capacity",
            lang,
            answered=formats.number(cap.get("value"), lang),
            sampled=formats.number(cap.get("devices_sampled"), lang),
            registered=formats.number(cap.get("devices_registered"), lang),
            rate=formats.share(cap.get("success_rate"), lang),
            p50=formats.number(lat.get("p50"), lang),
            p95=formats.number(lat.get("p95"), lang),
            p99=formats.number(lat.get("p99"), lang),
            run=cap.get("run_id"),
            date=formats.moment(cap.get("date"), lang) if cap.get("date") else "—",
        )
        + "</p>"
    )


def _breakdown(f: dict[str, Any], field: str, title_key: str, column_key: str, lang: Lang) -> str:
    """A breakdown table, or one sentence saying why there is nothing to break down."""
    data = f.get(field) or {}
    title = f"<h3>{t(title_key, lang)}</h3>"
    if not data:
        simulated = f["connected_equipment"]["default"]["simulated"]
        why = (
            t("figs.breakdown_empty_simulated", lang, n=simulated)
            if simulated
            else t("figs.breakdown_empty", lang)
        )
        return f"{title}<p class='note'>{why}</p>"
    rows = []
    for k, v in sorted(data.items()):
        name = t(f"sector.{k}", lang) if has(f"sector.{k}") else e(k)
        rows.append(
            [
                name,
                num(v.get("connected_equipment"), lang),
                num(v.get("data_collection_points"), lang),
                num(v.get("equipment_types"), lang),
            ]
        )
    head = [
        t(column_key, lang),
        fig_label("connected_equipment", lang),
        fig_label("data_collection_points", lang),
        fig_label("equipment_types", lang),
    ]
    return title + table(head, rows, lang)


def devices_section(ev: dict[str, Any], lang: Lang) -> str:
    rows = device_rows(ev["figures"])
    anchor, title = f"{lang}-devices", t("section.devices", lang)
    if not rows:
        return section(anchor, title, f"<p>{t('dev.none', lang)}</p>")
    p = ev["parameters"]
    days = int(p["window_days"])
    minimum = int(ev["figures"]["connected_equipment"]["default"]["min_active_days"])
    cells = []
    for r in rows:
        counted = [t(f"rule.{rule}", lang) for rule in RULES if r.get(f"counted_{rule}")]
        cells.append(
            [
                e(r["device"]) + (" " + simulated_badge(lang) if r.get("simulated") else ""),
                e(r.get("type")),
                e(r.get("industry")),
                t(f"sector.{r['sector']}", lang) if has(f"sector.{r.get('sector')}") else e(r.get("sector")),
                e(formats.moment(r.get("first_seen"), lang)),
                e(formats.moment(r.get("last_seen"), lang)),
                num(r.get("active_days"), lang),
                num(r.get("messages"), lang),
                num(r.get("readings"), lang),
                e(formats.listing(counted, lang)),
            ]
        )
    head = [
        t(f"dev.{k}", lang)
        for k in (
            "device",
            "type",
            "industry",
            "sector",
            "first_seen",
            "last_seen",
            "active_days",
            "messages",
            "readings",
            "counted",
        )
    ]
    top = sorted(rows, key=lambda r: (-int(r["active_days"]), str(r["device"])))[:CHART_DEVICES]
    chart = charts.active_days_chart(
        [(str(r["device"]), int(r["active_days"]), bool(r.get("simulated"))) for r in top],
        days,
        minimum,
        lang,
        f"{lang}-active",
    )
    note = (
        f"<p class='note'>{t('dev.chart_top', lang, n=CHART_DEVICES)}</p>"
        if len(rows) > CHART_DEVICES
        else ""
    )
    caption = t("dev.chart", lang, days=days, min=minimum)
    body = (
        f"<p>{t('dev.from_csv', lang, n=formats.number(len(rows), lang))}</p>"
        f"{table(head, cells, lang, 'devices.csv', 'devices')}"
        f"<figure>{chart}<figcaption>{caption}</figcaption></figure>{note}"
    )
    return section(anchor, title, body)


def _share_figure(figure: str) -> bool:
    return "share" in figure


def _threshold_value(figure: str, value: Any, lang: Lang) -> str:
    if _share_figure(figure) and isinstance(value, int | float):
        return e(formats.share(float(value), lang, 0))
    return num(value, lang)


def _status(r: dict[str, Any], lang: Lang) -> str:
    if r["status"] == "declared":
        key = (
            "status.not_declared"
            if r.get("value") is None
            else "status.declared_meets"
            if r["met"]
            else "status.declared_short"
        )
        return badge("declared", t(key, lang))
    return badge(r["status"], t(f"status.{r['status']}", lang))


def _threshold_source(r: dict[str, Any], lang: Lang) -> str:
    if r["source"] == "measured":
        return t("status.measured", lang) + (
            f" <span class='note'>{t('status.no_data', lang)}</span>" if r.get("value") is None else ""
        )
    if not r.get("source"):
        return t("status.not_declared", lang)
    ident, _, title = str(r["source"]).partition(": ")
    return f"{e(title or ident)} <span class='note'>{e(ident) if title else ''}</span>"


def tier_source(tier: str, source: str, lang: Lang) -> str:
    """A tier's source by title, with the file name it is read from."""
    if TIERS.get(tier) != source or not has(f"tier_source.{tier}"):
        return e(source)  # not the text this software knows: shown as written
    file = f"({t('src.file', lang)} <code>{e(TIER_SOURCE_FILE)}</code>)"
    return (
        f"{t('tiers.source', lang)}: {t(f'tier_source.{tier}', lang)}, {t('src.guidelines_000', lang)} {file}"
    )


def tiers_section(ev: dict[str, Any], lang: Lang) -> str:
    parts = [f"<p class='note'>{t('tiers.note', lang)}</p>"]
    head = [t(f"tiers.{k}", lang) for k in ("id", "term", "figure", "minimum", "value", "status", "source")]
    order = [*TIER_ORDER, *sorted(set(ev["tiers"]) - set(TIER_ORDER))]
    for tier in (name for name in order if name in ev["tiers"]):
        data = ev["tiers"][tier]
        verdict = str(data["verdict"])
        vkey = f"tier_verdict.{verdict}"
        kind = "verified" if data.get("met") else "refuted"
        name = t(f"tier.{tier}", lang) if has(f"tier.{tier}") else e(tier)
        parts.append(f"<h3>{name} {badge(kind, t(vkey, lang) if has(vkey) else e(verdict))}</h3>")
        parts.append(f"<p class='note'>{tier_source(tier, str(data.get('source', '')), lang)}</p>")
        rows = [
            [
                e(r["id"]),
                f"<span lang='zh-Hans'>{e(r['term'])}</span>",
                fig_label(r["figure"], lang),
                _threshold_value(r["figure"], r["minimum"], lang),
                _threshold_value(r["figure"], r.get("value"), lang),
                _status(r, lang),
                _threshold_source(r, lang),
            ]
            for r in data["thresholds"]
        ]
        parts.append(table(head, rows, lang))
    return section(f"{lang}-tiers", t("section.tiers", lang), "".join(parts))


def headline_rows(ev: dict[str, Any], lang: Lang) -> list[list[str]]:
    f = ev["figures"]
    rows = []
    for key in ("connected_equipment", "data_collection_points"):
        fig = f[key]["default"]
        rows.append([fig_label(key, lang), num(fig["value"], lang), num(fig["simulated"], lang)])
    m = f["managed_equipment"]
    rows.append([fig_label("managed_equipment", lang), num(m["value"], lang), num(m["simulated"], lang)])
    inv = f["monthly_model_invocations"]
    rows.append([fig_label("monthly_model_invocations", lang), num(inv["value"], lang), "—"])
    return rows


def headline_head(lang: Lang) -> list[str]:
    return [e(text("figs.figure", lang)), e(text("figs.value", lang)), e(text("figs.simulated_column", lang))]
