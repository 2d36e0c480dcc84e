"""The collector and the gateway as real processes (`python -m ...`), for kill -9 and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent


class Process:
    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args, self.log = args, log
        self.env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *self.args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=self.env
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Collector(Process):
    def __init__(self, config: Path, log: Path) -> None:
        super().__init__(["-m", "collector.cli", "run", "--config", str(config)], log)


class GatewayProcess(Process):
    def __init__(self, config: Path, log: Path) -> None:
        super().__init__(["-m", "gateway", "run", "-c", str(config), "--log-level", "WARNING"], log)


class ApiProcess(Process):
    """`plantproof api run` on a port of loopback, configured by its file alone (no PLANTPROOF_API_*)."""

    def __init__(self, dsn: str, port: int, work: Path) -> None:
        config = work / "api.yaml"
        config.write_text(f"dsn: {dsn}\nhost: 127.0.0.1\nport: {port}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTPROOF_API_")}
        super().__init__(
            ["-m", "plantproof", "api", "run", "-c", str(config)],
            work / "api.log",
            {**env, "PYTHONPATH": str(ROOT)},
        )
        self.base = f"http://127.0.0.1:{port}"

    def start_and_wait(self, timeout: float = 60) -> None:
        """Started, and answering its OpenAPI document; AssertionError with its log otherwise."""
        self.start()
        deadline = time.monotonic() + timeout
        while True:
            assert self.alive(), f"the API exited: {self.output()[-2000:]}"
            try:
                httpx.get(f"{self.base}/api/v1/openapi.json", timeout=2)
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"the API did not start in {timeout:g} s"
                time.sleep(0.2)


def collector_config(path: Path, dsn: str, host: str, port: int, **extra: Any) -> Path:
    data: dict[str, Any] = {
        "dsn": dsn,
        "metrics_port": None,
        "mqtt": {"url": f"mqtt://{host}:{port}", "client_id": f"collector-{path.stem}"},
        "batch": {"max_age_ms": 100},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))
    return path


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of a process (VmHWM: its peak) in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")
