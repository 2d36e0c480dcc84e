"""report.html: platform figures, the device table and the tier evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collector.evidence import charts
from collector.evidence.devices import RULES, device_rows
from collector.evidence.html import MAX_ROWS, badge, e, lbl, num, section, simulated_badge, t, table
from collector.figures.model import Breakdown, Figures
from collector.figures.rows import FIGURE_ROWS, FigureRow
from collector.figures.tiers import SOURCE, TIERS
from collector.i18n import Lang, formats, has, text

CHART_DEVICES = 60  # bars in the active-days chart; the table lists every device
TIER_SOURCE_FILE = SOURCE  # the guidelines' text the thresholds are transcribed from
TIER_ORDER = tuple(TIERS)


def fig_label(key: str, lang: Lang) -> str:
    return lbl(f"fig.{key}", lang) if has(f"fig.{key}") else e(key)


def figures_of(ev: dict[str, Any]) -> Figures:
    """The typed figures of an evidence document (KeyError / TypeError when it lacks some)."""
    return Figures.from_json(ev["figures"])


def _row_name(row: FigureRow, f: Figures, lang: Lang) -> str:
    if row.rule is not None:
        note = t(f"figs.rule.{row.rule}", lang, n=row.min_active_days(f))
    elif row.note is not None:
        note = t(row.note, lang)
    else:
        return fig_label(row.figure, lang)
    return f"{fig_label(row.figure, lang)} <span class='note'>{note}</span>"


def _simulated(row: FigureRow, f: Figures, lang: Lang) -> str:
    return "—" if row.simulated is None else num(row.simulated(f), lang)


def figures_section(ev: dict[str, Any], lang: Lang) -> str:
    f = figures_of(ev)
    rows = [
        [_row_name(row, f, lang), num(row.value(f), lang), _simulated(row, f, lang)] for row in FIGURE_ROWS
    ]
    head = [t("figs.figure", lang), t("figs.value", lang), t("figs.simulated_column", lang)]
    counting = t("figs.included" if f.include_simulated else "figs.excluded", lang)
    body = f"<p>{counting}</p>{table(head, rows, lang)}{_capacity(f, lang)}"
    body += _breakdown(f, f.breakdown_by_industry, "figs.by_industry", "figs.industry", lang)
    body += _breakdown(f, f.breakdown_by_sector, "figs.by_sector", "figs.sector", lang)
    return section(f"{lang}-figures", t("section.figures", lang), body)


def _capacity(f: Figures, lang: Lang) -> str:
    cap = f.demonstrated_management_capacity
    title = f"<h3>{fig_label('demonstrated_management_capacity', lang)}</h3>"
    if not cap:
        return f"{title}<p>{t('figs.no_capacity', lang)}</p>"
    lat = cap.latency_ms
    return (
        title
        + "<p>"
        + t(
            "figs.capacity",
            lang,
            answered=formats.number(cap.value, lang),
            sampled=formats.number(cap.devices_sampled, lang),
            registered=formats.number(cap.devices_registered, lang),
            rate=formats.share(cap.success_rate, lang),
            p50=formats.number(lat.p50, lang),
            p95=formats.number(lat.p95, lang),
            p99=formats.number(lat.p99, lang),
            run=cap.run_id,
            date=formats.moment(cap.date, lang) if cap.date else "—",
        )
        + "</p>"
    )


def _breakdown(f: Figures, data: Mapping[str, Breakdown], title_key: str, column_key: str, lang: Lang) -> str:
    """A breakdown table, or one sentence saying why there is nothing to break down."""
    title = f"<h3>{t(title_key, lang)}</h3>"
    if not data:
        simulated = f.connected_equipment.default.simulated
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
                num(v.connected_equipment, lang),
                num(v.data_collection_points, lang),
                num(v.equipment_types, lang),
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
    f = figures_of(ev)
    rows = device_rows(f)
    anchor, title = f"{lang}-devices", t("section.devices", lang)
    if not rows:
        return section(anchor, title, f"<p>{t('dev.none', lang)}</p>")
    p = ev["parameters"]
    days = int(p["window_days"])
    minimum = f.connected_equipment.default.min_active_days
    cells = []
    for r in rows[:MAX_ROWS]:  # the table shows no more; devices.csv has them all
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
        f"{table(head, cells, lang, 'devices.csv', 'devices', total=len(rows))}"
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
    f = figures_of(ev)
    return [
        [fig_label(row.figure, lang), num(row.value(f), lang), _simulated(row, f, lang)]
        for row in FIGURE_ROWS
        if row.glance
    ]


def headline_head(lang: Lang) -> list[str]:
    return [e(text("figs.figure", lang)), e(text("figs.value", lang)), e(text("figs.simulated_column", lang))]
