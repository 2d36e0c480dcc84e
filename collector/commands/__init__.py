"""The collector's commands for operators and auditors; the root `plantproof` command mounts them.

`figures`, `tiers`, `quality`, `verify`, `application-table`, `scenarios-evidence`, `evidence` and
`models` read the collector's database; `collector import` stores historian CSV through the
collector's validation, `collector import-orders` customer orders.
"""

from __future__ import annotations

import typer


def mount(root: typer.Typer, collector_app: typer.Typer) -> None:
    """Mount the reporting commands on the root app and `import` on the collector's."""
    from collector.commands import application, claims, evidence, figures, importcmd, quality

    root.command("figures")(figures.figures_cmd)
    root.command("tiers")(figures.tiers_cmd)
    root.command("quality")(quality.quality_cmd)
    root.add_typer(evidence.app, name="evidence")
    root.command("verify")(claims.verify)
    root.add_typer(claims.models_app, name="models")
    root.command("application-table")(application.application_table_cmd)
    root.command("scenarios-evidence")(application.scenarios_evidence_cmd)
    collector_app.command("import")(importcmd.import_cmd)
    collector_app.command("import-orders")(application.import_orders_cmd)
