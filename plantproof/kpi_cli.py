"""Top-level commands for KPI claims and the model catalog: verify, models."""

import typer


def register(root: typer.Typer) -> None:
    """Mount the KPI and model commands on the root app."""
