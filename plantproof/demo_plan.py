"""What the demo runs: the demo plant and its claims exactly as shipped in configs/, its gateway
config, and the simulator's ground truth for the figures and claims it prints.

The plant (configs/plants/demo.yaml) and the claims (configs/claims/demo.yaml) carry the same fixed
dates, and the demo places its history on those dates, so every command in the README works on the
demo's data as printed (`plantproof verify configs/claims/demo.yaml`, `--window 2026-06`, …). The
figures window is the history's last complete month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from collector.errors import CollectorError
from collector.figures.compute import Parameters
from collector.figures.rows import FIGURE_ROWS, FigureRow
from collector.figures.window import Window, parse_window
from collector.kpi.claimfile import load_claims
from simulators.plant import PlantModel
from simulators.plantfile import load_plant
from simulators.scenario import Plant, to_ns
from simulators.truth import Truth, truth

GATEWAY_ID = "gw-demo"
# Devices the live gateway reads over OPC UA; the others over Modbus TCP.
OPCUA_TYPES = frozenset({"injection_molding", "boiler"})
COUNTED_KINDS = frozenset({"analog", "state", "counter", "energy", "switch"})
# Claim KPI name -> ground-truth KPI key.
TRUTH_KEYS = {
    "availability": "availability",
    "performance": "performance",
    "quality": "quality",
    "oee": "oee",
    "unplanned_downtime": "unplanned_downtime_per_pbt_hour",
    "mtbf": "mtbf_hours",
    "mttr": "mttr_hours",
    "maintenance_events": "maintenance_per_1000_apt_hours",
    "work_efficiency": "good_units_per_pbt_hour",
    "energy_per_unit": "kwh_per_good_unit",
    "co2_per_unit": "co2_kg_per_good_unit",
}


@dataclass
class DemoPlan:
    workdir: Path
    now: dt.datetime
    start: dt.date
    end: dt.date  # exclusive
    intervention: dt.date
    plant_file: Path
    claims_file: Path
    window: Window
    gateway_id: str = GATEWAY_ID
    collector_metrics_port: int = 0
    gateway_metrics_port: int = 0
    api_port: int = 0
    _plant: Plant | None = field(default=None, repr=False)

    @property
    def plant(self) -> Plant:
        if self._plant is None:
            self._plant = load_plant(self.plant_file)
        return self._plant

    @property
    def start_ns(self) -> int:
        return to_ns(self.start)

    @property
    def end_ns(self) -> int:
        return to_ns(self.end)

    @property
    def backfill_gateway(self) -> str:
        return f"backfill-{self.plant.name}"

    @property
    def opcua_devices(self) -> list[str]:
        return [d.id for d in self.plant.devices if d.device_type.type in OPCUA_TYPES]

    @property
    def modbus_devices(self) -> list[str]:
        return [d.id for d in self.plant.devices if d.device_type.type not in OPCUA_TYPES]

    @property
    def window_label(self) -> str:
        return self.window.start.strftime("%Y-%m")

    @property
    def baseline_label(self) -> str:
        return f"{self.start} … {self.intervention - dt.timedelta(days=1)}"

    @property
    def reporting_label(self) -> str:
        return f"{self.intervention} … {self.end - dt.timedelta(days=1)}"

    def parameters(self) -> Parameters:
        return Parameters(self.window, self.now, 0.5, False)

    def model(self) -> PlantModel:
        return PlantModel(self.plant, self.start_ns, self.end_ns)

    @cached_property
    def truth(self) -> Truth:
        return truth(self.model(), self.start_ns, self.end_ns)

    def figures_truth(self) -> FiguresTruth:
        """What the figures must show in the simulated column: the backfill delivers every point of
        every device on every day of the window, so all devices and all process points count."""
        devices = self.plant.devices
        process = [d for d in devices if d.device_type.sector == "process"]
        return FiguresTruth(
            connected=len(devices),
            points=sum(1 for d in process for p in d.device_type.points if p.kind in COUNTED_KINDS),
            types=len({d.device_type.type for d in devices}),
            industries=len({d.device_type.industry for d in devices}),
        )


@dataclass(frozen=True, slots=True)
class FiguresTruth:
    """The simulator's truth for the figure rows that name one (FigureRow.truth is a field here)."""

    connected: int
    points: int
    types: int
    industries: int

    def of(self, row: FigureRow) -> int | None:
        return None if row.truth is None else int(getattr(self, row.truth))


