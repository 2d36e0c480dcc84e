"""`plantproof collector` commands."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Collector: ingest MQTT telemetry into PostgreSQL/TimescaleDB.", no_args_is_help=True)

ConfigOpt = typer.Option(None, "--config", "-c", help="collector YAML (env PLANTPROOF_COLLECTOR_* wins)")
DsnOpt = typer.Option(None, "--dsn", help="PostgreSQL DSN (overrides the config)")


@app.callback()
def _root() -> None:
    """Collector: ingest MQTT telemetry into PostgreSQL/TimescaleDB."""


def _settings(config: Path | None, dsn: str | None) -> object:
    from collector.errors import CollectorError
    from collector.settings import load_settings

    try:
        return load_settings(config, **({"dsn": dsn} if dsn else {}))
    except (CollectorError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def migrate(config: Path | None = ConfigOpt, dsn: str | None = DsnOpt) -> None:
    """Apply pending schema migrations."""
    from collector.migrate import migrate as apply
    from collector.settings import CollectorSettings

    settings = _settings(config, dsn)
    assert isinstance(settings, CollectorSettings)
    storage, applied = apply(settings.dsn)
    typer.echo(f"storage: {storage}; applied: {applied or 'nothing (up to date)'}")


@app.command()
def run(config: Path | None = ConfigOpt, dsn: str | None = DsnOpt) -> None:
    """Ingest MQTT telemetry until SIGINT/SIGTERM (finishes and acknowledges the current batch)."""
    import asyncio
    import logging
    import signal

    from collector.ingest import run as run_pipeline
    from collector.migrate import migrate as apply
    from collector.rollup import apply_policies
    from collector.settings import CollectorSettings

    settings = _settings(config, dsn)
    assert isinstance(settings, CollectorSettings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    apply(settings.dsn)
    apply_policies(settings.dsn, settings.storage.compress_after_days, settings.storage.retention_days)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_pipeline(settings, stop)

    asyncio.run(main())


if __name__ == "__main__":
    app()
