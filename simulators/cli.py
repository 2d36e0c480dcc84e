"""`plantproof sim` commands: ground truth, history backfill, scale streaming (and, when installed,
the OPC UA and Modbus servers)."""

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from infra.cli import fail

app = typer.Typer(
    help="Simulated plant: ground truth, OPC UA and Modbus servers, backfill.", no_args_is_help=True
)

PlantOpt = Annotated[
    str, typer.Option("--plant", "-p", help="Scenario file, or a name under configs/plants/.")
]
FromOpt = Annotated[str | None, typer.Option("--from", help="Start (YYYY-MM-DD or ISO time, UTC).")]
ToOpt = Annotated[str | None, typer.Option("--to", help="End, exclusive (YYYY-MM-DD or ISO time, UTC).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Override the scenario's seed.")]
FaultOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--fault",
        help="A plant fault added to the scenario's, as a YAML mapping, e.g. "
        "'{kind: state_gap, devices: [cnc-01], from: 2026-03-03T06:00, hours: 3, every_days: 1}' "
        "(kinds: see simulators/faults.py).",
    ),
]


@app.callback()
def _root() -> None:
    """Simulated plant: ground truth, OPC UA and Modbus servers, backfill."""


def _time(value: str | None, default: int, what: str, as_json: bool = False) -> int:
    from simulators.scenario import to_ns

    if value is None:
        return default
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"{what}: {value!r} is not a date or ISO time", as_json) from None
    return to_ns(parsed)


def _load(
    plant: str,
    seed: int | None,
    start: str | None,
    end: str | None,
    faults: list[str] | None = None,
    as_json: bool = False,
) -> tuple[Any, int, int]:
    from simulators.errors import SimError
    from simulators.plant import PlantModel
    from simulators.plantfile import load_plant, parse_fault

    try:
        spec = load_plant(plant, seed, [parse_fault(f) for f in faults or []])
    except SimError as exc:
        raise fail(str(exc), as_json) from None
    t0 = _time(start, spec.start_ns, "--from", as_json)
    t1 = _time(end, spec.end_ns, "--to", as_json)
    if t1 <= t0:
        raise fail("--to must be after --from", as_json)
    return PlantModel.covering(spec, t0, t1), t0, t1


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


@app.command("truth")
def truth_cmd(
    plant: PlantOpt,
    start: FromOpt = None,
    end: ToOpt = None,
    seed: SeedOpt = None,
    fault: FaultOpt = None,
    device: Annotated[list[str] | None, typer.Option("--device", help="Only these devices.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", "-j", help="Per-device, per-day totals and KPIs as JSON.")
    ] = False,
) -> None:
    """Exact ground truth from the generated event log: per device and day, and KPIs for the period."""
    from simulators.errors import SimError
    from simulators.truth import truth

    model, t0, t1 = _load(plant, seed, start, end, fault, as_json)
    try:
        result = truth(model, t0, t1)
        devices = device or list(result.devices)
        kpis = {"all": result.kpis(devices=devices)} | {d: result.kpis(devices=[d]) for d in devices}
    except SimError as exc:
        raise fail(str(exc), as_json) from None
    if as_json:
        doc = {
            "plant": model.plant.name,
            "seed": model.plant.seed,
            "from": t0,
            "to": t1,
            "from_utc": dt.datetime.fromtimestamp(t0 / 1e9, dt.UTC).isoformat(),
            "to_utc": dt.datetime.fromtimestamp(t1 / 1e9, dt.UTC).isoformat(),
            "devices": [
                {"device": d, "site": s, "type": ty, "sector": se}
                for d, s, ty, se in zip(
                    result.devices, result.sites, result.types, result.sectors, strict=True
                )
                if d in devices
            ],
            "days": [row for row in result.rows() if row["device"] in devices],
            "kpis": _round(kpis),
        }
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    from rich.console import Console
    from rich.table import Table

    columns = {
        "availability": "avail",
        "performance": "perf",
        "quality": "qual",
        "oee": "OEE",
        "unplanned_downtime_per_pbt_hour": "unpl/PBT h",
        "mtbf_hours": "MTBF h",
        "mttr_hours": "MTTR h",
        "good_units": "good",
        "energy_kwh": "kWh",
        "kwh_per_good_unit": "kWh/good",
    }
    names = list(columns)
    table = Table(title=f"{model.plant.name} (seed {model.plant.seed}; 'all' adds units of every type)")
    table.add_column("device", no_wrap=True)
    for label in columns.values():
        table.add_column(label, justify="right", no_wrap=True)
    for key, row in kpis.items():
        table.add_row(key, *("-" if row[n] is None else f"{row[n]:.4g}" for n in names))
    Console(width=None if sys.stdout.isatty() else 160).print(table)


