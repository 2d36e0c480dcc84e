"""`plantproof gateway` commands."""

import typer

app = typer.Typer(
    help="Edge gateway: read OPC UA and Modbus devices, publish over MQTT.", no_args_is_help=True
)


@app.callback()
def _root() -> None:
    """Edge gateway: read OPC UA and Modbus devices, publish over MQTT."""
