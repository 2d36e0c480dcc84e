"""`plantproof manage ping|read-config|write DEVICE …`: one management operation, sent by the platform.

The request goes through the broker to the device's gateway (collector.management), is entered in
`management_ops` before it is sent, and its answer is recorded with this command's receive time and
whether it proves the device was reached — the basis of the managed-equipment figure.

Exit status: 0 the device answered ok; 1 it answered with an error (ok=false, e.g. its link is
down); 3 no answer before the timeout; 2 bad arguments, unknown device, broker or database
unreachable.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

import typer

from collector.commands.common import DsnOpt, JsonOpt
from infra.cli import EXIT_NO, EXIT_NOT_PROVEN, fail

MqttOpt = typer.Option(
    "mqtt://127.0.0.1:1883",
    "--mqtt",
    envvar="PLANTPROOF_COLLECTOR_MQTT__URL",
    help="broker (env PLANTPROOF_COLLECTOR_MQTT__URL)",
)
TimeoutOpt = typer.Option(10.0, "--timeout", min=0.1, help="seconds to wait for the answer")
DeviceArg = typer.Argument(..., help="device id, or site/device when the id is not unique")
GatewayOpt = typer.Option(
    None, "--gateway", help="gateway to ask (default: the one that last announced the device live)"
)

app = typer.Typer(
    help="Management operations on a device through its gateway (recorded in management_ops).",
    no_args_is_help=True,
)


def parse_value(text: str) -> bool | int | float:
    """A setpoint value from the command line: integers stay exact, true/false are bools."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(low, 10)
    except ValueError:
        pass
    try:
        return float(low)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number, true or false") from None


def _target(dsn: str, device: str, gateway: str | None) -> Any:
    import psycopg

    from collector.errors import CollectorError
    from collector.management import LIVE_GATEWAY, Target

    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            rows = conn.execute(
                f"SELECT d.site, d.dev, ({LIVE_GATEWAY}) FROM devices d WHERE d.namespace = 'plant'"
                " AND (d.dev = %s OR d.site || '/' || d.dev = %s) ORDER BY d.site",
                (device, device),
            ).fetchall()
    except psycopg.Error as exc:
        raise CollectorError(f"database: {exc}") from None
    if not rows:
        raise CollectorError(f"unknown device {device!r}: no plant device of that id is registered")
    if len(rows) > 1:
        sites = ", ".join(f"{r[0]}/{r[1]}" for r in rows)
        raise CollectorError(f"device {device!r} is ambiguous ({sites}): give site/device")
    site, dev, gw = rows[0]
    return Target(site, gateway or gw, dev)


def _run(
    device: str, op: str, args: dict[str, Any], dsn: str, mqtt: str, timeout: float, as_json: bool,
    gateway: str | None,
) -> None:  # fmt: skip
    from collector.errors import CollectorError
    from collector.management import send

    try:
        target = _target(dsn, device, gateway)
        (outcome,) = send(
            mqtt, dsn, [target], op, args=args, timeout=timeout, requested_by=f"cli:{getpass.getuser()}"
        )
    except CollectorError as exc:
        raise fail(str(exc), as_json) from None
    if as_json:
        typer.echo(json.dumps(outcome.to_json(), indent=2, sort_keys=True, default=str))
    else:
        _print(outcome)
    if outcome.ok is None:
        raise typer.Exit(EXIT_NOT_PROVEN)
    if not outcome.ok:
        raise typer.Exit(EXIT_NO)


def _print(o: Any) -> None:
    t = o.target
    head = f"{o.op} {t.site}/{t.dev} via {t.gw} (request {o.request_id}):"
    if o.ok is None:
        typer.echo(f"{head} no answer before the timeout ({o.deadline:%H:%M:%S} UTC)")
        return
    if not o.ok:
        typer.echo(f"{head} FAILED in {o.latency_ms:.0f} ms: {o.error}")
        return
    reached = "device reached" if o.reached else "answered by the gateway, device not read"
    typer.echo(f"{head} ok in {o.latency_ms:.0f} ms ({reached})")
    for line in json.dumps(o.result, indent=2, sort_keys=True, default=str).splitlines():
        typer.echo(f"  {line}")


@app.command("ping")
def ping(
    device: str = DeviceArg, dsn: str = DsnOpt, mqtt: str = MqttOpt, timeout: float = TimeoutOpt,
    as_json: bool = JsonOpt, gateway: str | None = GatewayOpt,
) -> None:  # fmt: skip
    """Read the device once through its gateway (ok only if the device itself answered)."""
    _run(device, "ping", {}, dsn, mqtt, timeout, as_json, gateway)


@app.command("read-config")
def read_config(
    device: str = DeviceArg, dsn: str = DsnOpt, mqtt: str = MqttOpt, timeout: float = TimeoutOpt,
    as_json: bool = JsonOpt, gateway: str | None = GatewayOpt,
) -> None:  # fmt: skip
    """The device's type and points as its gateway has them configured."""
    _run(device, "read_config", {}, dsn, mqtt, timeout, as_json, gateway)


@app.command("write")
def write(
    device: str = DeviceArg,
    point: str = typer.Argument(..., help="a writable point of the device"),
    value: str = typer.Argument(..., help="engineering value: an integer (exact), a number, true or false"),
    dsn: str = DsnOpt, mqtt: str = MqttOpt, timeout: float = TimeoutOpt, as_json: bool = JsonOpt,
    gateway: str | None = GatewayOpt,
) -> None:  # fmt: skip
    """Write a setpoint; the answer reports the value read back from the device."""
    args = {"point": point, "value": parse_value(value)}
    _run(device, "write_setpoint", args, dsn, mqtt, timeout, as_json, gateway)