@app.command("backfill")
def backfill_cmd(
    plant: PlantOpt,
    start: FromOpt = None,
    end: ToOpt = None,
    seed: SeedOpt = None,
    mqtt: Annotated[
        str | None, typer.Option("--mqtt", help="Broker URL, e.g. mqtt://127.0.0.1:1883.")
    ] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write long CSV here instead.")] = None,
    interval: Annotated[float, typer.Option(help="Sample interval of non-state points, s.")] = 60.0,
    heartbeat: Annotated[float, typer.Option(help="State heartbeat, s.")] = 300.0,
    batch: Annotated[int, typer.Option(help="Samples per data envelope.")] = 1000,
    inflight: Annotated[int, typer.Option("--inflight", help="Messages in flight awaiting PUBACK.")] = 1000,
    seq_start: Annotated[
        int, typer.Option(help="First seq (a re-run with the same seq repeats envelopes the collector has).")
    ] = 0,
    fault: FaultOpt = None,
) -> None:
    """Publish the plant's history as wire v1 envelopes (gateway backfill-<plant>), or write CSV."""
    import time

    from infra.progress import Progress
    from simulators.backfill import Shape, backfill_csv, backfill_mqtt
    from simulators.errors import SimError

    if (mqtt is None) == (csv_file is None):
        raise fail("give exactly one of --mqtt URL or --csv FILE")
    model, t0, t1 = _load(plant, seed, start, end, fault)
    began = time.perf_counter()
    progress = Progress("backfill", unit="h of history")  # on stderr: the summary below is stdout
    try:
        shape = Shape(interval_s=interval, heartbeat_s=heartbeat, batch=batch)
        if csv_file is not None:
            counters = backfill_csv(model, t0, t1, csv_file, shape, progress)
        else:
            assert mqtt is not None
            counters = backfill_mqtt(
                model, t0, t1, mqtt, shape, window=inflight, seq0=seq_start, progress=progress
            )
    except SimError as exc:
        progress.close()
        raise fail(str(exc)) from None
    finally:
        progress.close()  # idempotent
    wall = time.perf_counter() - began
    typer.echo(
        f"{counters.samples} samples, {counters.envelopes} envelopes ({counters.births} births) "
        f"in {wall:.1f} s: {counters.samples / max(wall, 1e-9):,.0f} points/s"
        + (f"; peak in flight {counters.peak_inflight}/{inflight}" if mqtt else "")
        + (
            f"; faults: {counters.duplicated} envelopes duplicated, {counters.late} late, "
            f"{counters.redelivered} samples re-delivered"
            if mqtt and (fault or model.plant.faults)
            else ""  # CSV has no envelopes: duplicate, overlap and late deliveries apply to MQTT only
        )
    )


@app.command("scale")
def scale_cmd(
    devices: Annotated[int, typer.Option(help="Devices to stream.")] = 30_000,
    hours: Annotated[float, typer.Option(help="Hours of history to stream.")] = 1.0,
    start: FromOpt = None,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    batch_devices: Annotated[int, typer.Option(help="Devices generated at a time (bounds memory).")] = 500,
    interval: Annotated[float, typer.Option(help="Sample interval, s.")] = 60.0,
    mqtt: Annotated[
        str | None, typer.Option("--mqtt", help="Broker URL; without it samples are discarded.")
    ] = None,
    inflight: Annotated[int, typer.Option("--inflight", help="Messages in flight awaiting PUBACK.")] = 1000,
) -> None:
    """Stream a cross-industry population of simulated devices; prints devices/s and points/s."""
    from simulators.errors import SimError
    from simulators.stream import ScaleRun, run_scale

    t0 = _time(start, _time("2026-01-05", 0, "--from"), "--from")
    run = ScaleRun(devices, t0, t0 + round(hours * 3600e9), seed, batch_devices, interval)
    try:
        stats = run_scale(run, mqtt, inflight)
    except SimError as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"{stats.devices} devices, {stats.samples} points, {stats.envelopes} envelopes "
        f"in {stats.wall_s:.1f} s: "
        f"{stats.devices / stats.wall_s:,.0f} devices/s, {stats.samples / stats.wall_s:,.0f} points/s, "
        f"peak RSS {stats.peak_rss_mb:.0f} MB"
    )


from simulators.serve_cli import register as _register_servers  # noqa: E402 - after the app exists

_register_servers(app)
