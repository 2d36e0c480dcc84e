"""`plantproof sim opcua` and `plantproof sim modbus`: serve a plant scenario live.

Model time starts at `--start` (default: now) and advances `--speed` times wall time; the model is
generated for `--hours` of model time from the start and holds its last values after that.
Protocol libraries are imported inside the commands so that `plantproof --help` stays fast.
"""

import asyncio
import datetime as dt
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from simulators.faults import DeviceFaults
    from simulators.plant import PlantModel
    from simulators.scenario import Plant, SimDevice

PlantOpt = Annotated[str, typer.Option("--plant", "-p", help="Scenario file or name under configs/plants/.")]
SeedOpt = Annotated[int | None, typer.Option(help="Override the scenario's seed.")]
HostOpt = Annotated[str, typer.Option(help="Address to listen on.")]
SpeedOpt = Annotated[float, typer.Option(help="Model seconds per wall second (0 freezes time).")]
StartOpt = Annotated[str | None, typer.Option(help="Model start, ISO 8601 (default: now, UTC).")]
HoursOpt = Annotated[float, typer.Option(help="Model hours generated from the start.")]
RefreshOpt = Annotated[float, typer.Option(help="Wall seconds between refreshes from the model.")]
DurationOpt = Annotated[float | None, typer.Option(help="Stop after this many wall seconds (default: run).")]
RestartOpt = Annotated[
    float | None, typer.Option(help="Fault: stop and restart the server every N wall seconds.")
]
DownOpt = Annotated[float, typer.Option(help="Seconds the server stays down on each restart.")]
FaultOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--fault",
        help="A plant fault (YAML mapping, times in model time), e.g. '{kind: unreadable, devices: "
        "[cnc-01], from: 2026-03-03T08:00, hours: 1}'; served: steady, register faults, clock_skew, "
        "unreadable.",
    ),
]


class PlantSource:
    """A plant model as the servers' value source; times past the generated range hold the end."""

    def __init__(self, plant: "Plant", model: "PlantModel") -> None:
        self.plant, self.model = plant, model

    @property
    def devices(self) -> Sequence["SimDevice"]:
        return self.plant.devices

    def values_at(self, device_id: str, t_ns: int) -> Mapping[str, bool | int | float | str]:
        t = min(max(t_ns, self.model.start_ns), self.model.end_ns - 1)
        return self.model.values_at(device_id, t)

    def faults_of(self, device_id: str) -> "DeviceFaults":
        return self.plant.device(device_id).faults


def build_source(
    plant: str, seed: int | None, start: str | None, hours: float, faults: Sequence[str] = ()
) -> tuple[PlantSource, int]:
    from simulators.plant import PlantModel
    from simulators.plantfile import load_plant, parse_fault

    if start is None:
        t0 = time.time_ns()
    else:
        try:
            moment = dt.datetime.fromisoformat(start)
        except ValueError as exc:
            raise typer.BadParameter(f"--start {start!r}: {exc}") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        t0 = int(moment.timestamp()) * 10**9 + moment.microsecond * 1000
    if hours <= 0:
        raise typer.BadParameter("--hours must be > 0")
    loaded = load_plant(plant, seed, [parse_fault(f) for f in faults])
    return PlantSource(loaded, PlantModel(loaded, t0, t0 + int(hours * 3600 * 10**9))), t0


async def _serve(
    starts: Sequence[Callable[[], Awaitable[None]]],
    stops: Sequence[Callable[[], Awaitable[None]]],
    duration: float | None,
    restart_every: float | None,
    down: float,
) -> None:
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    if duration is not None:
        loop.call_later(duration, done.set)
    for start in starts:
        await start()
    try:
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), restart_every)
            except TimeoutError:  # fault switch: a planned outage of the whole server
                typer.echo(f"restart: down for {down:g} s")
                for stop in stops:
                    await stop()
                await asyncio.sleep(down)
                for start in starts:
                    await start()
    finally:
        for stop in stops:
            await stop()


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    from simulators.errors import SimError

    try:
        asyncio.run(main())
    except SimError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _parse_fault(spec: str) -> tuple[str, str, int, int, int | None]:
    parts = spec.split(":")
    if len(parts) not in (4, 5):
        raise typer.BadParameter(f"--fail {spec!r}: expected DEVICE:TABLE:ADDRESS:COUNT[:CODE|none]")
    try:
        code = None if len(parts) == 5 and parts[4] == "none" else int(parts[4]) if len(parts) == 5 else 2
        return parts[0], parts[1], int(parts[2]), int(parts[3]), code
    except ValueError as exc:
        raise typer.BadParameter(f"--fail {spec!r}: {exc}") from exc


