"""Simulator throughput: a half-year history of 50 devices backfilled to CSV and to MQTT, and the
30,000-device scale stream with its peak RSS.

Each rate is printed with a ceiling measured in the same run on the same machine:
- CSV: writing the same number of bytes of ready-made text (the file-system ceiling);
- MQTT: publishing ready-made payloads of the same mean size with the same QoS 1 publisher (the
  broker ceiling);
- scale: encoding ready-made envelopes of the same shape (the encoder ceiling).

    python -m bench.bench_simulators [--devices 50] [--months 6] [--interval 60] [--mqtt URL]

Quick run (what `python -m bench` uses): --weeks 2 (instead of --months) and --scale-hours 0.1.
"""

import argparse
import datetime as dt
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import emit

ROOT = Path(__file__).resolve().parent.parent
MIX = [  # a cross-industry 50-device plant
    ("cnc_machine", 10, "two_shift"),
    ("injection_molding", 6, "two_shift"),
    ("press", 8, "two_shift"),
    ("conveyor", 8, "two_shift"),
    ("pump", 8, "continuous"),
    ("boiler", 4, "continuous"),
    ("power_meter", 6, "two_shift"),
]


def scenario(path: Path, devices: int, months: int, weeks: int | None = None) -> Path:
    start = dt.date(2026, 1, 1)
    if weeks is not None:
        end = start + dt.timedelta(weeks=weeks)
    else:
        end = dt.date(2026 + months // 12, 1 + months % 12, 1)
    total = sum(n for _, n, _ in MIX)
    groups = [(t, max(1, round(n * devices / total)), c) for t, n, c in MIX]
    lines = [
        "name: bench",
        "seed: 1",
        f"start: {start.isoformat()}",
        f"end: {end.isoformat()}",
        f"devices_dir: {ROOT / 'configs' / 'devices'}",
        "calendars:",
        "  two_shift: {days: [mon, tue, wed, thu, fri], shifts: [{start: '06:00', end: '14:00'},"
        " {start: '14:00', end: '22:00'}], breaks: [{start: '10:00', minutes: 30}]}",
        "  continuous: {shifts: [{start: '00:00', end: '00:00'}]}",
        "sites: [{id: bench-site, calendar: two_shift}]",
        "devices:",
        *(f"  - {{type: {t}, count: {n}, calendar: {c}}}" for t, n, c in groups),
        "interventions: [{from: 2026-04-01, mtbf: 1.5, minor_stops: 0.7, idle_power: 0.9, yield_pp: 2}]",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _rate(n: float, s: float) -> str:
    return f"{n / max(s, 1e-9):,.0f}/s"


def bench_csv(model: object, start: int, end: int, shape: object, workdir: Path) -> None:
    from simulators.backfill import backfill_csv

    out = workdir / "history.csv"
    t = time.perf_counter()
    counters = backfill_csv(model, start, end, out, shape)  # type: ignore[arg-type]
    wall = time.perf_counter() - t
    size = out.stat().st_size
    out.unlink()
    block = b"2026-01-01T00:00:00.000Z,cnc-01,spindle_speed,8001.123046875,0\n" * 16384
    t = time.perf_counter()
    with (workdir / "ceiling.csv").open("wb") as f:
        for _ in range(0, size, len(block)):
            f.write(block)
    ceiling = time.perf_counter() - t
    (workdir / "ceiling.csv").unlink()
    rate = _rate(counters.samples, wall)
    mbs, ceiling_mbs = size / wall / 1e6, size / ceiling / 1e6
    print(f"csv:   {counters.samples:,} points, {size / 1e6:,.0f} MB in {wall:.1f} s = {rate} points;")
    print(f"       {mbs:.1f} MB/s vs file ceiling {ceiling_mbs:.0f} MB/s (ratio {ceiling / wall:.3f})")
    emit("csv backfill", mbs, "MB/s", ceiling_mbs, "file write of ready-made text")
    emit("csv backfill points", counters.samples / max(wall, 1e-9), "points/s", None, "")


def bench_mqtt(model: object, start: int, end: int, shape: object, url: str) -> None:
    from simulators.backfill import backfill_mqtt
    from simulators.mqttpub import publisher

    t = time.perf_counter()
    counters = backfill_mqtt(model, start, end, url, shape, window=1000)  # type: ignore[arg-type]
    wall = time.perf_counter() - t
    mean = counters.bytes // max(counters.envelopes, 1)
    n = min(counters.envelopes, 20_000)
    payload = b"x" * mean
    with publisher(url, "bench-ceiling", window=1000) as pub:
        t = time.perf_counter()
        for _ in range(n):
            pub.publish("bench/ceiling", payload)
    ceiling = (time.perf_counter() - t) / n * counters.envelopes
    points, envs = _rate(counters.samples, wall), _rate(counters.envelopes, wall)
    mb = counters.bytes / 1e6
    print(
        f"mqtt:  {counters.samples:,} points, {counters.envelopes:,} envelopes ({mb:,.0f} MB, all PUBACKed)"
    )
    print(f"       in {wall:.1f} s = {points} points, {envs} envelopes; broker ceiling")
    print(f"       {_rate(counters.envelopes, ceiling)} envelopes of {mean:,} B (ratio {ceiling / wall:.3f})")
    envs_s, ceiling_s = counters.envelopes / max(wall, 1e-9), counters.envelopes / max(ceiling, 1e-9)
    emit("mqtt backfill", envs_s, "envelopes/s", ceiling_s, "QoS 1 publisher, ready-made payloads")
    emit("mqtt backfill points", counters.samples / max(wall, 1e-9), "points/s", None, "")


def bench_scale(devices: int, hours: float) -> None:
    """In a child process each, so that peak RSS belongs to the stream alone."""
    exe = [
        sys.executable,
        "-c",
        "from plantproof.cli import main; main()",
        "sim",
        "scale",
        "--hours",
        str(hours),
    ]
    line = ""
    for n in (devices // 10, devices):
        out = subprocess.run(
            [*exe, "--devices", str(n)], capture_output=True, text=True, check=True, cwd=ROOT
        )
        line = out.stdout.strip()
        print(f"scale: {line}")
    import msgspec

    import wire

    t0 = 1_767_225_600_000_000_000
    samples: list[wire.Sample] = [("spindle_speed", t0 + i, 8001.123046875, 0) for i in range(1000)]
    env = wire.Data(gw="scale-site-000", dev="cnc-machine-00000", seq=1, sent=1, samples=samples)
    t = time.perf_counter()
    for _ in range(200):
        wire.encode(env)
    per_point = (time.perf_counter() - t) / 200_000
    print(f"scale: encoder ceiling {1 / per_point:,.0f} points/s (msgspec {msgspec.__version__})")
    # The stream's own summary line (of the largest run) carries its rate and peak RSS.
    rate = re.search(r"([\d,.]+) points/s", line)
    rss = re.search(r"peak RSS ([\d,.]+) MB", line)
    per_s = re.search(r"([\d,.]+) devices/s", line)
    label = f"scale {devices:,} devices x {hours:g} h"
    if rate is None or rss is None or per_s is None:
        print(f"scale: could not read devices/s, points/s and peak RSS from {line!r}")
        return
    emit(f"{label} devices", float(per_s.group(1).replace(",", "")), "devices/s", None, "")
    emit(label, float(rate.group(1).replace(",", "")), "points/s", 1 / per_point, "msgspec encoder alone")
    emit(f"{label} peak RSS", float(rss.group(1).replace(",", "")), "MB", None, "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument(
        "--weeks", type=int, default=None, help="history length in weeks (overrides --months)"
    )
    parser.add_argument("--interval", type=float, default=60.0, help="sample interval, s")
    parser.add_argument("--mqtt", help="broker URL (default: start a local Mosquitto)")
    parser.add_argument("--scale-devices", type=int, default=30_000)
    parser.add_argument("--scale-hours", type=float, default=1.0)
    parser.add_argument("--skip", nargs="*", default=[], choices=["csv", "mqtt", "scale"])
    args = parser.parse_args()

    from simulators.backfill import Shape
    from simulators.plant import PlantModel
    from simulators.plantfile import load_plant

    workdir = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    broker = None
    try:
        plant = load_plant(scenario(workdir / "bench.yaml", args.devices, args.months, args.weeks))
        span = f"{args.weeks} weeks" if args.weeks is not None else f"{args.months} months"
        t = time.perf_counter()
        model = PlantModel(plant, plant.start_ns, plant.end_ns)
        events = sum(len(model.events(d)) for d in model.device_ids)
        print(f"model: {len(plant.devices)} devices × {span}: {events:,} state intervals"
              f" in {time.perf_counter() - t:.2f} s")  # fmt: skip
        shape = Shape(interval_s=args.interval)
        if "csv" not in args.skip:
            bench_csv(model, plant.start_ns, plant.end_ns, shape, workdir)
        if "mqtt" not in args.skip:
            url = args.mqtt
            if url is None:
                from tests.servers import MosquittoServer

                broker = MosquittoServer(workdir / "mqtt")
                broker.start()
                url = broker.url
            bench_mqtt(model, plant.start_ns, plant.end_ns, shape, url)
        if "scale" not in args.skip:
            bench_scale(args.scale_devices, args.scale_hours)
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