def _check_truth_names() -> None:
    names = set(FiguresTruth.__dataclass_fields__)
    for row in FIGURE_ROWS:
        if row.truth is not None and row.truth not in names:
            raise CollectorError(f"figure row {row.key}: no simulator truth {row.truth!r} ({sorted(names)})")


_check_truth_names()


def plan_for(now: dt.datetime, out: Path, configs: Path) -> DemoPlan:
    """The shipped demo plant and claims, on their own dates; the window is the history's last month."""
    out.mkdir(parents=True, exist_ok=True)
    plant_file = configs / "plants" / "demo.yaml"
    claims_file = configs / "claims" / "demo.yaml"
    plant = load_plant(plant_file)
    start, end = plant.start, plant.end
    intervention = min((i.from_ for i in plant.interventions), default=start)
    if now.astimezone(dt.UTC).date() < end:
        raise CollectorError(
            f"{plant_file}: the demo history ends on {end}, after today; it needs a clock past that date"
        )
    periods = {
        (c.baseline.start, c.baseline.end, c.reporting.start, c.reporting.end)
        for c in load_claims(claims_file)
        if c.baseline is not None and c.reporting is not None
    }
    expected = (start, intervention - dt.timedelta(days=1), intervention, end - dt.timedelta(days=1))
    if periods != {expected}:
        raise CollectorError(f"{claims_file}: claim periods {periods} differ from the plant's {expected}")
    last_month = (end - dt.timedelta(days=1)).strftime("%Y-%m")
    window = parse_window(last_month, now)
    return DemoPlan(out, now, start, end, intervention, plant_file, claims_file, window, _plant=plant)


def gateway_config(plan: DemoPlan, mqtt_url: str, modbus_port: int, opcua_port: int) -> dict[str, Any]:
    devices = []
    for d in plan.plant.devices:
        entry: dict[str, Any] = {
            "id": d.id,
            "type": str(d.type_file),
            "area": d.area,
            "line": d.line,
            "simulated": True,
            "scan_groups": [{"name": "all", "interval": 1.0, "points": "all"}],
        }
        if d.device_type.type in OPCUA_TYPES:
            entry.update(
                protocol="opcua",
                endpoint={
                    "url": f"opc.tcp://127.0.0.1:{opcua_port}/plantproof/",
                    "cert_dir": str(plan.workdir / "stack" / "opcua-pki"),
                },
            )
        else:
            entry.update(
                protocol="modbus", endpoint={"host": "127.0.0.1", "port": modbus_port, "unit_id": d.unit_id}
            )
        devices.append({k: v for k, v in entry.items() if v is not None})
    return {
        "site": plan.plant.site,
        "gateway_id": plan.gateway_id,
        "mqtt": {"url": mqtt_url, "keepalive_s": 30},
        "spool": {"path": str(plan.workdir / "stack" / "gateway-spool.db"), "max_bytes": 64 * 1024 * 1024},
        "metrics": {"host": "127.0.0.1", "port": plan.gateway_metrics_port},
        "devices": devices,
    }


def claim_truth(plan: DemoPlan, result: dict[str, Any]) -> float | None:
    """The change the simulator knows it generated, in the claim's unit, for the claim's devices."""
    key = TRUTH_KEYS.get(result["kpi"])
    if key is None:
        return None
    # Claim results name devices as "site/dev"; the truth knows them by dev.
    devices = [str(d).rsplit("/", 1)[-1] for d in result.get("devices", [])] or None
    base = plan.truth.kpis(plan.start_ns, to_ns(plan.intervention), devices)[key]
    rep = plan.truth.kpis(to_ns(plan.intervention), plan.end_ns, devices)[key]
    if base is None or rep is None:
        return None
    if result["unit"] == "pp":
        return (rep - base) * 100.0
    return (rep / base - 1.0) * 100.0 if base else None
