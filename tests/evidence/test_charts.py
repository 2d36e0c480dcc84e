"""Report charts: every kind of interval draws, ids stay inside their chart, output is repeatable."""

from __future__ import annotations

import re
from typing import Any

import pytest

from collector.evidence import charts

CLAIM: dict[str, Any] = {
    "title": "t", "kpi": "unplanned_downtime", "unit": "%", "verdict": "verified", "confidence": 0.9,
    "claimed_change": -20.0, "point_estimate": -31.0, "ci_low": -40.0, "ci_high": -25.0,
    "series": {"baseline": [["2026-01-01", 0.1], ["2026-01-02", None], ["2026-01-03", 0.12]],
               "reporting": [["2026-02-01", 0.07], ["2026-02-02", 0.08]]},
    "coverage": {"baseline": {"start": "2026-01-01", "end": "2026-01-03", "value": 0.11},
                 "reporting": {"start": "2026-02-01", "end": "2026-02-02", "value": 0.075}},
}  # fmt: skip


def _self_contained(svg: str, prefix: str) -> None:
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    assert ids and all(i.startswith(f"{prefix}-") for i in ids)
    refs = set(re.findall(r'href="#([^"]+)"', svg)) | set(re.findall(r"url\(#([^)]+)\)", svg))
    assert refs <= ids, refs - ids  # nothing points outside this chart
    assert svg.startswith('<svg role="img" aria-label="') and "<?xml" not in svg and "<dc:date>" not in svg


@pytest.mark.parametrize(
    "change",
    [
        {},  # a bounded interval
        {"ci_low": None},  # one side unbounded (no events in a period)
        {"ci_low": None, "ci_high": None, "point_estimate": None, "verdict": "inconclusive"},  # none
        {"claimed_change": 0.0, "unit": "pp", "verdict": "refuted"},  # a zero claim has no verified side
    ],
)
def test_interval_chart_draws_every_case(change: dict[str, Any]) -> None:
    claim = {**CLAIM, **change}
    for lang in ("zh", "en"):
        svg = charts.interval_chart(claim, lang, f"{lang}-x", simulated=True)
        _self_contained(svg, f"{lang}-x")
        assert svg == charts.interval_chart(claim, lang, f"{lang}-x", simulated=True)


def test_series_and_active_days_charts() -> None:
    svg = charts.series_chart(CLAIM, "en", "s", simulated=False)
    assert svg is not None
    _self_contained(svg, "s")
    assert (
        charts.series_chart({**CLAIM, "series": {"baseline": [["2026-01-01", None]]}}, "en", "s", False)
        is None
    )
    bars = charts.active_days_chart([("a", 30, False), ("b", 3, True)], 30, 15, "zh", "d")
    _self_contained(bars, "d")


def test_without_a_cjk_font_charts_are_still_repeatable(monkeypatch: pytest.MonkeyPatch) -> None:
    found = charts.cjk_font()
    with_font = charts.interval_chart(CLAIM, "zh", "f", simulated=True)
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    boxes = charts.interval_chart(CLAIM, "zh", "f", simulated=True)
    assert boxes == charts.interval_chart(CLAIM, "zh", "f", simulated=True)
    if found is None:
        pytest.skip("no CJK font installed: only the rendering without one was checked")
    glyphs = found.replace(" ", "")  # matplotlib names glyph ids after the font they come from
    assert f'id="f-{glyphs}' in with_font and glyphs not in boxes
