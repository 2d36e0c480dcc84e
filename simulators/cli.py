"""`plantproof sim` commands."""

import typer

app = typer.Typer(
    help="Simulated plant: ground truth, OPC UA and Modbus servers, backfill.", no_args_is_help=True
)


@app.callback()
def _root() -> None:
    """Simulated plant: ground truth, OPC UA and Modbus servers, backfill."""
