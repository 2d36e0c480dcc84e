"""`plantproof collector` commands."""

import typer

app = typer.Typer(help="Collector: ingest MQTT telemetry into PostgreSQL/TimescaleDB.", no_args_is_help=True)


@app.callback()
def _root() -> None:
    """Collector: ingest MQTT telemetry into PostgreSQL/TimescaleDB."""
