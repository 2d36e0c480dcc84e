"""report.html, the application's results table (工厂整体建设成效): every row of the original, its
before, after, change rate, interval, verdict and basis (collector.application.text gives the cells)."""

from __future__ import annotations

from typing import Any

from collector.application.text import cells, head, periods_line
from collector.evidence.html import badge, e, section, t, table
from collector.i18n import Lang

VERDICTS = ("verified", "refuted", "inconclusive")


def included(ev: dict[str, Any]) -> bool:
    return bool((ev.get("application") or {}).get("included"))


def application_section(ev: dict[str, Any], lang: Lang) -> str:
    data = ev.get("application") or {}
    if not data.get("included"):
        return section(f"{lang}-application", t("section.application", lang), f"<p>{t('app.none', lang)}</p>")
    app = data["table"]
    rows = []
    for row in [*app["rows"], *app["others"]["rows"]]:
        values = [e(v) for v in cells(row, lang)]
        if row.get("verdict") in VERDICTS:
            values[5] = badge(str(row["verdict"]), values[5])
        reasons = "".join(f"<br><span class='note'>{e(r)}</span>" for r in row.get("reasons") or [])
        values[6] += reasons
        rows.append(values)
    body = (
        f"<p>{e(periods_line(app, lang))} {t('app.devices', lang, n=len(app['devices']))}</p>"
        + table([e(h) for h in head(app, lang)], rows, lang, file="evidence.json")
        + f"<p class='note'>{t('app.how', lang)} <code>{e(app['source'])}</code></p>"
    )
    return section(f"{lang}-application", t("section.application", lang), body)
