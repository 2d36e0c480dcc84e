"""`plantproof application-table`: the application's results table (工厂整体建设成效) from plant data."""

from __future__ import annotations

from pathlib import Path

import typer

from collector.commands.common import WINDOW_SYNTAX, DsnOpt, JsonOpt, echo_json, errors, period_for
from infra.cli import fail

LANGS = ("zh", "en")


def application_table_cmd(
    baseline: str = typer.Option(..., "--baseline", help=f"before (建设前): {WINDOW_SYNTAX}"),
    reporting: str = typer.Option(..., "--reporting", help=f"after (建成后): {WINDOW_SYNTAX}"),
    declared: Path | None = typer.Option(  # noqa: B008
        None,
        "--declared",
        help="declared.yaml: emission factor, labour hours and the rows plant data cannot measure",
    ),
    site: list[str] = typer.Option([], "--site", help="only devices of this site (repeatable)"),  # noqa: B008
    line: list[str] = typer.Option([], "--line", help="only devices of this line (repeatable)"),  # noqa: B008
    device_type: list[str] = typer.Option([], "--type", help="only devices of this type (repeatable)"),  # noqa: B008
    heartbeat: float = typer.Option(
        600.0, "--heartbeat-timeout", help="seconds one state sample holds (as a claim's heartbeat_timeout_s)"
    ),
    lang: str = typer.Option("zh", "--lang", help="zh or en: the language shown first"),
    dsn: str = DsnOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Before, after and change rate of every indicator of the application's results table.

    Measured rows (OEE, production efficiency, defect rate, energy and CO₂ per unit, labour
    productivity where labour hours are declared) carry the KPI engine's interval and verdict; the
    others show the declared value and its source. Exit status: 0 the table was computed; 2 the
    periods, the declared file or the database could not be used.
    """
    from collector.application.measure import application_table, load_application
    from collector.application.table import Periods
    from collector.application.text import lines
    from collector.kpi.claims import Scope

    if lang not in LANGS:
        raise fail(f"--lang {lang!r}: expected zh or en", as_json)
    with errors(as_json):
        periods = Periods(
            baseline=period_for(baseline),
            reporting=period_for(reporting),
            scope=Scope(site=site or None, line=line or None, type=device_type or None),
            heartbeat_timeout_s=heartbeat,
        )
        table = application_table(dsn, periods, load_application(declared))
    if as_json:
        echo_json(table)
        return
    for text_line in lines(table, lang):  # type: ignore[arg-type]
        typer.echo(text_line)
