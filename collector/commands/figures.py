"""`plantproof figures` and `plantproof tiers`: the platform figures of a window and the tiers they meet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from collector.commands.common import (
    DeclaredOpt,
    DsnOpt,
    JsonOpt,
    RatioOpt,
    SimOpt,
    WindowOpt,
    echo_json,
    errors,
    fmt,
    params_for,
)

if TYPE_CHECKING:
    from collector.figures.compute import Parameters
    from collector.figures.model import Figures


def print_figures(figures: Figures, params: Parameters) -> None:
    from collector.figures.rows import FIGURE_ROWS

    typer.echo(f"window {params.window.label} ({params.window.days} days, UTC); {figures.counting}")
    typer.echo(f"{'figure':58} {'value':>12} {'simulated':>10}")
    for row in FIGURE_ROWS:
        line = f"{row.label(figures):58} {fmt(row.value(figures)):>12}"
        typer.echo(line if row.simulated is None else f"{line} {fmt(row.simulated(figures)):>10}")
    inv = figures.monthly_model_invocations
    typer.echo("  per month: " + ", ".join(f"{m} {n}" for m, n in inv.per_month.items()))
    cap = figures.demonstrated_management_capacity
    if cap:
        typer.echo(
            f"demonstrated management capacity (synthetic): {fmt(cap.value)} devices answered of"
            f" {fmt(cap.devices_sampled)} sampled, {fmt(cap.devices_registered)} registered;"
            f" success rate {fmt(cap.success_rate)}; run {cap.run_id} on {cap.date}"
            " — not managed equipment"
        )
    else:
        typer.echo("demonstrated management capacity (synthetic): no capacity run recorded")
    typer.echo("by industry: " + ", ".join(
        f"{k} {v.connected_equipment} devices/{v.data_collection_points} points"
        for k, v in figures.breakdown_by_industry.items()
    ) or "—")  # fmt: skip
    any_day, default = figures.connected_equipment.any_day, figures.connected_equipment.default
    default_ids = {m.device_id for m in (*default.members, *default.simulated_members)}
    typer.echo("\nmembers (devices with any valid reading; * counted at the default rule):")
    typer.echo(f"  {'device':32} {'type':18} {'ind.':5} {'days':>4} {'messages':>9}  first seen / last seen")
    for m in (*any_day.members, *any_day.simulated_members):
        mark = "*" if m.device_id in default_ids else " "
        sim = " (simulated)" if m.simulated else ""
        typer.echo(
            f"{mark} {m.device + sim:32} {m.type:18} {m.industry:5} {m.active_days:>4}"
            f" {m.messages:>9}  {m.first_seen} / {m.last_seen}"
        )


def figures_cmd(
    window: str | None = WindowOpt,
    dsn: str = DsnOpt,
    as_json: bool = JsonOpt,
    include_simulated: bool = SimOpt,
    ratio: float = RatioOpt,
) -> None:
    """Platform figures for a window, each with its members (DESIGN §5)."""
    from collector.figures import queries
    from collector.figures.compute import DEFINITIONS

    with errors(as_json):
        params = params_for(window, ratio, include_simulated)
        figures, loaded = queries.figures(dsn, params)
    if as_json:
        echo_json({"parameters": params.to_json(), "storage": loaded.storage, "definitions": DEFINITIONS,
                    "figures": figures.to_json()})  # fmt: skip
    else:
        print_figures(figures, params)


def tiers_cmd(
    window: str | None = WindowOpt,
    declared: Path | None = DeclaredOpt,
    dsn: str = DsnOpt,
    as_json: bool = JsonOpt,
    include_simulated: bool = SimOpt,
    ratio: float = RatioOpt,
) -> None:
    """Every threshold of the platform tiers with measured value and pass / fail, or declared."""
    from collector.figures import queries
    from collector.figures.declared import load_declared
    from collector.figures.tiers import evaluate

    with errors(as_json):
        params = params_for(window, ratio, include_simulated)
        decl = load_declared(declared)
        figures, _ = queries.figures(dsn, params)
    result = evaluate(figures, decl)
    if as_json:
        echo_json({"parameters": params.to_json(), "declared": decl.to_json(), "tiers": result})
        return
    typer.echo(f"window {params.window.label}; {figures.counting}")
    for tier, t in result.items():
        typer.echo(f"\n{tier}: {t['verdict']}   [{t['source']}]")
        for r in t["thresholds"]:
            status = r["status"] + (
                "" if r["status"] != "declared" else " (meets)" if r["met"] else " (short)"
            )
            src = "" if r["source"] == "measured" else f"  source: {r['source'] or r['note']}"
            typer.echo(
                f"  {r['id']:4} {r['figure']:38} >= {fmt(r['minimum']):>10}  value {fmt(r['value']):>10}"
                f"  {status}{src}"
            )
