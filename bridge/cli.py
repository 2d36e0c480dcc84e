"""`plantproof bridge` commands."""

from __future__ import annotations

from pathlib import Path

import typer

from infra.cli import fail

app = typer.Typer(help="MQTT → Kafka bridge: collectors in a consumer group read what it produces.",
                  no_args_is_help=True)  # fmt: skip
ConfigOpt = typer.Option(None, "--config", "-c", help="bridge YAML (env PLANTPROOF_BRIDGE_* wins)")


@app.callback()
def _root() -> None:
    """MQTT → Kafka bridge."""


@app.command()
def run(config: Path | None = ConfigOpt) -> None:
    """Forward MQTT telemetry to Kafka until SIGINT/SIGTERM (acknowledges what Kafka acknowledged)."""
    import asyncio
    import logging
    import signal

    from bridge.forward import run as run_bridge
    from bridge.settings import BridgeConfigError, load_settings

    try:
        settings = load_settings(config)
    except (BridgeConfigError, ValueError) as exc:
        raise fail(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("paho", "aiokafka"):
        logging.getLogger(name).setLevel(logging.WARNING)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_bridge(settings, stop)

    asyncio.run(main())


if __name__ == "__main__":
    app()
