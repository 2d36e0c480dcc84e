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

from infra.cli import fail

_DSN_HELP = "PostgreSQL DSN (env PLANTPROOF_COLLECTOR_DSN)"
DsnOpt = typer.Option(..., "--dsn", envvar="PLANTPROOF_COLLECTOR_DSN", help=_DSN_HELP)
OptionalDsnOpt = typer.Option(None, "--dsn", envvar="PLANTPROOF_COLLECTOR_DSN", help=_DSN_HELP)
WINDOW_SYNTAX = "YYYY-MM, YYYY-MM-DD, or A..B of either (both ends included)"
WindowOpt = typer.Option(None, "--window", "-w", help=f"{WINDOW_SYNTAX}; default: the last complete month")
SimOpt = typer.Option(False, "--include-simulated", help="count simulated devices in headline figures")
RatioOpt = typer.Option(
    0.5, "--min-active-days-ratio", help="default rule: share of the window's days active"
)
JsonOpt = typer.Option(False, "--json", "-j", help="machine-readable output (errors too)")
DeclaredOpt = typer.Option(None, "--declared", help="declared.yaml with figures plant data cannot measure")
KeyOpt = typer.Option(
    Path("~/.config/plantproof/evidence-ed25519.pem"),
    "--key",
    "-k",
    envvar="PLANTPROOF_COLLECTOR_EVIDENCE__KEY",
    help="signing key, created on first use (env PLANTPROOF_COLLECTOR_EVIDENCE__KEY)",
)


@contextmanager
def errors(as_json: bool = False) -> Iterator[None]:
    """Our errors and database errors become one clear line (or JSON object) and exit code 2."""
    import psycopg

    from collector.errors import CollectorError

    try:
        yield
    except (CollectorError, psycopg.Error, OSError) as exc:
        raise fail(str(exc), as_json) from None


def params_for(window: str | None, ratio: float, include_simulated: bool) -> Any:
    from datetime import UTC, datetime

    from collector.figures.compute import Parameters
    from collector.figures.window import parse_window

    now = datetime.now(UTC)
    return Parameters(parse_window(window, now), now, ratio, include_simulated)


def period_for(text: str) -> Any:
    """A `--window` as the inclusive day period claims and models use."""
    from datetime import UTC, datetime, timedelta

    from collector.figures.window import parse_window
    from collector.kpi.claims import Period

    window = parse_window(text, datetime.now(UTC))
    return Period(start=window.start, end=window.end - timedelta(days=1))


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
