"""report.html, the application's results table (工厂整体建设成效): every row of the original, its
before, after, change rate, interval, verdict and basis (collector.application.text gives the cells)."""

from __future__ import annotations

from typing import Any

from collector.application.text import all_rows, cells, fact_text, head, label, periods_line
from collector.evidence.html import badge, e, section, simulated_badge, t, table
from collector.i18n import Lang, formats, text

VERDICTS = ("verified", "refuted", "inconclusive")


def included(ev: dict[str, Any]) -> bool:
    return bool((ev.get("application") or {}).get("included"))


def application_section(ev: dict[str, Any], lang: Lang) -> str:
    data = ev.get("application") or {}
    if not data.get("included"):
        return section(f"{lang}-application", t("section.application", lang), f"<p>{t('app.none', lang)}</p>")
    app = data["table"]
    rows = []
    for row in all_rows(app):
        if row.get("group"):
            rows.append([f"<strong>{e(label(row, lang))}</strong>", *[""] * 6])
            continue
        values = [e(v) for v in cells(row, lang)]
        if row.get("verdict") in VERDICTS:
            values[5] = badge(str(row["verdict"]), values[5])
        reasons = "".join(f"<br><span class='note'>{e(r)}</span>" for r in row.get("reasons") or [])
        values[6] += reasons
        rows.append(values)
    simulated = data.get("simulated_devices") or []
    sim = ""
    if simulated:
        listing = formats.listing([str(d) for d in simulated], lang)
        note = t("claim.simulated", lang, devices=listing)
        sim = f" {simulated_badge(lang)} <span class='simnote'>{note}</span>"
    body = (
        f"<p>{e(periods_line(app, lang))} {t('app.devices', lang, n=len(app['devices']))}{sim}</p>"
        + table([e(h) for h in head(app, lang)], rows, lang, file="evidence.json")
        + f"<p class='note'>{t('app.how', lang)} <code>{e(app['source'])}</code></p>"
        + _scenarios(data.get("scenarios"), lang)
    )
    return section(f"{lang}-application", t("section.application", lang), body)


def _scenarios(data: dict[str, Any] | None, lang: Lang) -> str:
    """The scenario evidence over the reporting period: one row per scenario, its facts listed."""
    if not data:
        return ""
    w = data["window"]
    rows = []
    for s in data["scenarios"]:
        name = f"{s['name_zh']}（{s['name_en']}）" if lang == "zh" else f"{s['name_en']} ({s['name_zh']})"
        status = text("scen.evidenced" if s["evidenced"] else "scen.not_evidenced", lang)
        facts = "<br>".join(e(fact_text(f, lang)) for f in s["facts"])
        rows.append(
            [e(s["number"]), e(name), badge("pass" if s["evidenced"] else "declared", e(status)), facts]
        )
    head_row = [
        e(h) for h in (text("scen.number", lang), text("scen.name", lang), "", text("scen.facts", lang))
    ]
    note = "" if data.get("alarms_table") else f"<p class='note'>{t('scen.no_alarms_table', lang)}</p>"
    return (
        f"<h3>{t('scen.title', lang)} — {e(formats.period(w['start'], w['end'], lang))}</h3>"
        + table(head_row, rows, lang, file="evidence.json")
        + note
    )
