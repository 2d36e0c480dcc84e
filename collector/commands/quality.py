"""`plantproof quality`: the data-quality assessment of a window per site, device and point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from collector.commands.common import DsnOpt, JsonOpt, WindowOpt, echo_json, errors

SiteOpt = typer.Option(None, "--site", help="assess this site only (default: every plant site)")
HeartbeatOpt = typer.Option(
    600.0, "--heartbeat-timeout", help="s a point may be silent before the silence counts as missing data"
)
LatencyOpt = typer.Option(
    None,
    "--max-latency",
    help="s from source time to storage beyond which a reading is late (default: order only)",
)
LateOpt = typer.Option(
    5.0, "--late-after", help="s after a newer reading of its point beyond which a reading arrived late"
)
TypesOpt = typer.Option(
    None, "--device-types", help="directory of device-type YAML (default: the shipped configs/devices)"
)


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f} %"


def print_assessment(result: dict[str, Any]) -> None:
    from collector.quality.score import DIMENSIONS, FORMULA

    s = result["settings"]
    limit = "none (arrival order only)" if s["max_latency_s"] is None else f"{s['max_latency_s']:g} s"
    typer.echo(
        f"data quality, window {result['window']} (UTC, as of {result['as_of'][:19]}Z);"
        f" heartbeat timeout {s['heartbeat_timeout_s']:g} s; late after {s['late_after_s']:g} s;"
        f" latency limit {limit}"
    )
    typer.echo(FORMULA)
    for site in result["sites"]:
        score = "—" if site["score"] is None else f"{site['score']:.2f}"
        typer.echo(f"\nsite {site['site']}: score {score}")
        typer.echo("  " + "   ".join(f"{d} {_share(site['dimensions'][d])}" for d in DIMENSIONS))
        c, dup, lat = site["counts"], site["duplicates"], site["latency_s"]
        typer.echo(
            f"  readings {c['received']:,} of {c['expected']:,} expected; quality good {c['good']:,},"
            f" uncertain {c['uncertain']:,}, bad {c['bad']:,}; latency p50/p95/p99 ≤"
            f" {'/'.join('—' if lat[k] is None else f'{lat[k]:,.3g}' for k in ('p50', 'p95', 'p99'))} s"
        )
        typer.echo(
            f"  duplicates: {dup['repeats_dropped']:,} repeats dropped, {dup['conflicts_refused']:,}"
            f" conflicts refused, {dup['conflicts_replaced']:,} replaced"
            f" (of {dup['samples_offered']:,} samples offered)"
        )
        typer.echo(
            f"  {'device':24} {'type':18} {'score':>7} " + " ".join(f"{d[:12]:>12}" for d in DIMENSIONS)
        )
        for dev in site["devices"]:
            dims = " ".join(f"{_share(dev['dimensions'][d]):>12}" for d in DIMENSIONS)
            dscore = "—" if dev["score"] is None else f"{dev['score']:.2f}"
            typer.echo(f"  {dev['device']:24} {dev['type'] or '?':18} {dscore:>7} {dims}")
        for dim, names in site["affected_points"].items():
            if names:
                typer.echo(f"  below full {dim}: {', '.join(names)}")
        _findings(site)


def _findings(site: dict[str, Any]) -> None:
    for dev in site["devices"]:
        for p in dev["points"]:
            for kind, items in p["findings"].items():
                shown = [" .. ".join(i) if isinstance(i, list) else i for i in items[:3]]
                more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
                typer.echo(
                    f"    {dev['device']}/{p['point']} {kind.replace('_', ' ')}: {'; '.join(shown)}{more}"
                )


def quality_cmd(
    window: str | None = WindowOpt,
    site: str | None = SiteOpt,
    dsn: str = DsnOpt,
    as_json: bool = JsonOpt,
    heartbeat_timeout: float = HeartbeatOpt,
    max_latency: float | None = LatencyOpt,
    late_after: float = LateOpt,
    device_types: Path | None = TypesOpt,
) -> None:
    """Data quality per site, device and point (completeness, validity, timeliness, uniqueness), scored."""
    from datetime import UTC, datetime

    from collector.figures.window import parse_window
    from collector.quality.queries import assess_window
    from collector.quality.rules import Settings
    from collector.quality.score import DEFINITIONS, FORMULA
    from devicemodel.configroot import config_root
    from infra.cli import fail

    try:
        settings = Settings(heartbeat_timeout, max_latency, late_after)
    except ValueError as exc:
        raise fail(str(exc), as_json) from None
    with errors(as_json):
        now = datetime.now(UTC)
        result = assess_window(
            dsn,
            parse_window(window, now),
            settings,
            device_types or config_root() / "devices",
            site=site,
            now=now,
        )
    result["formula"], result["definitions"] = FORMULA, DEFINITIONS
    if as_json:
        echo_json(result)
    else:
        print_assessment(result)
