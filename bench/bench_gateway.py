"""Gateway throughput: readings → edge → batcher → spool (SQLite) → Mosquitto (QoS 1, PUBACK), one process.

Prints points/s, CPU share of one core and RSS, as ratios against a ceiling measured in the same run:
the raw broker rate (paho publishing ready-made envelopes of the same size at QoS 1, no spool).
Two runs: paced at the target rate (CPU share at 20,000 points/s) and flat out (throughput).

    python -m bench.bench_gateway [--seconds 5] [--rate 20000] [--devices 40]

Quick run (what `python -m bench` uses): --seconds 3.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from adapters.base import RawReading
from bench.report import emit
from gateway.config import load_config
from gateway.runner import Gateway

ANALOG = ("spindle_speed", "spindle_temp", "energy", "parts_total", "parts_good")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _broker(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("mosquitto did not start")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def raw_broker_ceiling(port: int, payload_size: int, seconds: float) -> float:
    """Envelopes/s that paho alone gets acknowledged at QoS 1 with a 100-message window."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw")
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    client.loop_start()
    payload = b"x" * payload_size
    sent = 0
    start = time.perf_counter()
    window: list[paho.MQTTMessageInfo] = []
    while time.perf_counter() - start < seconds:
        window.append(client.publish("bench/raw", payload, qos=1))
        sent += 1
        if len(window) >= 100:
            window.pop(0).wait_for_publish(10)
    for info in window:
        info.wait_for_publish(10)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return sent / elapsed


async def gateway_run(
    config: Path,
    seconds: float,
    rate: float | None,
    devices: list[str],
    rss: list[tuple[float, float]] | None = None,
) -> dict[str, float]:
    gateway = Gateway(load_config(config), connect_devices=False)
    task = asyncio.create_task(gateway.run())
    await gateway.started.wait()
    await asyncio.wait_for(gateway.client.connected.wait(), 30)
    published = gateway.metrics.points_published
    per_call = len(ANALOG)
    fed = 0
    i = 0
    cpu0, t0 = _cpu(), time.perf_counter()
    next_rss = 0.0
    while (now := time.perf_counter()) - t0 < seconds:
        if rss is not None and now - t0 >= next_rss:
            rss.append((now - t0, _rss_mib()))
            next_rss += 30.0
        ts = time.time_ns()
        for dev in devices:
            readings = [RawReading(name, ts, i + k) for k, name in enumerate(ANALOG)]
            await gateway.ingest(dev, readings)
        fed += per_call * len(devices)
        i += 1
        if rate is not None:
            ahead = fed / rate - (now - t0)
            if ahead > 0:
                await asyncio.sleep(ahead)
        elif i % 20 == 0:
            await asyncio.sleep(0)  # let the publisher run
    await gateway.flush(everything=True)
    while gateway.spool.stats().depth > 0:  # noqa: ASYNC110 - polling a counter in another thread
        await asyncio.sleep(0.01)
    elapsed, cpu = time.perf_counter() - t0, _cpu() - cpu0
    total = sum(published.labels(d)._value.get() for d in devices)
    envelopes = gateway.metrics.envelopes_published._value.get()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return {
        "points": total,
        "fed": fed,
        "points_per_s": total / elapsed,
        "cpu_share": cpu / elapsed,
        "envelopes_per_s": envelopes / elapsed,
    }


def _report_soak(paced: dict[str, float], rss: list[tuple[float, float]]) -> None:
    print("RSS over the soak (s: MiB): " + ", ".join(f"{t:.0f}: {m:.1f}" for t, m in rss))
    warm = [m for t, m in rss if t >= 60] or [m for _, m in rss]
    growth = warm[-1] - warm[0]
    print(f"paced {paced['points_per_s']:,.0f} points/s at {100 * paced['cpu_share']:.0f} % of a core;"
          f" RSS after warm-up {warm[0]:.1f} → {warm[-1]:.1f} MiB")  # fmt: skip
    emit("soak RSS growth after warm-up", growth, "MiB", None, "", target="flat (≈ 0)")
    emit("soak paced", paced["points_per_s"], "points/s", None, "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=20_000.0, help="points/s of the paced run")
    parser.add_argument("--devices", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--soak", type=float, default=0.0, help="instead: paced run this long, RSS every 30 s"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    broker, port = _broker(work)
    try:
        devices = [f"d{i}" for i in range(args.devices)]
        results = {}
        rss: list[tuple[float, float]] = []
        runs: tuple[tuple[str, float | None], ...] = (("paced", args.rate), ("flat-out", None))
        if args.soak:
            runs, args.seconds = (("paced", args.rate),), args.soak
        for name, rate in runs:
            cfg = {
                "site": "bench",
                "gateway_id": f"gw-{name}",
                "mqtt": {"url": f"mqtt://127.0.0.1:{port}", "max_inflight": 100},
                "spool": {"path": str(work / f"{name}.db")},
                "batch": {"max_samples": args.batch, "max_age_s": 0.5},
                "devices": [
                    {
                        "id": d,
                        "type": "cnc_machine.yaml",
                        "protocol": "modbus",
                        "endpoint": {"host": "127.0.0.1"},
                    }
                    for d in devices
                ],
            }
            path = work / f"{name}.yaml"
            path.write_text(yaml.safe_dump(cfg))
            results[name] = asyncio.run(gateway_run(path, args.seconds, rate, devices, rss))
        if args.soak:
            _report_soak(results["paced"], rss)
            return
        sample = b'["spindle_speed",1763758000000000000,12345.0,0],'
        envelope_size = args.batch * len(sample) + 120
        ceiling = raw_broker_ceiling(port, envelope_size, min(args.seconds, 3.0))
        print(f"raw broker ceiling: {ceiling:,.0f} envelopes/s of {envelope_size} B (paho alone, QoS 1)")
        for name, r in results.items():
            share = r["envelopes_per_s"] / ceiling
            print(
                f"{name:>9}: {r['points_per_s']:>10,.0f} points/s "
                f"({r['points']:,.0f} of {r['fed']:,.0f} fed), {r['envelopes_per_s']:,.0f} envelopes/s "
                f"= {share:.3f} of the ceiling, CPU {100 * r['cpu_share']:.0f} % of a core"
            )
        print(f"RSS {_rss_mib():.0f} MiB")
        paced = results["paced"]
        verdict = (
            "meets" if paced["points_per_s"] >= 0.95 * args.rate and paced["cpu_share"] <= 0.5 else "misses"
        )
        print(f"target {args.rate:,.0f} points/s at <= 50 % of a core: {verdict}")
        emit("paced", paced["points_per_s"], "points/s", None, "", target=f">= {args.rate:,.0f} points/s")
        emit("paced CPU", paced["cpu_share"], "core", None, "", target="<= 0.5 core")
        flat = results["flat-out"]
        emit("flat-out", flat["points_per_s"], "points/s", None, "")
        label = f"raw broker, paho QoS 1, {envelope_size} B"
        emit("flat-out envelopes", flat["envelopes_per_s"], "envelopes/s", ceiling, label)
        emit("RSS", _rss_mib(), "MiB", None, "")
    finally:
        broker.kill()
        broker.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
