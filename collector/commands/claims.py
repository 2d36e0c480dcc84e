"""`plantproof verify` (KPI claims against plant data) and `plantproof models` (catalog and ledger)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from collector.commands.common import WINDOW_SYNTAX, DsnOpt, JsonOpt, errors, period_for
from infra.cli import EXIT_NO, EXIT_NOT_PROVEN, EXIT_OK, fail

ClaimsArg = typer.Argument(..., help="claims YAML (configs/claims/*.yaml)")
models_app = typer.Typer(help="The industrial-model catalog and its invocation ledger.", no_args_is_help=True)


def verify(
    claims_file: Path = ClaimsArg,
    dsn: str = DsnOpt,
    as_json: bool = JsonOpt,
    baseline: str | None = typer.Option(None, "--baseline", help=f"override every baseline: {WINDOW_SYNTAX}"),
    reporting: str | None = typer.Option(
        None, "--reporting", help=f"override every reporting period: {WINDOW_SYNTAX}"
    ),
) -> None:
    """Verify KPI claims against plant data.

    Exit status: 0 every claim verified; 1 at least one refuted; 3 none refuted but at least one
    inconclusive (or the file holds no claims); 2 the claims file or the database could not be used.
    """
    from collector.kpi.claimfile import load_claims
    from collector.kpi.verify import share_text, verify_claims

    with errors(as_json):
        claims = load_claims(
            claims_file,
            baseline=period_for(baseline) if baseline else None,
            reporting=period_for(reporting) if reporting else None,
        )
        results = verify_claims(dsn, claims)
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
    verdicts = {r.verdict for r in results}
    raise typer.Exit(
        EXIT_NO if "refuted" in verdicts else EXIT_OK if verdicts == {"verified"} else EXIT_NOT_PROVEN
    )


@models_app.command("list")
def models_list(as_json: bool = JsonOpt) -> None:
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
    window: str = typer.Option(..., "--window", "-w", help=WINDOW_SYNTAX),
    caller: str = typer.Option(
        "cli", "--caller", help="who invokes; self-test, demo, internal:* are internal"
    ),
    point: str | None = typer.Option(None, "--point", help="analog point for SPC and anomaly models"),
    param: list[str] = typer.Option([], "--param", help="model parameter KEY=NUMBER (repeatable)"),  # noqa: B008
    dsn: str = DsnOpt,
) -> None:
    """Run one model on one device's telemetry and record the invocation in the ledger.

    Prints the invocation as JSON. Exit status: 0 the model ran; 1 it ran and failed (recorded in
    the ledger); 2 the arguments or the database could not be used.
    """
    from collector.models.ledger import invoke

    params: dict[str, float] = {}
    for item in param:
        key, sep, value = item.partition("=")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise fail(f"--param {item!r}: expected KEY=NUMBER", as_json=True)
    with errors(as_json=True):
        inv = invoke(
            dsn, name, device=device, window=period_for(window), caller=caller, point=point, params=params
        )
    typer.echo(json.dumps(inv.to_json(), indent=2, ensure_ascii=False))
    raise typer.Exit(EXIT_OK if inv.ok else EXIT_NO)
