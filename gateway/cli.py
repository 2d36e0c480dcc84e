"""`plantproof gateway` commands: `run` and `check`, and the tools `browse`, `read`, `probe`."""

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway import tools

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

app = typer.Typer(
    help="Edge gateway: read OPC UA and Modbus devices, publish over MQTT.", no_args_is_help=True
)


class LogFormatChoice(StrEnum):
    text = "text"
    json = "json"


ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="Gateway YAML config", exists=False, dir_okay=False)
]


tools.register(app)


@app.callback()
def _root() -> None:
    """Edge gateway: read OPC UA and Modbus devices, publish over MQTT."""


def _load(path: Path) -> "GatewayConfig":
    from gateway.config import load_config
    from gateway.errors import GatewayConfigError

    try:
        return load_config(path)
    except GatewayConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("run")
def run(
    config: ConfigOption,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING, ERROR")] = "INFO",
    log_format: Annotated[
        LogFormatChoice, typer.Option(help="text lines or JSON lines")
    ] = LogFormatChoice.text,
    protocol_log_level: Annotated[
        str, typer.Option(help="level of the protocol libraries (asyncua, pymodbus, paho)")
    ] = "WARNING",
) -> None:
    """Run the gateway until SIGINT/SIGTERM."""
    import asyncio
    import contextlib
    import logging
    import signal

    from gateway import logs
    from gateway.errors import GatewayError
    from gateway.runner import Gateway

    logs.configure(log_level, "json" if log_format is LogFormatChoice.json else "text", protocol_log_level)
    cfg = _load(config)

    async def main() -> None:
        gateway = Gateway(cfg)
        task = asyncio.create_task(gateway.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        started = asyncio.create_task(gateway.started.wait())
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if gateway.started.is_set() and gateway.metrics_port is not None:
            logging.getLogger("plantproof.gateway").info("metrics on port %d", gateway.metrics_port)
        with contextlib.suppress(asyncio.CancelledError):
            await task  # raises the gateway's fatal error, if any

    try:
        asyncio.run(main())
    except GatewayError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command("check")
def check(config: ConfigOption) -> None:
    """Validate the config and print each device's scan groups and planned requests."""
    from gateway.plan import conflicts, describe_plan

    cfg = _load(config)
    problems = conflicts(cfg)
    if problems:
        for problem in problems:
            typer.echo(f"error: {config}: {problem}", err=True)
        raise typer.Exit(2)
    typer.echo(
        f"config OK: site {cfg.site}, gateway {cfg.gateway_id}, broker {cfg.mqtt.url}, "
        f"spool {cfg.spool.path} (max {cfg.spool.max_bytes} bytes), {len(cfg.devices)} devices"
    )
    if cfg.sparkplug is not None and cfg.mqtt.format == "sparkplug":
        from gateway.errors import GatewayConfigError
        from gateway.sparkplug import SparkplugNode

        try:
            node = SparkplugNode(cfg)  # every DBIRTH within mqtt.max_message_bytes
        except GatewayConfigError as exc:
            typer.echo(f"error: {config}: {exc}", err=True)
            raise typer.Exit(2) from None
        host = f", waits for primary host {node.primary_host}" if node.primary_host else ""
        metrics = sum(len(d) for d in node.defs.values())
        typer.echo(
            f"Sparkplug B edge node spBv1.0/{node.group}/…/{node.edge_node}: {metrics} metrics "
            f"(aliases 1..{metrics}){host}"
        )
    for device in cfg.devices:
        for line in describe_plan(device):
            typer.echo(line)
