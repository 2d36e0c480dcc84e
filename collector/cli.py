"""`plantproof collector` commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

app = typer.Typer(help="Collector: ingest telemetry (MQTT or Kafka) into PostgreSQL/TimescaleDB.",
                  no_args_is_help=True)  # fmt: skip

ConfigOpt = typer.Option(None, "--config", "-c", help="collector YAML (env PLANTPROOF_COLLECTOR_* wins)")
DsnOpt = typer.Option(None, "--dsn", help="PostgreSQL DSN (overrides the config)")


@app.callback()
def _root() -> None:
    """Collector: ingest telemetry (MQTT or Kafka) into PostgreSQL/TimescaleDB."""


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


@app.command("move-device")
def move_device(
    site: str = typer.Option(..., "--site", help="site of the device"),
    device: str = typer.Option(..., "--device", help="device id"),
    to: str = typer.Option(..., "--to", help="gateway id that owns the device from now on"),
    reason: str = typer.Option("", "--reason", help="why (recorded in device_moves)"),
    config: Path | None = ConfigOpt,
    dsn: str | None = DsnOpt,
) -> None:
    """Give a device to another gateway: only that gateway's data and births for it are accepted."""
    from collector import db
    from collector.errors import CollectorError
    from collector.registry import move_device as move
    from collector.settings import CollectorSettings

    settings = _settings(config, dsn)
    assert isinstance(settings, CollectorSettings)
    try:
        with db.connection(settings.dsn, doing=f"moving device {device}") as conn:
            previous = move(conn, site, device, to, reason)
    except (CollectorError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"device {device} at site {site}: owner {previous} -> {to}")


@app.command()
def run(config: Path | None = ConfigOpt, dsn: str | None = DsnOpt) -> None:
    """Ingest telemetry (MQTT or Kafka) until SIGINT/SIGTERM (finishes and acknowledges the current batch)."""
    import asyncio
    import logging
    import signal

    from collector.ingest import run as run_pipeline
    from collector.migrate import migrate as apply
    from collector.policies import apply_policies
    from collector.settings import CollectorSettings

    settings = _settings(config, dsn)
    assert isinstance(settings, CollectorSettings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("paho", "psycopg", "aiokafka"):
        logging.getLogger(name).setLevel(logging.WARNING)

    def prepare() -> None:
        apply(settings.dsn)
        apply_policies(settings.dsn, settings.storage.compress_after_days, settings.storage.retention_days)

    try:
        _when_reachable(settings.dsn, prepare)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_pipeline(settings, stop)

    asyncio.run(main())


def _when_reachable(dsn: str, step: Callable[[], None], max_delay_s: float = 30.0) -> None:
    """Run `step` once the database answers: retry with backoff, one log line per attempt."""
    import logging
    import time

    import psycopg

    from collector.db import DatabaseError, DatabaseUnavailableError

    log = logging.getLogger("collector")
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    where = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"
    delay, attempt = 1.0, 0
    while True:
        attempt += 1
        try:
            step()
            if attempt > 1:
                log.info("database at %s reachable after %d attempts", where, attempt)
            return
        except (psycopg.OperationalError, DatabaseUnavailableError) as exc:
            reason = " ".join(str(exc).split())
            log.warning("database at %s not reachable (attempt %d): %s; retrying in %.0f s",
                        where, attempt, reason, delay)  # fmt: skip
        except (psycopg.Error, DatabaseError) as exc:
            typer.echo(f"error: database at {where}: {' '.join(str(exc).split())}", err=True)
            raise typer.Exit(1) from None
        time.sleep(delay)
        delay = min(delay * 2, max_delay_s)


if __name__ == "__main__":
    app()
