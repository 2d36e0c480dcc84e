"""`plantproof application-table` (the application's results table, 工厂整体建设成效),
`plantproof scenarios-evidence` (measured facts for the typical scenarios), from plant data, and
`plantproof collector import-orders` (the orders its on-time delivery row is measured from)."""

from __future__ import annotations

from pathlib import Path

import typer

from collector.commands.common import WINDOW_SYNTAX, DsnOpt, JsonOpt, WindowOpt, echo_json, errors, period_for
from infra.cli import fail

LANGS = ("zh", "en")
OrdersArg = typer.Argument(..., help="CSV: order_id,due,delivered (dates YYYY-MM-DD; delivered empty if not)")
HeartbeatOpt = typer.Option(
    600.0, "--heartbeat-timeout", help="seconds one state sample holds (as a claim's heartbeat_timeout_s)"
)


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
    heartbeat: float = HeartbeatOpt,
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


def scenarios_evidence_cmd(
    window: str | None = WindowOpt,
    declared: Path | None = typer.Option(  # noqa: B008
        None, "--declared", help="declared.yaml: the emission factor for carbon accounting"
    ),
    heartbeat: float = HeartbeatOpt,
    lang: str = typer.Option("zh", "--lang", help="zh or en: the language shown first"),
    dsn: str = DsnOpt,
    as_json: bool = JsonOpt,
) -> None:
    """What the platform measured for the typical scenarios telemetry evidences directly.

    Devices monitored, points collected, unplanned stops, management operations, alarms raised and
    cleared, models invoked, energy metered per product: facts from the database for the window.
    Exit status: 0 the facts were computed; 2 the window, the declared file or the database could
    not be used.
    """
    from collector.application.measure import load_application
    from collector.application.scenario_queries import scenario_evidence
    from collector.application.text import scenario_lines

    if lang not in LANGS:
        raise fail(f"--lang {lang!r}: expected zh or en", as_json)
    with errors(as_json):
        period = period_for(window or "")
        out = scenario_evidence(dsn, period, load_application(declared).emission_factor, heartbeat)
    if as_json:
        echo_json(out)
        return
    for text_line in scenario_lines(out, lang):  # type: ignore[arg-type]
        typer.echo(text_line)


def import_orders_cmd(
    orders: Path = OrdersArg,
    site: str = typer.Option(..., "--site", help="site the orders belong to"),
    dsn: str = DsnOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Import customer orders, so the application table measures order on-time delivery.

    A known order (same site and id) takes the file's dates. Exit status: 0 imported; 2 nothing
    stored (a bad row names its line and field) or the database could not be used.
    """
    from dataclasses import asdict

    from collector.application.orders_db import import_orders

    with errors(as_json):
        done = import_orders(dsn, orders, site)
    if as_json:
        echo_json(asdict(done))
        return
    typer.echo(
        f"{done.file}: {done.inserted:,} orders new, {done.updated:,} updated, {done.unchanged:,} unchanged"
        f" (sha256 {done.sha256[:16]}…)"
    )
