"""One result line per headline figure: a human line and a machine line for `python -m bench`.

    emit("points/s", 18_400, "points/s", 22_000, "raw broker rate", target=">= 20,000 points/s")

prints

      points/s: 18,400 points/s; ceiling raw broker rate 22,000 -> ratio 0.836 (target >= 20,000 points/s)
    BENCH-RESULT {"figure": "points/s", "value": 18400.0, ...}

The ratio is value / ceiling, with the ceiling in the same unit as the value and measured in the same
run. Figures without a ceiling (a CPU share, an RSS) pass `ceiling=None` and have no ratio.
"""

from __future__ import annotations

import json
import math
from typing import Any

PREFIX = "BENCH-RESULT "


def _finite(x: float | None) -> float | None:
    """JSON has no NaN or infinity: an unmeasurable number becomes null."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def fmt(x: float | None) -> str:
    """Three significant digits for small numbers, thousands separators for large ones."""
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if x == 0:
        return "0"
    return f"{x:.3g}"


def result(
    figure: str, value: float, unit: str, ceiling: float | None, ceiling_label: str, target: str = ""
) -> dict[str, Any]:
    """The machine-readable record that `emit` prints."""
    v, c = _finite(value), _finite(ceiling)
    ratio = _finite(v / c) if v is not None and c else None
    return {
        "figure": figure,
        "value": v,
        "unit": unit,
        "ceiling": c,
        "ceiling_label": ceiling_label,
        "ratio": ratio,
        "target": target,
    }


def emit(
    figure: str, value: float, unit: str, ceiling: float | None, ceiling_label: str, target: str = ""
) -> None:
    """Print a human line and a `BENCH-RESULT {json}` line for one headline figure."""
    rec = result(figure, value, unit, ceiling, ceiling_label, target)
    line = f"  {figure}: {fmt(rec['value'])} {unit}"
    if rec["ceiling"] is not None:
        line += f"; ceiling {ceiling_label} {fmt(rec['ceiling'])} -> ratio {fmt(rec['ratio'])}"
    elif ceiling_label:
        line += f"; no ceiling ({ceiling_label})"
    if target:
        line += f" (target {target})"
    print(line, flush=True)
    print(PREFIX + json.dumps(rec, ensure_ascii=False, allow_nan=False), flush=True)


def parse(line: str) -> dict[str, Any] | None:
    """The record on a `BENCH-RESULT` line, or None for any other line."""
    if not line.startswith(PREFIX):
        return None
    try:
        rec = json.loads(line[len(PREFIX) :])
    except json.JSONDecodeError:
        return None
    return rec if isinstance(rec, dict) and "figure" in rec else None
