"""How much a gateway logs at its default settings: 2 OPC UA and 2 Modbus devices, with outages.

    python -m bench.log_volume [--seconds 3600] [--outage-every 600] [--outage 90] [--out DIR]

Starts a broker, two simulated OPC UA servers and two simulated Modbus servers (one device each),
and `plantproof gateway run` with default log settings. Every `--outage-every` seconds one OPC UA
and one Modbus server stop for `--outage` seconds (loss, deaths, recovery: the events worth a
line). Prints the gateway's log size, its lines by logger, and the size extrapolated to a day; the
target is under 1 MB an hour.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.report import emit
from devicemodel.devicetype import DeviceType
from devicemodel.loader import load_device_type
from plantproof.embedded import MosquittoServer
from simulators.servers.modbus import SimModbusServer
from simulators.servers.opcua import SimOpcUaServer

ROOT = Path(__file__).resolve().parent.parent
CNC = ROOT / "configs" / "devices" / "cnc_machine.yaml"


@dataclass(frozen=True)
class _Device:
    id: str
    device_type: DeviceType
    unit_id: int


class _Source:
    """Steady machines with rising counters."""

    def __init__(self, ids: list[str]) -> None:
        dt = load_device_type(CNC)
        self.devices = [_Device(d, dt, 1) for d in ids]

    def values_at(self, device_id: str, t_ns: int) -> dict[str, Any]:
        tick = t_ns // 1_000_000_000
        return {
            "state": "running", "parts_total": tick % 2**32, "parts_good": tick % 2**32,
            "energy": (tick % 2**32) * 0.01, "spindle_speed": 8000.0 + tick % 7, "spindle_temp": 45.0,
            "door_open": False, "alarm_active": False, "feed_override": 100,
        }  # fmt: skip


async def main(seconds: float, every: float, outage: float, out: Path) -> dict[str, Any]:
    source = _Source(["opc-1", "opc-2", "mb-1", "mb-2"])
    broker = MosquittoServer(out / "mqtt")
    broker.start()
    opc = [SimOpcUaServer(source, devices=[d]) for d in ("opc-1", "opc-2")]
    mb = [SimModbusServer(source, devices=[d], any_unit=True) for d in ("mb-1", "mb-2")]
    for o in opc:
        await o.start()
    for m in mb:
        await m.start()
    devices = [
        {"id": d, "type": str(CNC), "protocol": "opcua", "endpoint": {"url": s.endpoint}}
        for d, s in zip(("opc-1", "opc-2"), opc, strict=True)
    ] + [
        {"id": d, "type": str(CNC), "protocol": "modbus",
         "endpoint": {"host": "127.0.0.1", "port": s.port, "unit_id": 1}}
        for d, s in zip(("mb-1", "mb-2"), mb, strict=True)
    ]  # fmt: skip
    config = {
        "site": "bench", "gateway_id": "gw-logs", "mqtt": {"url": broker.url},
        "spool": {"path": str(out / "spool.db")}, "devices": devices,
    }  # fmt: skip
    (out / "gateway.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    log_path = out / "gateway.log"
    with log_path.open("wb") as log_file:
        gateway = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "plantproof", "gateway", "run", "-c", str(out / "gateway.yaml"),
            stdout=log_file, stderr=subprocess.STDOUT, cwd=out,
        )  # fmt: skip
        started = time.monotonic()
        outages = 0
        try:
            while time.monotonic() - started < seconds:
                wait = min(every, seconds - (time.monotonic() - started))
                await asyncio.sleep(max(0.0, wait))
                if time.monotonic() - started + outage >= seconds:
                    break
                outages += 1
                await opc[1].stop()
                await mb[1].stop()
                await asyncio.sleep(outage)
                await opc[1].start()
                await mb[1].start()
        finally:
            gateway.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(gateway.wait(), 30)
            except TimeoutError:
                gateway.kill()
            for o in opc:
                await o.stop()
            for m in mb:
                await m.stop()
            broker.stop()
    elapsed = time.monotonic() - started
    text = log_path.read_text(errors="replace")
    by_logger = collections.Counter(
        (line.split(" ", 4)[3].rstrip(":") if len(line.split(" ", 4)) > 4 else "?")
        for line in text.splitlines()
    )
    size = log_path.stat().st_size
    return {
        "seconds": round(elapsed),
        "outages": outages,
        "log_bytes": size,
        "log_lines": len(text.splitlines()),
        "bytes_per_hour": round(size * 3600 / elapsed),
        "bytes_per_day": round(size * 86400 / elapsed),
        "lines_by_logger": dict(by_logger.most_common()),
        "log": str(log_path),
    }


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3600)
    parser.add_argument("--outage-every", type=float, default=600)
    parser.add_argument("--outage", type=float, default=90)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="plantproof-logs-"))
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o755)
    result = asyncio.run(main(args.seconds, args.outage_every, args.outage, out))
    for key, value in result.items():
        print(f"{key}: {value}")
    emit("gateway log per hour", result["bytes_per_hour"] / 1e6, "MB", 1.0, "target", "< 1 MB/h")


if __name__ == "__main__":
    run()
