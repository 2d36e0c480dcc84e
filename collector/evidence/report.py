"""report.html: the evidence for a reader, self-contained (inline CSS and SVG, no external assets)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.pass{color:#070}.fail{color:#b00}
.declared{color:#a60}.note{color:#666;font-size:.9em}code{background:#f5f5f5;padding:0 .2em}
"""


def _e(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return escape(f"{value:,.2f}".rstrip("0").rstrip("."))
    if isinstance(value, int) and not isinstance(value, bool):
        return escape(f"{value:,}")
    return escape(str(value))


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def bar_chart(title: str, labels: list[str], values: list[float], limit: float, line: float | None) -> str:
    """Horizontal bars, one per label, scaled to `limit`, with an optional rule line."""
    if not labels:
        return f"<p class='note'>{escape(title)}: nothing to chart.</p>"
    row, left, width = 16, 180, 520
    height = row * len(labels) + 30
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{left + width + 60}' height='{height}'"
             f" role='img' aria-label='{escape(title)}'>"]  # fmt: skip
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 20 + i * row
        w = 0 if limit <= 0 else width * min(value, limit) / limit
        parts.append(
            f"<text x='{left - 6}' y='{y + 11}' font-size='11' text-anchor='end'>{escape(label)}</text>"
        )
        parts.append(f"<rect x='{left}' y='{y}' width='{w:.1f}' height='{row - 4}' fill='#4a7bb7'/>")
        parts.append(f"<text x='{left + w + 4:.1f}' y='{y + 11}' font-size='11'>{_e(value)}</text>")
    if line is not None and limit > 0:
        x = left + width * line / limit
        parts.append(
            f"<line x1='{x:.1f}' y1='12' x2='{x:.1f}' y2='{height}' stroke='#b00' stroke-dasharray='4'/>"
        )
    parts.append(f"<text x='{left}' y='12' font-size='12' font-weight='bold'>{escape(title)}</text></svg>")
    return "".join(parts)


def _series_values(series: Any) -> list[tuple[str, float]]:
    """(label, value) pairs from a claim's per-day series, whatever numeric field it carries."""
    out: list[tuple[str, float]] = []
    if not isinstance(series, list):
        return out
    for i, item in enumerate(series):
        if isinstance(item, int | float) and not isinstance(item, bool):
            out.append((str(i), float(item)))
        elif isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], int | float):
            out.append((str(item[0]), float(item[1])))  # [day, value]; days without a value are gaps
        elif isinstance(item, dict):
            label = str(item.get("day") or item.get("date") or i)
            nums = [v for k, v in item.items() if isinstance(v, int | float) and not isinstance(v, bool)]
            if nums:
                out.append((label, float(nums[0])))
    return out


def line_chart(title: str, points: list[tuple[str, float]]) -> str:
    if len(points) < 2:
        return f"<p class='note'>{escape(title)}: fewer than two points to chart.</p>"
    w, h, pad = 700, 200, 30
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    span = (hi - lo) or 1.0
    xy = [(pad + (w - 2 * pad) * i / (len(points) - 1), h - pad - (h - 2 * pad) * (v - lo) / span)
          for i, (_, v) in enumerate(points)]  # fmt: skip
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img'"
        f" aria-label='{escape(title)}'>"
        f"<text x='{pad}' y='14' font-size='12' font-weight='bold'>{escape(title)}</text>"
        f"<polyline fill='none' stroke='#4a7bb7' stroke-width='1.5' points='{path}'/>"
        f"<text x='2' y='{pad}' font-size='10'>{_e(hi)}</text>"
        f"<text x='2' y='{h - pad}' font-size='10'>{_e(lo)}</text>"
        f"<text x='{pad}' y='{h - 8}' font-size='10'>{escape(points[0][0])}</text>"
        f"<text x='{w - pad}' y='{h - 8}' font-size='10' text-anchor='end'>{escape(points[-1][0])}</text>"
        "</svg>"
    )


def _figures(ev: dict[str, Any]) -> str:
    f = ev["figures"]
    rows = []
    for rule in ("default", "any_day", "every_day"):
        c = f["connected_equipment"][rule]
        rows.append([f"connected equipment ({rule}, ≥ {c['min_active_days']} active days)", _e(c["value"]),
                     _e(c["simulated"])])  # fmt: skip
    for rule in ("default", "any_day", "every_day"):
        p = f["data_collection_points"][rule]
        rows.append([f"data-collection points ({rule})", _e(p["value"]), _e(p["simulated"])])
    rows.append(["equipment types", _e(f["equipment_types"]["value"]), _e(f["equipment_types"]["simulated"])])
    rows.append(["industries", _e(f["industries"]["value"]), _e(f["industries"]["simulated"])])
    rows.append(
        ["managed equipment", _e(f["managed_equipment"]["value"]), _e(f["managed_equipment"]["simulated"])]
    )
    inv = f["monthly_model_invocations"]
    rows.append(["monthly model invocations (average, complete months)", _e(inv["value"]), "—"])
    table = _table(["figure", "value", "simulated (separate column)"], rows)
    cap = f["demonstrated_management_capacity"]
    cap_text = "<p>No capacity run recorded.</p>"
    if cap:
        cap_text = (
            f"<p><b>Demonstrated management capacity (synthetic)</b>: {_e(cap['value'])} simulated devices"
            f" answered of {_e(cap['devices_sampled'])} sampled ({_e(cap['devices_registered'])} registered),"
            f" success rate {_e(cap['success_rate'])}, latency p50/p95/p99 {_e(cap['latency_ms']['p50'])} /"
            f" {_e(cap['latency_ms']['p95'])} / {_e(cap['latency_ms']['p99'])} ms, run {_e(cap['run_id'])} on"
            f" {_e(cap['date'])}. Not managed equipment.</p>"
        )
    by_ind = _table(
        ["industry", "connected equipment", "data-collection points", "equipment types"],
        [[_e(k), _e(v["connected_equipment"]), _e(v["data_collection_points"]), _e(v["equipment_types"])]
         for k, v in f["breakdown_by_industry"].items()],
    )  # fmt: skip
    return f"<h2>Figures</h2><p>{escape(f['counting'])}.</p>{table}{cap_text}<h3>By industry</h3>{by_ind}"


