"""report.html, KPI claims: the interval against the claim, the daily series, coverage, the devices."""

from __future__ import annotations

from typing import Any

from collector.evidence import charts
from collector.evidence.html import badge, e, lbl, num, original, section, simulated_badge, t, table
from collector.i18n import Lang, formats, has, text

VERDICTS = ("verified", "refuted", "inconclusive")


def verdict_badge(verdict: Any, lang: Lang) -> str:
    v = str(verdict)
    return badge(v, t(f"verdict.{v}", lang)) if v in VERDICTS else badge("", e(v))


def is_simulated(claim: dict[str, Any]) -> bool:
    return bool(claim.get("simulated_devices"))


def kpi_label(kpi: Any, lang: Lang) -> str:
    key = f"kpi.{kpi}"
    return lbl(key, lang) if has(key) else e(kpi)


def change(claim: dict[str, Any], field: str, lang: Lang) -> str:
    return e(formats.change(claim.get(field), str(claim.get("unit") or "%"), lang))


def interval(claim: dict[str, Any], lang: Lang) -> str:
    return f"<span class='nowrap'>[{change(claim, 'ci_low', lang)}, {change(claim, 'ci_high', lang)}]</span>"


def confidence(claim: dict[str, Any], lang: Lang) -> str:
    c = claim.get("confidence")
    return e(formats.share(float(c), lang, 0)) if isinstance(c, int | float) else "?"


def claims_section(ev: dict[str, Any], lang: Lang) -> str:
    claims = ev.get("claims") or {}
    results = claims.get("results") or []
    if not claims.get("included") or not results:
        return section(f"{lang}-claims", t("section.claims", lang), f"<p>{t('claim.none', lang)}</p>")
    blocks = "".join(_claim(c, i, lang) for i, c in enumerate(results, 1))
    return section(f"{lang}-claims", t("section.claims", lang), blocks)


def _claim(c: dict[str, Any], i: int, lang: Lang) -> str:
    sim = is_simulated(c)
    head = (
        f"<h3 id='{lang}-claim-{i}'>{e(c.get('title') or c.get('id'))}"
        f" {verdict_badge(c.get('verdict'), lang)}"
        f"{' ' + simulated_badge(lang) if sim else ''}</h3>"
    )
    parts = [head, _numbers(c, lang)]
    if sim:
        devices = formats.listing([str(d) for d in c["simulated_devices"]], lang)
        parts.append(f"<p class='simnote'>{t('claim.simulated', lang, devices=devices)}</p>")
    parts.append(
        f"<figure>{charts.interval_chart(c, lang, f'{lang}-c{i}-iv', sim)}"
        f"<figcaption>{t('claim.interval_chart', lang)}</figcaption></figure>"
    )
    series = charts.series_chart(c, lang, f"{lang}-c{i}-ts", sim)
    parts.append(
        f"<figure>{series}<figcaption>{t('claim.series_chart', lang)}</figcaption></figure>"
        if series
        else f"<p class='note'>{t('claim.no_series', lang)}</p>"
    )
    parts += [_coverage(c, lang), _devices(c, lang), _method(c, lang)]
    return f"<article class='claim'>{''.join(parts)}</article>"


def _numbers(c: dict[str, Any], lang: Lang) -> str:
    verdict = str(c.get("verdict"))
    why = t(f"verdict.{verdict}.why", lang) if verdict in VERDICTS else ""
    kpi = str(c.get("kpi"))
    unit = f" <span class='note'>{t(f'unit.{kpi}', lang)}</span>" if has(f"unit.{kpi}") else ""
    rows = [
        (t("claim.kpi", lang), f"{kpi_label(kpi, lang)}{unit} <span class='note'>{e(c.get('id'))}</span>"),
        (t("claimed_change", lang), f"<b>{change(c, 'claimed_change', lang)}</b>"),
        (t("claim.point_estimate", lang), f"<b>{change(c, 'point_estimate', lang)}</b>"),
        (t("claim.interval", lang, confidence=confidence(c, lang)), f"<b>{interval(c, lang)}</b>"),
        (t("claim.verdict", lang), f"{verdict_badge(verdict, lang)} {why}"),
    ]
    cells = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f"<dl class='numbers'>{cells}</dl>"


def _period_exclusions(c: dict[str, Any], period: str, lang: Lang) -> str:
    rows = (c.get("device_coverage") or {}).get(period) or []
    reasons = []
    low = sum(int(r.get("low_state_coverage", 0)) for r in rows)
    missing = sum(int(r.get("no_kpi_inputs", 0)) for r in rows)
    if low:
        reasons.append(t("cov.low_state", lang, n=formats.number(low, lang)))
    if missing:
        reasons.append(t("cov.no_inputs", lang, n=formats.number(missing, lang)))
    cov = (c.get("coverage") or {}).get(period) or {}
    excluded = cov.get("excluded_device_days")  # by counter-fault reason, where the engine reports it
    if isinstance(excluded, dict):
        reasons += [f"{e(k)}: {num(v, lang)}" for k, v in sorted(excluded.items()) if v]
    return "; ".join(reasons) or t("cov.nothing_excluded", lang)


