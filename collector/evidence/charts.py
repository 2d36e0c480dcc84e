"""Charts for report.html: matplotlib SVG, byte-identical for the same evidence.

Determinism: the Agg-free SVG canvas, a fixed `svg.hashsalt` (the ids matplotlib derives from
hashes), no date in the metadata, and every glyph drawn as a path (`svg.fonttype = "path"`) from
fonts chosen by a fixed preference list, so the page does not depend on the reader's fonts and the
same software and fonts give the same bytes. Latin text uses DejaVu Sans (shipped with
matplotlib); Chinese needs a CJK font (WenQuanYi Micro Hei or Noto Sans CJK), without which the
Chinese glyphs in the charts are boxes. Ids are prefixed per chart so many SVGs can share one page.
"""

from __future__ import annotations

import io
import logging
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from collector.i18n import Lang, formats, has, label, text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

HASH_SALT = "plantproof-evidence"
CJK_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP")
# Where Debian's fonts-wqy-microhei and fonts-noto-cjk put them (added if matplotlib's font cache
# predates their installation).
CJK_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
COLORS = {"verified": "#1a7f37", "refuted": "#b42318", "inconclusive": "#b54708"}
CLAIM_COLOR, NEUTRAL, BAR = "#b42318", "#8c959f", "#3b6ea8"
WIDTH_IN = 9.0  # about 860 px at 96 dpi: fits the 1280 px page with room for margins


@cache
def cjk_font() -> str | None:
    """The CJK font family the charts use, or None when none is installed."""
    from matplotlib import font_manager

    def installed() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((f for f in CJK_FAMILIES if f in names), None)

    found = installed()
    if found is None:
        for path in CJK_FILES:
            if Path(path).is_file():
                font_manager.fontManager.addfont(path)
        found = installed()
    if found is None:
        log.warning(
            "no CJK font found (install fonts-wqy-microhei or fonts-noto-cjk): Chinese text in the"
            " evidence report's charts renders as boxes; the page's own text is unaffected"
        )
    return found


def matplotlib_version() -> str:
    import matplotlib

    return str(matplotlib.__version__)


@contextmanager
def _settings() -> Iterator[None]:
    import matplotlib

    cjk = cjk_font()
    rc = {
        "svg.hashsalt": HASH_SALT,
        "svg.fonttype": "path",
        "font.family": ["DejaVu Sans", *([cjk] if cjk else [])],
        "font.size": 9,
        "axes.titlesize": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.unicode_minus": False,
    }
    with matplotlib.rc_context(cast(Any, rc)), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")  # said once, above
        yield


def _figure(height_in: float) -> Figure:
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), layout="constrained")
    FigureCanvasSVG(fig)
    return fig


_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'\b(xlink:href|href)="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")


