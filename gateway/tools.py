"""The plant engineer's tools: `gateway browse`, `gateway read`, `gateway probe`.

Each does one thing against a live device and exits, without starting the gateway: browse an OPC UA
address space (and write a device-type skeleton), read a configured device's points once, decode a
Modbus register range in every dtype and order.
"""

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

import typer

from gateway import logs


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _short(value: Any, width: int = 40) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


def browse(
    url: Annotated[str, typer.Argument(help="opc.tcp://host:port[/path]")],
    depth: Annotated[int, typer.Option(min=1, max=32, help="levels below the Objects folder")] = 4,
    security: Annotated[str, typer.Option(help="none, sign or sign_encrypt (Basic256Sha256)")] = "none",
    cert_dir: Annotated[Path, typer.Option(help="the gateway's certificate folder")] = Path("pki"),
    username: Annotated[str | None, typer.Option(help="login")] = None,
    password: Annotated[
        str,
        typer.Option(
            envvar="PLANTPROOF_BROWSE_PASSWORD",
            help="password of --username (better from env PLANTPROOF_BROWSE_PASSWORD)",
            show_default=False,
        ),
    ] = "",
    emit_device_type: Annotated[
        Path | None,
        typer.Option("--emit-device-type", help="write a device-type YAML of the matched variables"),
    ] = None,
    match: Annotated[
        str | None, typer.Option(help="shell-style pattern on the browse path, e.g. 'Machine1.*'")
    ] = None,
    device_kind: Annotated[str, typer.Option("--type", help="device type of the skeleton")] = "generic",
    industry: Annotated[str, typer.Option(help="GB/T 4754 industry code of the skeleton")] = "C34",
    sector: Annotated[str, typer.Option(help="discrete or process")] = "discrete",
) -> None:
    """Walk an OPC UA server's address space: variables with data type, access and current value."""
    from adapters.errors import AdapterError
    from adapters.opcua.browse import browse as walk
    from adapters.opcua.browse import device_type_yaml, select
    from adapters.opcua.endpoint import OpcUaEndpoint

    logs.configure("WARNING", protocol_level="ERROR")
    settings: dict[str, Any] = {"url": url, "security": security, "cert_dir": cert_dir}
    if username:
        settings.update(auth="username", username=username, password=password)
    try:
        endpoint = OpcUaEndpoint.model_validate(settings)
        variables = asyncio.run(walk(endpoint, depth))
    except (AdapterError, ValueError) as exc:
        raise _fail(str(exc)) from None
    chosen = select(variables, match)
    for var in chosen:
        access = "rw" if var.writable else "r"
        status = "" if var.status == "Good" else f"  [{var.status}]"
        typer.echo(
            f"{var.path}  {var.node or '(opaque id)'}  {var.data_type}  {access}  {_short(var.value)}{status}"
        )
    typer.echo(f"{len(chosen)} of {len(variables)} variables", err=True)
    if emit_device_type is not None:
        text, skipped = device_type_yaml(chosen, url, type_=device_kind, industry=industry, sector=sector)
        emit_device_type.write_text(text, encoding="utf-8")
        for line in skipped:
            typer.echo(f"left out {line}", err=True)
        typer.echo(f"wrote {emit_device_type}: {len(chosen) - len(skipped)} points", err=True)


def read(
    config: Annotated[Path, typer.Option("--config", "-c", help="Gateway YAML config", dir_okay=False)],
    device: Annotated[str, typer.Argument(help="device id in the config")],
    points: Annotated[list[str] | None, typer.Argument(help="points to read (default: all)")] = None,
) -> None:
    """Read a configured device's points once, decoded, with quality and status."""
    from adapters import registry
    from adapters.errors import AdapterError
    from adapters.opcua.nodes import status_name
    from gateway.config import load_config
    from gateway.edge import to_engineering
    from gateway.errors import GatewayConfigError

    logs.configure("WARNING", protocol_level="ERROR")
    try:
        cfg = load_config(config)
    except GatewayConfigError as exc:
        raise _fail(str(exc), 2) from None
    dev = cfg.device(device)
    if dev is None:
        raise _fail(f"{config}: no device {device!r} (devices: {', '.join(d.id for d in cfg.devices)})", 2)
    names = points or [p.name for p in dev.device_type.points if getattr(p, dev.protocol, None) is not None]
    unknown = [n for n in names if n not in dev.device_type.by_name]
    if unknown:
        raise _fail(f"device {device!r} has no points {unknown}", 2)

    async def once() -> list[Any]:
        connection = registry.get(dev.protocol).factory(dev.instance())
        try:
            return await connection.read_once(names)
        finally:
            with contextlib.suppress(Exception):
                await connection.close()

    try:
        readings = asyncio.run(once())
    except AdapterError as exc:
        raise _fail(str(exc)) from None
    quality_names = {0: "good", 1: "uncertain", 2: "bad"}
    for reading in readings:
        spec = dev.device_type.by_name[reading.point]
        value, quality = to_engineering(spec, reading.value, reading.quality)
        status = f"  {status_name(reading.status)}" if reading.status is not None else ""
        unit = f" {spec.unit}" if spec.unit and value is not None else ""
        raw = f"  (raw {reading.value!r})" if reading.value != value and reading.value is not None else ""
        typer.echo(f"{reading.point}  {value!r}{unit}  {quality_names.get(quality, quality)}{status}{raw}")


def probe(
    url: Annotated[str, typer.Argument(help="modbus://host:port")],
    address: Annotated[int, typer.Option(min=0, max=65535, help="first register")],
    count: Annotated[int, typer.Option(min=1, max=125, help="registers to read")] = 2,
    unit: Annotated[int, typer.Option(min=0, max=255, help="unit id")] = 1,
    table: Annotated[str, typer.Option(help="holding or input")] = "holding",
    timeout: Annotated[float, typer.Option(help="seconds")] = 2.0,
) -> None:
    """Read a register range once and decode it as every dtype in all four byte/word orders."""
    from adapters.errors import AdapterError
    from adapters.modbus.probe import decodings, read_registers

    logs.configure("WARNING", protocol_level="ERROR")
    parsed = urlparse(url)
    if parsed.scheme not in ("modbus", "modbus+tcp", "tcp") or not parsed.hostname:
        raise _fail(f"expected modbus://host:port, got {url!r}", 2)
    if table not in ("holding", "input"):
        raise _fail(f"table must be holding or input, got {table!r}", 2)
    port = parsed.port or 502
    try:
        registers = asyncio.run(read_registers(parsed.hostname, port, unit, table, address, count, timeout))
    except AdapterError as exc:
        raise _fail(str(exc)) from None
    words = " ".join(f"{r:04X}" for r in registers)
    typer.echo(f"unit {unit} {table} {address}..{address + count - 1}: {words}")
    for d in decodings(registers):
        value = f"{d.value:.9g}" if isinstance(d.value, float) else str(d.value)
        order = d.order if d.dtype not in ("int16", "uint16") else d.order[:2]
        typer.echo(
            f"  {d.dtype:<8} {order:<5} byte_order: {d.byte_order:<6} word_order: {d.word_order:<6} {value}"
        )


def register(app: typer.Typer) -> None:
    app.command("browse")(browse)
    app.command("read")(read)
    app.command("probe")(probe)
