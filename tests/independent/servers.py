"""Servers this project did not write, started on free ports for tests: node-opcua (installed into
tests/independent/node_modules by scripts/ensure-servers.sh)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.servers import free_port

HERE = Path(__file__).resolve().parent
NODE = shutil.which("node")


def node_opcua_missing() -> str | None:
    """Why the node-opcua tests cannot run here (None when they can)."""
    if NODE is None:
        return "node is not installed (Debian package nodejs)"
    if not (HERE / "node_modules" / "node-opcua-server").is_dir():
        return "node-opcua is not installed: run `make servers` (npm install into tests/independent)"
    return None


class NodeOpcUaServer:
    """tests/independent/opcua_server.js: namespace urn:independent:plant, objects Machine1 and 2."""

    def __init__(self, pki: Path, security: str = "none", max_sessions: int = 10) -> None:
        self.pki, self.security, self.max_sessions = pki, security, max_sessions
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/independent"

    @property
    def trusted(self) -> Path:
        return self.pki / "server" / "trusted" / "certs"

    @property
    def rejected(self) -> Path:
        return self.pki / "server" / "rejected"

    def start(self, within_s: float = 120.0) -> None:
        reason = node_opcua_missing()
        if reason:
            pytest.skip(reason)
        assert NODE is not None
        args = [
            NODE,
            str(HERE / "opcua_server.js"),
            str(self.port),
            str(self.pki),
            self.security,
            str(self.max_sessions),
        ]
        self.proc = subprocess.Popen(
            args, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "NODE_PATH": str(HERE / "node_modules")},
        )  # fmt: skip
        deadline = time.monotonic() + within_s
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY"):
                return
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"node-opcua server exited with {self.proc.returncode}")
        raise RuntimeError("node-opcua server did not start in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def libmodbus_missing() -> str | None:
    if shutil.which("cc") is None:
        return "no C compiler (cc) to build the libmodbus slave"
    if not Path("/usr/include/modbus/modbus.h").is_file():
        return "libmodbus-dev is not installed (`make servers` installs it as root)"
    return None


class LibmodbusSlave:
    """tests/independent/modbus_slave.c, built against Debian's libmodbus, serving given words."""

    def __init__(self, workdir: Path, words: list[tuple[str, int, int]]) -> None:
        self.workdir, self.words = workdir, words
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        reason = libmodbus_missing()
        if reason:
            pytest.skip(reason)
        binary = self.workdir / "modbus_slave"
        subprocess.run(
            [
                "cc",
                "-O2",
                "-o",
                str(binary),
                str(HERE / "modbus_slave.c"),
                "-I/usr/include/modbus",
                "-lmodbus",
            ],
            check=True,
        )
        values = self.workdir / "values.txt"
        values.write_text("".join(f"{t} {a} {w}\n" for t, a, w in self.words))
        self.proc = subprocess.Popen(
            [str(binary), str(self.port), str(values)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"libmodbus slave did not start: {line!r}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None
