"""`plantproof collector import`: historian CSV through the collector's validation and ledger.

The collector may not read device-type YAML (it knows only the wire contract), so this command
turns the `--devices` file (device id → device type) into wire device and point descriptions, then
hands the file to `collector.importer.import_csv`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from collector.importer import ImportDevice

DevicesOpt = typer.Option(
    ..., "--devices", help="YAML: device id -> device-type file (or {type, area, line})"
)
SiteOpt = typer.Option(..., "--site", help="site the devices belong to")
GatewayOpt = typer.Option(..., "--gateway-id", help="id the import is recorded under (e.g. historian-2025)")
DsnOpt = typer.Option(..., "--dsn", envvar="PLANTPROOF_COLLECTOR_DSN", help="PostgreSQL DSN")
SimulatedOpt = typer.Option(False, "--simulated", help="flag the devices as simulated")
CsvArg = typer.Argument(..., help="long CSV: time, device, point, value, quality")


class DeviceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    area: str | None = None
    line: str | None = None


class DevicesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    devices: Annotated[dict[str, DeviceEntry], Field(min_length=1)]

    @field_validator("devices", mode="before")
    @classmethod
    def _short_form(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: {"type": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


def load_import_devices(path: Path, simulated: bool) -> dict[str, ImportDevice]:
    """Device id -> collector ImportDevice, from a devices file and the device-type YAML it names."""
    from adapters.devicetype import load_device_type
    from adapters.yamlload import load_yaml_model
    from collector.importer import ImportDevice
    from gateway.births import point_infos
    from wire import DeviceInfo

    spec = load_yaml_model(path, DevicesFile)
    shipped = Path(__file__).resolve().parent.parent / "configs" / "devices"
    devices: dict[str, ImportDevice] = {}
    for dev, entry in spec.devices.items():
        candidates = [path.parent / entry.type, shipped / entry.type]
        type_file = next((c for c in candidates if c.exists()), candidates[0])
        device_type = load_device_type(type_file)
        info = DeviceInfo(
            type=device_type.type,
            industry=device_type.industry,
            sector=device_type.sector,
            simulated=simulated,
            managed=False,
            area=entry.area,
            line=entry.line,
            protocol="import",
            ideal_rate_per_hour=device_type.ideal_rate_per_hour or None,
        )
        state_maps = {
            p.name: {int(k): str(v) for k, v in p.states.items()} for p in device_type.points if p.states
        }
        devices[dev] = ImportDevice(info, point_infos(device_type), state_maps)
    return devices


def import_cmd(
    csv_file: Path = CsvArg,
    site: str = SiteOpt,
    gateway_id: str = GatewayOpt,
    devices: Path = DevicesOpt,
    dsn: str = DsnOpt,
    simulated: bool = SimulatedOpt,
) -> None:
    """Import historian CSV (baselines from before the gateway existed); re-importing a file is a no-op."""
    from adapters.errors import ConfigError
    from collector.errors import CollectorError
    from collector.importer import import_csv
    from collector.migrate import migrate

    try:
        mapping = load_import_devices(devices, simulated)
        migrate(dsn)
        result = import_csv(dsn, csv_file, site, gateway_id, mapping)
    except (ConfigError, CollectorError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{result.path}: sha256 {result.sha256[:16]}…, {result.devices} devices, {result.rows} readings"
        f" and {result.text_rows} text readings stored, {result.envelopes_new} envelopes new,"
        f" {result.envelopes_skipped} already in the ledger"
    )
