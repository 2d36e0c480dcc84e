"""The results table as cells in a reader's language, for the terminal and the evidence page (no I/O).

Each row's label is the original's wording beside the English (the reader's language first).
"""

from __future__ import annotations

from typing import Any

from collector.i18n import Lang, formats, has, text


def label(row: dict[str, Any], lang: Lang) -> str:
    if row["zh"] == row["en"]:
        return str(row["zh"])
    return f"{row['zh']}（{row['en']}）" if lang == "zh" else f"{row['en']} ({row['zh']})"


def _value(v: Any, lang: Lang, unit: str = "") -> str:
    if not isinstance(v, int | float):
        return formats.DASH
    if unit == "%":
        return formats.number(v, lang, 2) + ("%" if lang == "zh" else " %")
    return formats.number(v, lang, 4) + (f" {unit}" if unit else "")


def cells(row: dict[str, Any], lang: Lang) -> list[str]:
    """indicator, before, after, change rate, interval, verdict, basis."""
    status = str(row["status"])
    change = formats.change(row.get("change_pct"), "%", lang)
    if status == "measured":
        unit = str(row.get("unit") or "")
        if unit != "%" and has(f"unit.{row.get('kpi')}"):
            unit = text(f"unit.{row['kpi']}", lang)
        before, after = _value(row.get("before"), lang, unit), _value(row.get("after"), lang, unit)
        low, high = (formats.change(row.get(k), "%", lang) for k in ("ci_low", "ci_high"))
        interval = f"[{low}, {high}]"
        verdict = text(f"verdict.{row['verdict']}", lang)
        claimed = formats.change(row.get("claimed_change_pct"), "%", lang)
        basis = f"{text('app.status.measured', lang)}; {text('app.claimed', lang, claimed=claimed)}"
        return [label(row, lang), before, after, change, interval, verdict, basis]
    if status == "declared":
        note = "" if row.get("change_declared") else f" ({text('app.change_computed', lang)})"
        return [
            label(row, lang),
            _value(row.get("before"), lang),
            _value(row.get("after"), lang),
            change + (note if row.get("change_pct") is not None else ""),
            formats.DASH,
            formats.DASH,
            f"{text('app.status.declared', lang)}: {row['source']}",
        ]
    why = text(f"app.reason.{row['reason_key']}", lang)
    return [label(row, lang), *[formats.DASH] * 5, f"{text('app.status.not_declared', lang)}: {why}"]


def all_rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    """The original's rows, then — under its own label, 其他个性化指标 — the applicant's rows if any."""
    others = table["others"]
    group = [{"group": True, "zh": others["zh"], "en": others["en"]}] if others["rows"] else []
    return [*table["rows"], *group, *others["rows"]]


def head(table: dict[str, Any], lang: Lang) -> list[str]:
    confidence = next((r["confidence"] for r in table["rows"] if r.get("confidence")), 0.9)
    keys = ("indicator", "before", "after", "change")
    return [
        *(text(f"app.head.{k}", lang) for k in keys),
        text("app.head.interval", lang, confidence=formats.share(confidence, lang, 0)),
        text("app.head.verdict", lang),
        text("app.head.basis", lang),
    ]


def periods_line(table: dict[str, Any], lang: Lang) -> str:
    b, r = table["baseline"], table["reporting"]
    return text(
        "app.periods",
        lang,
        baseline=formats.period(b["start"], b["end"], lang),
        reporting=formats.period(r["start"], r["end"], lang),
    )


def lines(table: dict[str, Any], lang: Lang) -> list[str]:
    """The terminal rendering: a title, the periods, one block per row, its reasons indented."""
    out = [f"{text('app.title', lang)} — {table['source']}", periods_line(table, lang)]
    out.append(text("app.devices", lang, n=len(table["devices"])))
    heads = head(table, lang)
    for row in all_rows(table):
        if row.get("group"):
            out.append(label(row, lang))
            continue
        values = cells(row, lang)
        out.append(values[0])
        out += [f"    {h}: {v}" for h, v in zip(heads[1:], values[1:], strict=True) if v != formats.DASH]
        out += [f"    - {reason}" for reason in row.get("reasons") or []]
    out.append(text("app.how", lang))
    return out


def fact_text(fact: dict[str, Any], lang: Lang) -> str:
    value = fact.get("value")
    shown = formats.DASH if value is None else formats.number(value, lang, 4)
    unit = f" {fact['unit']}" if fact.get("unit") and value is not None else ""
    return f"{fact[lang]}: {shown}{unit}"


def scenario_lines(out: dict[str, Any], lang: Lang) -> list[str]:
    """The terminal rendering of the scenario evidence: one block per scenario, one line per fact."""
    w = out["window"]
    lines_out = [f"{text('scen.title', lang)} — {formats.period(w['start'], w['end'], lang)}"]
    for s in out["scenarios"]:
        name = f"{s['name_zh']}（{s['name_en']}）" if lang == "zh" else f"{s['name_en']} ({s['name_zh']})"
        status = text("scen.evidenced" if s["evidenced"] else "scen.not_evidenced", lang)
        lines_out.append(f"{s['number']:>2} {name}: {status}")
        lines_out += [f"    {fact_text(f, lang)}" for f in s["facts"]]
    if not out["alarms_table"]:
        lines_out.append(text("scen.no_alarms_table", lang))
    return lines_out
