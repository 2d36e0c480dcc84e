"""`plantproof collector import`: historian CSV through the collector's validation and ledger.

The `--devices` file (device id → device type) becomes wire device and point descriptions through
the device model (types loaded with their address sections unchecked: no adapter is involved), then
the file goes to `collector.importer.import_csv`. Progress goes to stderr through infra.progress (a
bar on a terminal, a line every few seconds otherwise); the summary to stdout.

Exit status: 0 imported (repeats of stored readings are dropped and counted); 1 imported, but
readings of another value than the stored one were refused (`--replace` supersedes them); 2 nothing
stored (bad rows, unknown devices, points or state codes; the error names line and column) or the
import stopped part way (run it again to resume).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from pydantic import BaseModel, ConfigDict, Field, field_validator

from collector.commands.common import DsnOpt

if TYPE_CHECKING:
    from collector.csvrows import Unmapped
    from collector.importer import ImportDevice

DevicesOpt = typer.Option(
    ..., "--devices", help="YAML: device id -> device-type file (or {type, area, line})"
)
SiteOpt = typer.Option(..., "--site", help="site the devices belong to")
GatewayOpt = typer.Option(..., "--gateway-id", help="id the import is recorded under (e.g. historian-2025)")
SimulatedOpt = typer.Option(False, "--simulated", help="flag the devices as simulated")
CsvArg = typer.Argument(..., help="long CSV: time, device, point, value, quality")
ReplaceOpt = typer.Option(
    False,
    "--replace",
    help="where a reading of another value is stored, supersede it (the old value is kept"
    " in reading_conflicts); without it such readings are refused and counted",
)
UnmappedOpt = typer.Option(
    "refuse",
    "--unmapped",
    help="state codes missing from the device type's state map: refuse the file"
    " (default, listing them with counts), or store them as no-data (bad quality) or unknown-stop",
)
EXIT_CONFLICTS = 1


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
    from collector.importer import ImportDevice
    from devicemodel.births import device_info, point_infos
    from devicemodel.configroot import config_root
    from devicemodel.loader import load_device_type
    from infra.yamlconfig import load_yaml_model

    spec = load_yaml_model(path, DevicesFile)
    shipped = config_root() / "devices"
    devices: dict[str, ImportDevice] = {}
    for dev, entry in spec.devices.items():
        candidates = [path.parent / entry.type, shipped / entry.type]
        type_file = next((c for c in candidates if c.exists()), candidates[0])
        device_type = load_device_type(type_file, addresses="unchecked")  # no adapter reads it
        info = device_info(
            device_type, protocol="import", simulated=simulated, area=entry.area, line=entry.line
        )
        state_maps = {
            p.name: {int(k): str(v) for k, v in p.states.items()} for p in device_type.points if p.states
        }
        devices[dev] = ImportDevice(info, point_infos(device_type), state_maps)
    return devices


def print_summary(r: Any) -> None:
    rate = r.rows_in_file / r.seconds if r.seconds > 0 else 0.0
    lines = [
        f"{r.path}: sha256 {r.sha256[:16]}…",
        f"  rows in file   {r.rows_in_file:,} ({r.devices} devices; 0 bad rows, 0 unmapped state codes)",
        f"  stored         {r.rows:,} readings and {r.text_rows:,} text readings",
        f"  repeats        {r.repeats:,} (already stored with the same value: dropped)",
        f"  conflicts      {r.conflicts:,} (another value already stored: refused, in reading_conflicts)",
        f"  replaced       {r.replaced:,} (stored values superseded, the old ones kept in reading_conflicts)",
        f"  envelopes      {r.envelopes_new:,} new, {r.envelopes_skipped:,} already in the ledger",
        f"  took           {r.seconds:.1f} s ({rate:,.0f} rows/s)",
    ]
    if r.conflicts:
        lines.append("  rerun with --replace to supersede the stored values with this file's")
    typer.echo("\n".join(lines))


def import_cmd(
    csv_file: Path = CsvArg,
    site: str = SiteOpt,
    gateway_id: str = GatewayOpt,
    devices: Path = DevicesOpt,
    dsn: str = DsnOpt,
    simulated: bool = SimulatedOpt,
    replace: bool = ReplaceOpt,
    unmapped: str = UnmappedOpt,
) -> None:
    """Import historian CSV (baselines from before the gateway existed); re-importing a file is a no-op."""
    from collector.errors import CollectorError
    from collector.importer import import_csv
    from collector.migrate import migrate
    from devicemodel.errors import ConfigError
    from infra.progress import Progress
    from infra.yamlconfig import ConfigFileError

    if unmapped not in ("refuse", "no-data", "unknown-stop"):
        raise typer.BadParameter("--unmapped must be refuse, no-data or unknown-stop")
    progress = Progress("import", unit="bytes")
    try:
        mapping = load_import_devices(devices, simulated)
        migrate(dsn)
        result = import_csv(
            dsn, csv_file, site, gateway_id, mapping, policy="replace" if replace else "refuse",
            unmapped=cast("Unmapped", unmapped), progress=progress,  # checked above
        )  # fmt: skip
    except (ConfigError, ConfigFileError, CollectorError, OSError) as exc:
        progress.close()  # the last progress line before the error, not after it
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        progress.close()  # idempotent
    print_summary(result)
    if result.conflicts:
        raise typer.Exit(EXIT_CONFLICTS)
