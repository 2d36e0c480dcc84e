"""What the collector's commands share: their options, error handling and output formatting.

Heavy modules (psycopg, cryptography, matplotlib) are imported inside the commands so that
`plantproof --help` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

DsnOpt = typer.Option(
    ..., "--dsn", envvar="PLANTPROOF_COLLECTOR_DSN", help="PostgreSQL DSN (env PLANTPROOF_COLLECTOR_DSN)"
)
WindowOpt = typer.Option(
    None, "--window", help="YYYY-MM, or A..B (months or days, inclusive); default: the last complete month"
)
SimOpt = typer.Option(False, "--include-simulated", help="count simulated devices in headline figures")
RatioOpt = typer.Option(
    0.5, "--min-active-days-ratio", help="default rule: share of the window's days active"
)
JsonOpt = typer.Option(False, "--json", help="machine-readable output")
DeclaredOpt = typer.Option(None, "--declared", help="declared.yaml with figures plant data cannot measure")
KeyOpt = typer.Option(
    Path("~/.config/plantproof/evidence-ed25519.pem"),
    "--key",
    envvar="PLANTPROOF_COLLECTOR_EVIDENCE__KEY",
    help="signing key, created on first use (env PLANTPROOF_COLLECTOR_EVIDENCE__KEY)",
)


@contextmanager
def errors() -> Iterator[None]:
    """Our errors and database errors become one clear line and exit code 2."""
    import psycopg

    from collector.errors import CollectorError

    try:
        yield
    except (CollectorError, psycopg.Error, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def params_for(window: str | None, ratio: float, include_simulated: bool) -> Any:
    from datetime import UTC, datetime

    from collector.figures.compute import Parameters
    from collector.figures.window import parse_window

    now = datetime.now(UTC)
    return Parameters(parse_window(window, now), now, ratio, include_simulated)


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
