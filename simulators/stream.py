"""Scale mode: the plant generators stream a large cross-industry population (default 30,000
devices) a batch of devices at a time, so memory is bounded by the batch, not by the device count.

Devices cycle through every device type in configs/devices/, spread over sites of 1,000 devices,
each site behind its own gateway `scale-<site>`.
"""

import contextlib
import datetime as dt
import resource
import time
from dataclasses import dataclass

import wire
from devicemodel.configroot import config_root
from simulators.backfill import Shape, birth, device_samples
from simulators.errors import SimError
from simulators.plant import PlantModel
from simulators.plantfile import load_device
from simulators.scenario import Calendar, Plant, Shift, SimDevice

DEVICES_DIR = config_root() / "devices"
SITE_SIZE = 1_000
CONTINUOUS = Calendar(shifts=[Shift(start="00:00", end="00:00")])
TWO_SHIFT = Calendar(
    days=["mon", "tue", "wed", "thu", "fri", "sat"],
    shifts=[Shift(start="06:00", end="14:00"), Shift(start="14:00", end="22:00")],
)


@dataclass(frozen=True)
class ScaleRun:
    devices: int
    start_ns: int
    end_ns: int
    seed: int = 0
    batch_devices: int = 500
    interval_s: float = 60.0
    batch_samples: int = 1000

    def __post_init__(self) -> None:
        if self.devices < 1 or self.batch_devices < 1 or self.end_ns <= self.start_ns:
            raise SimError("scale run needs devices ≥ 1, batch ≥ 1 and a non-empty time range")


@dataclass
class ScaleStats:
    devices: int = 0
    samples: int = 0
    envelopes: int = 0
    bytes: int = 0
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0


def population(run: ScaleRun, first: int, count: int) -> list[SimDevice]:
    """Devices first..first+count-1 of the population (a pure function of the index)."""
    types = sorted(DEVICES_DIR.glob("*.yaml"))
    if not types:
        raise SimError(f"no device types in {DEVICES_DIR}")
    loaded = [load_device(p) for p in types]
    out: list[SimDevice] = []
    for n in range(first, min(first + count, run.devices)):
        k = n % len(types)
        device_type, sim = loaded[k]
        out.append(
            SimDevice(
                id=f"{device_type.type.replace('_', '-')}-{n:05d}",
                site=f"site-{n // SITE_SIZE:03d}",
                device_type=device_type,
                type_file=types[k],
                unit_id=1 + n % 247,
                sim=sim,
                calendar=CONTINUOUS if device_type.sector == "process" else TWO_SHIFT,
            )
        )
    return out


def batches(run: ScaleRun) -> "list[tuple[int, int]]":
    return [(i, min(run.batch_devices, run.devices - i)) for i in range(0, run.devices, run.batch_devices)]


def run_scale(run: ScaleRun, mqtt_url: str | None = None, window: int = 1000) -> ScaleStats:
    """Generate and encode every envelope; publish with QoS 1 when a broker is given, else discard."""
    with contextlib.ExitStack() as stack:
        publisher = None
        if mqtt_url is not None:
            from simulators.mqttpub import publisher as open_publisher

            publisher = stack.enter_context(open_publisher(mqtt_url, f"scale-{run.seed}", window=window))
        shape = Shape(interval_s=run.interval_s, batch=run.batch_samples)
        stats = ScaleStats()
        seqs: dict[str, int] = {}
        began = time.perf_counter()
        for first, count in batches(run):
            devices = population(run, first, count)
            plant = Plant("scale", run.seed, _day(run.start_ns), _day(run.end_ns), (), devices)
            model = PlantModel(plant, run.start_ns, run.end_ns)
            for device in devices:
                gw = f"scale-{device.site}"
                seq = seqs.get(gw, 0)
                items: list[tuple[str, wire.Birth | wire.Data]] = [
                    (
                        wire.device_topic(device.site, gw, device.id, "birth"),
                        birth(device, gw, seq, run.start_ns),
                    )
                ]
                seq += 1
                rows = device_samples(model, device.id, run.start_ns, run.end_ns, shape)
                topic = wire.device_topic(device.site, gw, device.id, "data")
                for i in range(0, len(rows), shape.batch):
                    part = rows[i : i + shape.batch]
                    items.append(
                        (topic, wire.Data(gw=gw, dev=device.id, seq=seq, sent=part[-1][1], samples=part))
                    )
                    seq += 1
                    stats.samples += len(part)
                seqs[gw] = seq
                for topic_, envelope in items:
                    payload = wire.encode(envelope)
                    stats.bytes += len(payload)
                    stats.envelopes += 1
                    if publisher is not None:
                        publisher.publish(topic_, payload, retain=isinstance(envelope, wire.Birth))
                stats.devices += 1
            del model, devices, plant
    stats.wall_s = max(time.perf_counter() - began, 1e-9)
    stats.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return stats


def _day(t_ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(t_ns // 1_000_000_000, dt.UTC).date()