def _coverage(c: dict[str, Any], lang: Lang) -> str:
    coverage = c.get("coverage") or {}
    rows = []
    for period in ("baseline", "reporting"):
        cov = coverage.get(period)
        if not isinstance(cov, dict):
            continue
        rows.append(
            [
                t(period, lang),
                e(formats.period(cov.get("start"), cov.get("end"), lang)),
                num(cov.get("device_days"), lang),
                num(cov.get("valid_device_days"), lang),
                e(formats.share(cov.get("valid_share"), lang)),
                num(cov.get("value"), lang, 6),
                _period_exclusions(c, period, lang),
            ]
        )
    if not rows:
        return ""
    head = [
        t(k, lang)
        for k in (
            "cov.period",
            "cov.dates",
            "cov.device_days",
            "cov.valid",
            "cov.valid_share",
            "cov.value",
            "cov.excluded",
        )
    ]
    gates = (c.get("device_coverage") or {}).get("gates") or {}
    gate_text = ""
    if gates:
        gate_text = (
            "<p class='note'>"
            + t(
                "cov.gates",
                lang,
                device_day=formats.share(gates.get("device_day_coverage"), lang, 0),
                period=formats.share(gates.get("period_valid_share"), lang, 0),
            )
            + "</p>"
        )
    return f"<h4>{t('cov.title', lang)}</h4>{gate_text}{table(head, rows, lang)}{_per_device(c, lang)}"


def _per_device(c: dict[str, Any], lang: Lang) -> str:
    by_period = c.get("device_coverage") or {}
    devices: dict[str, dict[str, dict[str, Any]]] = {}
    for period in ("baseline", "reporting"):
        for r in by_period.get(period) or []:
            devices.setdefault(str(r.get("device")), {})[period] = r
    if not devices:
        return ""
    sims = set(c.get("simulated_devices") or [])
    rows = []
    for name, periods in devices.items():
        cells = [e(name) + (" " + badge("sim small", t("simulated", lang)) if name in sims else "")]
        reasons = []
        for period in ("baseline", "reporting"):
            r = periods.get(period)
            if r is None:
                cells.append("—")
                continue
            cells.append(f"{num(r.get('valid_device_days'), lang)} / {num(r.get('device_days'), lang)}")
            why = []
            if r.get("low_state_coverage"):
                why.append(t("cov.low_state", lang, n=formats.number(int(r["low_state_coverage"]), lang)))
            if r.get("no_kpi_inputs"):
                why.append(t("cov.no_inputs", lang, n=formats.number(int(r["no_kpi_inputs"]), lang)))
            if r.get("missing_points"):
                why.append(
                    t("cov.missing_points", lang, roles=formats.listing(list(r["missing_points"]), lang))
                )
            if why:
                reasons.append(f"{t(period, lang)}: {'; '.join(why)}")
        cells.append("<br>".join(reasons) or t("cov.nothing_excluded", lang))
        rows.append(cells)
    head = [
        t("cov.device", lang),
        f"{t('baseline', lang)}: {t('cov.valid', lang)} / {t('cov.device_days', lang)}",
        f"{t('reporting', lang)}: {t('cov.valid', lang)} / {t('cov.device_days', lang)}",
        t("cov.excluded", lang),
    ]
    opened = " open" if len(rows) <= 30 else ""
    summary = f"{t('cov.by_device', lang)} ({formats.number(len(rows), lang)})"
    grid = table(head, rows, lang, "evidence.json")
    return f"<details{opened}><summary>{e(summary)}</summary>{grid}</details>"


def _devices(c: dict[str, Any], lang: Lang) -> str:
    devices = [str(d) for d in c.get("devices") or []]
    if not devices:
        return f"<h4>{t('claim.devices', lang, n=0)}</h4><p>{t('claim.no_devices', lang)}</p>"
    sims = set(c.get("simulated_devices") or [])
    items = "".join(
        f"<li>{e(d)}{' ' + badge('sim small', t('simulated', lang)) if d in sims else ''}</li>"
        for d in devices
    )
    n = formats.number(len(devices), lang)
    return f"<h4>{t('claim.devices', lang, n=n)}</h4><ul class='inline'>{items}</ul>"


def _method(c: dict[str, Any], lang: Lang) -> str:
    rows = [(t("claim.method", lang), original(str(c.get("method") or "—"), lang))]
    for key, field in (("claim.reasons", "reasons"), ("claim.notes", "notes")):
        items = [str(x) for x in c.get(field) or []]
        if items:
            rows.append((t(key, lang), "<br>".join(original(x, lang) for x in items)))
    if c.get("source"):
        rows.append((t("claim.source", lang), e(c["source"])))
    return "<dl class='meta'>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def claims_glance(ev: dict[str, Any], lang: Lang) -> str:
    """One row per claim for the summary at the top."""
    results = (ev.get("claims") or {}).get("results") or []
    if not results:
        return f"<p>{t('claim.none', lang)}</p>"
    rows = []
    for i, c in enumerate(results, 1):
        rows.append(
            [
                f"<a href='#{lang}-claim-{i}'>{e(c.get('title') or c.get('id'))}</a>"
                + (" " + badge("sim small", t("simulated", lang)) if is_simulated(c) else ""),
                kpi_label(c.get("kpi"), lang),
                change(c, "claimed_change", lang),
                change(c, "point_estimate", lang),
                f"{interval(c, lang)} <span class='note'>{confidence(c, lang)}</span>",
                verdict_badge(c.get("verdict"), lang),
            ]
        )
    head = [
        text("section.claims", lang),
        text("claim.kpi", lang),
        text("claimed_change", lang),
        text("claim.point_estimate", lang),
        text("claim.interval", lang, confidence=""),
        text("claim.verdict", lang),
    ]
    return table([e(h.strip()) for h in head], rows, lang)
