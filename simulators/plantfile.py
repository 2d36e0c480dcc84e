"""Reading plant scenarios: `load_plant` reads a scenario YAML and every device-type file it names.

Errors name file, line and field (ScenarioError). The models they build are in `simulators.scenario`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.registry import discover
from adapters.yamlload import load_yaml_model
from devicemodel.configroot import config_root
from devicemodel.devicetype import DeviceType
from devicemodel.errors import ConfigError  # the base: a bad device type or a bad YAML
from devicemodel.loader import load_device_type
from simulators.errors import ScenarioError
from simulators.faults import FAULT_ADAPTER, Fault, check_devices, check_stuck_points, for_device
from simulators.scenario import Plant, PlantFile, SimDevice, producible_states
from simulators.simconfig import SimulationSpec


class _SimSection(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    simulation: SimulationSpec = Field(default_factory=SimulationSpec)


_TYPE_CACHE: dict[Path, tuple[DeviceType, SimulationSpec]] = {}


def load_device(path: Path) -> tuple[DeviceType, SimulationSpec]:
    """A device type and its simulation section, checked against each other."""
    path = path.resolve()
    if path in _TYPE_CACHE:
        return _TYPE_CACHE[path]
    discover()  # the servers read the points' addresses in each protocol's model
    try:
        device_type = load_device_type(path)
        sim = load_yaml_model(path, _SimSection).simulation
    except ConfigError as exc:
        raise ScenarioError(str(exc)) from None
    kinds = {p.name: p.kind for p in device_type.points}

    def need(names: list[str] | set[str], allowed: tuple[str, ...], section: str) -> None:
        for name in names:
            if kinds.get(name) not in allowed:
                raise ScenarioError(
                    f"{path}: simulation.{section}.{name}: no {'/'.join(allowed)} point of that name"
                )

    need(set(sim.signals), ("analog",), "signals")
    need(set(sim.switches), ("switch",), "switches")
    need(set(sim.setpoints), ("setpoint", "analog"), "setpoints")
    for name in (sim.total_counter, sim.good_counter):
        if name is not None:
            need([name], ("counter",), "counter")
    for point in device_type.points:
        if point.kind == "state":
            missing = sorted(producible_states(sim) - set((point.states or {}).values()))
            if missing:
                raise ScenarioError(
                    f"{path}: points.{point.name}.states: no device code for {', '.join(missing)},"
                    " which the simulation section produces"
                )
    _TYPE_CACHE[path] = (device_type, sim)
    return device_type, sim


def plant_from_file(
    spec: PlantFile, path: Path, seed: int | None = None, faults: Sequence[Fault] = ()
) -> Plant:
    devices_dir = (path.parent / spec.devices_dir).resolve()
    devices: list[SimDevice] = []
    seen: set[tuple[str, str]] = set()
    all_faults = [*spec.faults, *faults]
    for index, group in enumerate(spec.devices):
        type_file = Path(group.type) if group.type.endswith(".yaml") else Path(f"{group.type}.yaml")
        type_file = type_file if type_file.is_absolute() else devices_dir / type_file
        if not type_file.exists():
            raise ScenarioError(f"{path}: devices.{index}.type: no device-type file {type_file}")
        device_type, sim = load_device(type_file)
        site = group.site or spec.sites[0].id
        site_calendar = next(s.calendar for s in spec.sites if s.id == site)
        prefix = group.prefix or device_type.type.replace("_", "-")
        for n in range(1, group.count + 1):
            device_id = f"{prefix}-{n:02d}"
            if (site, device_id) in seen:
                raise ScenarioError(f"{path}: devices.{index}: device id {device_id!r} repeats in {site}")
            seen.add((site, device_id))
            if len(devices) >= 247:
                raise ScenarioError(f"{path}: devices.{index}: more than 247 devices (Modbus unit ids)")
            devices.append(
                SimDevice(
                    id=device_id,
                    site=site,
                    device_type=device_type,
                    type_file=type_file,
                    unit_id=len(devices) + 1,
                    sim=sim,
                    calendar=spec.calendars[group.calendar or site_calendar],
                    area=group.area,
                    line=group.line,
                    interventions=tuple(
                        i for i in spec.interventions if i.applies(device_id, device_type.type)
                    ),
                    faults=for_device(all_faults, device_id),
                )
            )
    check_devices(all_faults, {d.id for d in devices}, str(path))
    check_stuck_points(all_faults, {d.id: d.device_type.points for d in devices}, str(path))
    return Plant(
        name=spec.name,
        seed=spec.seed if seed is None else seed,
        start=spec.start,
        end=spec.end,
        sites=tuple(s.id for s in spec.sites),
        devices=devices,
        interventions=tuple(spec.interventions),
        source=path,
        faults=tuple(all_faults),
    )


def resolve_plant_path(plant: str | Path) -> Path:
    """A path, or the name of a scenario under configs/plants/."""
    path = Path(plant)
    if path.exists() or path.suffix in (".yaml", ".yml"):
        return path
    return config_root() / "plants" / f"{plant}.yaml"


def load_plant(path: str | Path, seed: int | None = None, faults: Sequence[Fault] = ()) -> Plant:
    """Read a scenario; `seed` overrides the file's, `faults` add to its own. ScenarioError names
    file, line and field."""
    path = resolve_plant_path(path)
    try:
        spec = load_yaml_model(path, PlantFile)
    except ConfigError as exc:
        raise ScenarioError(str(exc)) from None
    return plant_from_file(spec, path, seed, faults)


def parse_fault(text: str) -> Fault:
    """One fault from a flag: a YAML flow mapping like `{kind: state_gap, from: ..., hours: 3}`."""
    try:
        return FAULT_ADAPTER.validate_python(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ScenarioError(f"--fault {text!r}: {exc}") from None