def _charts(ev: dict[str, Any]) -> str:
    f = ev["figures"]
    days = ev["parameters"]["window_days"]
    any_day = f["connected_equipment"]["any_day"]
    members = sorted(any_day["members"] + any_day["simulated_members"], key=lambda m: -m["active_days"])[:60]
    labels = [m["device"] + (" (sim)" if m["simulated"] else "") for m in members]
    active = bar_chart(
        f"Active days per device (of {days}; dashed line: default rule)",
        labels,
        [float(m["active_days"]) for m in members],
        float(days),
        float(f["connected_equipment"]["default"]["min_active_days"]),
    )
    coverage = bar_chart(
        "Coverage: share of the window's days with valid readings (%)",
        labels,
        [100.0 * m["active_days"] / days for m in members],
        100.0,
        100.0 * ev["parameters"]["min_active_days_ratio"],
    )
    note = "" if len(any_day["members"]) + len(any_day["simulated_members"]) <= 60 else (
        "<p class='note'>Charts show the 60 most active devices; devices.csv lists all.</p>"
    )  # fmt: skip
    return f"<h2>Coverage and active days</h2>{note}{active}<br>{coverage}"


def _tiers(ev: dict[str, Any]) -> str:
    parts = ["<h2>Tier evaluation</h2>"]
    for tier, t in ev["tiers"].items():
        rows = [[escape(r["id"]), escape(r["term"]), escape(r["figure"]), _e(r["minimum"]), _e(r["value"]),
                 f"<span class='{r['status']}'>{escape(r['status'])}"
                 f"{'' if r['status'] != 'declared' else (' (meets)' if r['met'] else ' (short)')}</span>",
                 _e(r["source"]) + (f" <span class='note'>{escape(r['note'])}</span>" if r["note"] else "")]
                for r in t["thresholds"]]  # fmt: skip
        parts.append(
            f"<h3>{escape(tier)}: {escape(t['verdict'])}</h3><p class='note'>{escape(t['source'])}</p>"
        )
        parts.append(_table(["id", "term", "figure", "minimum", "value", "status", "source"], rows))
    return "".join(parts)


def _claims(ev: dict[str, Any]) -> str:
    claims = ev["claims"]
    if not claims["included"]:
        return "<h2>KPI claims</h2><p>No claims were included in this bundle.</p>"
    parts = ["<h2>KPI claims</h2>"]
    for c in claims["results"]:
        parts.append(
            f"<h3>{_e(c.get('id'))}: {_e(c.get('kpi'))} — {_e(c.get('verdict'))}</h3><p>point estimate"
            f" {_e(c.get('point_estimate'))}, 90 % interval [{_e(c.get('ci_low'))}, {_e(c.get('ci_high'))}],"
            f" claimed {_e(c.get('claimed_change'))}, coverage {escape(json.dumps(c.get('coverage')))}</p>"
        )
        series = c.get("series")
        periods = series.items() if isinstance(series, dict) else [("per-day", series)]
        for period, values in periods:
            parts.append(line_chart(f"{c.get('id')}: {period} series (per day)", _series_values(values)))
    return "".join(parts)


def render(ev: dict[str, Any]) -> str:
    p = ev["parameters"]
    defs = _table(["term", "definition"], [[escape(k), escape(v)] for k, v in ev["definitions"].items()])
    params = _table(["parameter", "value"], [[escape(k), _e(v)] for k, v in p.items()])
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>plantproof evidence {escape(p['window'])}</title><style>{_CSS}</style></head><body>"
        f"<h1>Platform evidence, window {escape(p['window'])}</h1>"
        f"<p>Generated {escape(ev['generated_at'])} by plantproof {escape(ev['software']['version'])}"
        f" from {escape(ev['storage'])} storage. Verify with <code>plantproof evidence verify DIR"
        " --recompute DSN</code>.</p>"
        f"{params}{_figures(ev)}{_charts(ev)}{_tiers(ev)}{_claims(ev)}<h2>Definitions</h2>{defs}"
        "</body></html>\n"
    )