def modbus(
    plant: PlantOpt,
    seed: SeedOpt = None,
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 5020,
    port_per_device: Annotated[
        bool, typer.Option(help="One port per device from --port on, in unit-id order, any unit id.")
    ] = False,
    rtu: Annotated[
        bool, typer.Option(help="Serve Modbus RTU on a virtual serial line (prints the client's device).")
    ] = False,
    baudrate: Annotated[int, typer.Option(help="RTU baud rate.")] = 19200,
    speed: SpeedOpt = 1.0,
    start: StartOpt = None,
    hours: HoursOpt = 168.0,
    refresh: RefreshOpt = 0.1,
    silence: Annotated[list[str] | None, typer.Option(help="Fault: this device never answers.")] = None,
    fail: Annotated[
        list[str] | None,
        typer.Option(help="Fault: DEVICE:TABLE:ADDRESS:COUNT[:CODE|none], a range answering exception CODE."),
    ] = None,
    duration: DurationOpt = None,
    restart_every: RestartOpt = None,
    down: DownOpt = 2.0,
    fault: FaultOpt = None,
) -> None:
    """Serve a plant over Modbus TCP: one unit id per device on one port (or a port per device, or RTU)."""
    from simulators.servers.modbus import SimModbusServer
    from simulators.servers.rtu import SimModbusRtuServer

    faults = [_parse_fault(f) for f in fail or []]

    async def main() -> None:
        source, t0 = build_source(plant, seed, start, hours, fault or [])
        servers: list[SimModbusServer] = []
        if rtu:
            servers.append(SimModbusRtuServer(source, speed, t0, baudrate=baudrate, refresh_s=refresh))
        elif port_per_device:
            ordered = sorted(source.devices, key=lambda d: d.unit_id)
            for i, device in enumerate(ordered):
                p = port + i if port else 0
                servers.append(
                    SimModbusServer(
                        source, host, p, speed, t0, refresh_s=refresh, devices=[device.id], any_unit=True
                    )
                )
        else:
            servers.append(SimModbusServer(source, host, port, speed, t0, refresh_s=refresh))
        by_device = {d: s for s in servers for d in s.unit_ids}
        for device_id in silence or []:
            _server_of(by_device, device_id).silence_unit(device_id)
        for device_id, table, address, count, code in faults:
            _server_of(by_device, device_id).fail_range(device_id, table, address, count, code)

        async def announce() -> None:
            for s in servers:
                await s.start()
            for s in servers:
                where = (
                    f"rtu {s.client_path}" if isinstance(s, SimModbusRtuServer) else f"tcp {host}:{s.port}"
                )
                for device_id, unit in s.unit_ids.items():
                    typer.echo(f"modbus {where} unit {unit} -> {device_id}")

        try:
            await _serve([announce], [s.stop for s in servers], duration, restart_every, down)
        finally:
            for s in servers:
                if isinstance(s, SimModbusRtuServer):
                    await s.close()

    _run(main)


def _server_of(by_device: Mapping[str, Any], device_id: str) -> Any:
    if device_id not in by_device:
        raise typer.BadParameter(f"unknown device {device_id!r}; devices: {', '.join(sorted(by_device))}")
    return by_device[device_id]


def opcua(
    plant: PlantOpt,
    seed: SeedOpt = None,
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 4840,
    speed: SpeedOpt = 1.0,
    start: StartOpt = None,
    hours: HoursOpt = 168.0,
    refresh: RefreshOpt = 0.1,
    security: Annotated[
        str, typer.Option(help="none | sign | sign_encrypt | all (Basic256Sha256).")
    ] = "none",
    cert_dir: Annotated[
        Path,
        typer.Option(help="Where the server certificate is generated and kept; trusted/ holds client certs."),
    ] = Path(".plantproof/sim-opcua-pki"),
    trust: Annotated[
        list[Path] | None, typer.Option(help="A client certificate (DER or PEM) to trust.")
    ] = None,
    user: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME:PASSWORD allowed to log in (then anonymous is refused).", envvar="PLANTPROOF_SIM_USERS"
        ),
    ] = None,
    duration: DurationOpt = None,
    restart_every: RestartOpt = None,
    down: DownOpt = 2.0,
    fault: FaultOpt = None,
) -> None:
    """Serve a plant over OPC UA: an object per device, a variable per point, source timestamps."""
    from simulators.servers.opcua import SimOpcUaServer

    users: dict[str, str] | None = None
    if user:
        users = {}
        for item in user:
            name, sep, password = item.partition(":")
            if not sep or not name:
                raise typer.BadParameter("--user expects NAME:PASSWORD")
            users[name] = password

    async def main() -> None:
        source, t0 = build_source(plant, seed, start, hours, fault or [])
        server = SimOpcUaServer(
            source,
            host,
            port,
            speed,
            security,
            cert_dir=cert_dir,
            users=users,
            trusted_client_certs=trust or [],
            t0_ns=t0,
            refresh_s=refresh,
        )

        async def announce() -> None:
            await server.start()
            typer.echo(f"opcua {server.endpoint} security={security} namespace={server.namespace_uri}")
            if server.certificate_path():
                typer.echo(f"server certificate: {server.certificate_path()}")

        await _serve([announce], [server.stop], duration, restart_every, down)

    _run(main)


def register(app: typer.Typer) -> None:
    """Add the `opcua` and `modbus` commands to the `sim` app."""
    app.command("opcua")(opcua)
    app.command("modbus")(modbus)