def _svg(fig: Figure, chart_id: str, description: str) -> str:
    """The figure as an inline <svg> element: no XML prolog, ids unique to this chart, labelled."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = _ID.sub(lambda m: f'id="{chart_id}-{m[1]}"', svg)
    svg = _HREF.sub(lambda m: f'{m[1]}="#{chart_id}-{m[2]}"', svg)
    svg = _URL.sub(lambda m: f"url(#{chart_id}-{m[1]})", svg)
    aria = description.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{aria}" ', 1)


def _mark_simulated(fig: Figure, lang: Lang) -> None:
    fig.suptitle(text("simulated", lang).upper(), x=0.99, ha="right", color="#9a6700", fontsize=9)


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) else None


def interval_chart(claim: dict[str, Any], lang: Lang, chart_id: str, simulated: bool) -> str:
    """Point estimate and interval against the claimed change, with the zone a verified interval needs."""
    unit = str(claim.get("unit") or "%")
    claimed, point = _finite(claim.get("claimed_change")), _finite(claim.get("point_estimate"))
    low, high = _finite(claim.get("ci_low")), _finite(claim.get("ci_high"))
    verdict = str(claim.get("verdict"))
    color = COLORS.get(verdict, NEUTRAL)
    confidence = formats.share(_finite(claim.get("confidence")), lang, 0)
    shown = [v for v in (claimed, point, low, high, 0.0) if v is not None]
    lo, hi = min(shown), max(shown)
    pad = (hi - lo) * 0.18 or 1.0
    x0, x1 = lo - pad, hi + pad
    unit_text = text("unit.pp" if unit == "pp" else "unit.pct", lang)
    with _settings():
        fig = _figure(1.9)
        ax = fig.add_subplot()
        ax.set_xlim(x0, x1)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        if claimed is not None and claimed != 0:
            zone = (x0, claimed) if claimed < 0 else (claimed, x1)
            ax.axvspan(
                *zone, color=COLORS["verified"], alpha=0.08, lw=0, label=text("chart.verified_zone", lang)
            )
        ax.axvline(0, color=NEUTRAL, lw=0.8)
        ax.annotate(
            text("chart.no_change", lang), (0, 0.92), ha="center", va="top", color=NEUTRAL, fontsize=8
        )
        if claimed is not None:
            ax.axvline(
                claimed,
                color=CLAIM_COLOR,
                lw=1.4,
                ls="--",
                label=f"{text('claimed_change', lang)} {formats.change(claimed, unit, lang)}",
            )
        if low is not None or high is not None:
            a, b = low if low is not None else x0, high if high is not None else x1
            ax.hlines(
                0,
                a,
                b,
                color=color,
                lw=7,
                alpha=0.85,
                label=f"{text('claim.interval', lang, confidence=confidence)}"
                f" [{formats.change(low, unit, lang)}, {formats.change(high, unit, lang)}]",
            )
            for end, value in ((a, low), (b, high)):
                tag = (
                    formats.change(value, unit, lang) if value is not None else text("chart.unbounded", lang)
                )
                ax.annotate(tag, (end, -0.22), ha="center", va="top", fontsize=8)
        else:
            ax.annotate(text("chart.no_interval", lang), ((x0 + x1) / 2, -0.3), ha="center", fontsize=9)
        if point is not None:
            ax.plot(
                [point],
                [0],
                marker="D",
                ms=8,
                color="white",
                mec="black",
                mew=1.4,
                ls="none",
                label=f"{text('claim.point_estimate', lang)} {formats.change(point, unit, lang)}",
            )
        ax.set_xlabel(text("chart.change_axis", lang, unit=unit_text))
        ax.xaxis.set_major_formatter(lambda v, _pos: formats.number(v, lang, 1))
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
        if simulated:
            _mark_simulated(fig, lang)
        verdict_text = text(f"verdict.{verdict}", lang) if verdict in COLORS else verdict
        description = f"{claim.get('title')}: {text('claim.interval_chart', lang)} — {verdict_text}"
        return _svg(fig, chart_id, description)


def _day_ticks(days: list[str]) -> list[int]:
    if len(days) <= 45:
        return list(range(0, len(days), 7))
    return [i for i, d in enumerate(days) if d[8:10] == "01"] or [0]


def _series_axes(ax: Axes, points: list[Any], value: float | None, lang: Lang, color: str) -> None:
    days = [str(p[0]) for p in points]
    ys = [v if (v := _finite(p[1])) is not None else math.nan for p in points]
    ax.plot(range(len(days)), ys, color=color, lw=1.2, marker="o", ms=2)
    if value is not None:
        ax.axhline(
            value,
            color=color,
            lw=1,
            ls="--",
            label=f"{text('chart.period_value', lang)} {formats.number(value, lang, 4)}",
        )
        ax.legend(loc="upper right", frameon=True, framealpha=0.85, edgecolor="none", fontsize=8)
    ticks = _day_ticks(days)
    ax.set_xticks(ticks, [formats.short_day(days[i], lang) for i in ticks])
    ax.set_xlim(-0.5, len(days) - 0.5)
    ax.set_xlabel(text("chart.day_axis", lang))
    ax.grid(axis="y", color="#e5e7eb", lw=0.6)


def series_chart(claim: dict[str, Any], lang: Lang, chart_id: str, simulated: bool) -> str | None:
    """Baseline and reporting daily values side by side on one shared y-scale (None: nothing to plot)."""
    series: dict[str, Any] = claim.get("series") or {}
    coverage: dict[str, Any] = claim.get("coverage") or {}
    periods = [p for p in ("baseline", "reporting") if series.get(p)]
    if not any(_finite(p[1]) is not None for name in periods for p in series[name]):
        return None
    kpi = str(claim.get("kpi"))
    with _settings():
        fig = _figure(2.7)
        axes = fig.subplots(
            1, len(periods), sharey=True, squeeze=False, width_ratios=[len(series[p]) for p in periods]
        )[0]
        for ax, name, color in zip(axes, periods, ("#6e7781", BAR), strict=False):
            cov = coverage.get(name) or {}
            _series_axes(ax, series[name], _finite(cov.get("value")), lang, color)
            ax.set_title(f"{text(name, lang)}: {formats.period(cov.get('start'), cov.get('end'), lang)}")
        ax0 = axes[0]
        ax0.yaxis.set_major_formatter(lambda v, _pos: formats.number(v, lang, 4))
        known = has(f"kpi.{kpi}") and has(f"unit.{kpi}")
        ax0.set_ylabel(f"{label(f'kpi.{kpi}', lang)}\n{text(f'unit.{kpi}', lang)}" if known else kpi)
        if simulated:
            _mark_simulated(fig, lang)
        description = f"{claim.get('title')}: {text('claim.series_chart', lang)}"
        return _svg(fig, chart_id, description)


def active_days_chart(
    rows: list[tuple[str, int, bool]], days: int, minimum: int, lang: Lang, chart_id: str
) -> str:
    """Horizontal bars of active days per device (name, active days, simulated), scale 0..days."""
    sim = text("simulated", lang)
    names = [f"{n} ({sim})" if s else n for n, _, s in rows][::-1]
    values = [a for _, a, _ in rows][::-1]
    with _settings():
        fig = _figure(0.8 + 0.19 * len(rows))
        ax = fig.add_subplot()
        ax.barh(range(len(rows)), values, color=BAR, height=0.7)
        ax.set_yticks(range(len(rows)), names, fontsize=8)
        ax.set_xlim(0, max(days, 1))
        ax.axvline(minimum, color=CLAIM_COLOR, lw=1, ls="--")
        ax.set_xlabel(text("dev.chart_axis", lang))
        ax.xaxis.set_major_formatter(lambda v, _pos: formats.number(v, lang, 0))
        return _svg(fig, chart_id, text("dev.chart", lang, days=days, min=minimum))
