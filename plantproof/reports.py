"""Top-level commands for operators and auditors: figures, tiers, verify, models, evidence, capacity."""

import typer


def register(root: typer.Typer) -> None:
    """Mount the reporting commands on the root app."""
