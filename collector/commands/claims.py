"""`plantproof verify` (KPI claims against plant data) and `plantproof models` (catalog and ledger)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from collector.commands.common import DsnOpt

ClaimsArg = typer.Argument(..., help="claims YAML (configs/claims/*.yaml)")
models_app = typer.Typer(help="The industrial-model catalog and its invocation ledger.", no_args_is_help=True)


def verify(
    claims_file: Path = ClaimsArg,
    dsn: str = DsnOpt,
    as_json: bool = typer.Option(False, "--json", help="print the results as JSON"),
    baseline: str | None = typer.Option(None, help="override every baseline: YYYY-MM-DD:YYYY-MM-DD"),
    reporting: str | None = typer.Option(None, help="override every reporting period: YYYY-MM-DD:YYYY-MM-DD"),
) -> None:
    """Verify KPI claims against plant data; exit 0 only when every claim is verified."""
    from collector.errors import CollectorError
    from collector.kpi.claimfile import load_claims
    from collector.kpi.claims import Period
    from collector.kpi.verify import share_text, verify_claims

    try:
        claims = load_claims(
            claims_file,
            baseline=Period.parse(baseline) if baseline else None,
            reporting=Period.parse(reporting) if reporting else None,
        )
        results = verify_claims(dsn, claims)
    except CollectorError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
    else:
        for r in results:
            est = "n/a" if r.point_estimate != r.point_estimate else f"{r.point_estimate:+.2f} {r.unit}"
            ci = (
                "n/a"
                if r.ci_low != r.ci_low or r.ci_high != r.ci_high
                else f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]"
            )
            periods = (r.baseline, r.reporting)
            cov = " / ".join(share_text(p.coverage, 0) if p is not None else "n/a" for p in periods)
            timed = " / ".join(share_text(p.time_coverage, 0) if p is not None else "n/a" for p in periods)
            typer.echo(
                f"{r.verdict.upper():<12} {r.id}: {r.kpi} claimed {r.claimed_change:+.2f} {r.unit}, "
                f"estimate {est}, {r.confidence:.0%} CI {ci}, valid device-days {cov}, "
                f"planned time with state data {timed}"
            )
            for reason in r.reasons:
                typer.echo(f"             - {reason}")
            for note in r.notes:
                typer.echo(f"             note: {note}")
    raise typer.Exit(0 if results and all(r.verdict == "verified" for r in results) else 1)


@models_app.command("list")
def models_list(as_json: bool = typer.Option(False, "--json", help="print the catalog as JSON")) -> None:
    """List the catalogued models with category, version and inputs."""
    from collector.models.catalog import CATALOG

    rows = [m.describe() for m in CATALOG.values()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for m in rows:
        typer.echo(f"{m['name']:<24} {m['category']:<22} {m['version']:<7} {m['description']}")
        typer.echo(f"{'':<24} inputs: {m['inputs']}")
    cats = {m["category"] for m in rows}
    typer.echo(f"{len(rows)} models in {len(cats)} categories")


@models_app.command("invoke")
def models_invoke(
    name: str = typer.Argument(..., help="model name (see `plantproof models list`)"),
    device: str = typer.Option(..., "--device", help="device id, or site/dev"),
    window: str = typer.Option(..., "--window", help="days YYYY-MM-DD:YYYY-MM-DD (both included)"),
    caller: str = typer.Option(
        "cli", "--caller", help="who invokes; self-test, demo, internal:* are internal"
    ),
    point: str | None = typer.Option(None, "--point", help="analog point for SPC and anomaly models"),
    param: list[str] = typer.Option([], "--param", help="model parameter KEY=NUMBER (repeatable)"),  # noqa: B008
    dsn: str = DsnOpt,
) -> None:
    """Run one model on one device's telemetry and record the invocation in the ledger."""
    from collector.errors import CollectorError
    from collector.kpi.claims import Period
    from collector.models.ledger import invoke

    params: dict[str, float] = {}
    for item in param:
        key, sep, value = item.partition("=")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            typer.echo(f"error: --param {item!r}: expected KEY=NUMBER", err=True)
            raise typer.Exit(2)
    try:
        inv = invoke(
            dsn, name, device=device, window=Period.parse(window), caller=caller, point=point, params=params
        )
    except CollectorError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(inv.to_json(), indent=2, ensure_ascii=False))
    raise typer.Exit(0 if inv.ok else 1)
