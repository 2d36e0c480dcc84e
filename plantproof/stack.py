"""The embedded stack: PostgreSQL and Mosquitto on free ports plus plantproof processes.

Every process is a real `plantproof` command in its own process group with its log under
`<workdir>/logs/`, so the demo runs exactly what an operator would run. `close()` stops them in
reverse order (SIGTERM, then SIGKILL after a grace period) and then the servers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from collector.migrate import migrate
from plantproof.embedded import MosquittoServer, PostgresServer, free_port

if TYPE_CHECKING:
    from plantproof.embedded_kafka import TansuServer


@dataclass
class ManagedProcess:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    workdir: Path
    pg: PostgresServer | None = None
    broker: MosquittoServer | None = None
    kafka: TansuServer | None = None  # `demo --kafka` only
    dsn: str = ""
    storage: str = ""
    processes: list[ManagedProcess] = field(default_factory=list)
    _scratch: list[Path] = field(default_factory=list)

    @property
    def mqtt_url(self) -> str:
        assert self.broker is not None
        return self.broker.url

    def start_servers(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        if os.geteuid() == 0:
            # PostgreSQL runs as the `postgres` user, who may not reach the output directory (for
            # example under /root): its cluster lives in a directory of its own under /tmp.
            pg_dir = Path(tempfile.mkdtemp(prefix="plantproof-demo-pg-"))
            self._scratch.append(pg_dir)
        else:
            pg_dir = self.workdir / "postgres"
            pg_dir.mkdir(exist_ok=True)
        pg_dir.chmod(0o755)
        self.pg = PostgresServer(pg_dir)
        self.pg.start()
        self.broker = MosquittoServer(self.workdir / "mosquitto")
        self.broker.start()
        self.dsn = self.pg.create_database("plantproof")
        self.storage, _ = migrate(self.dsn)

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> ManagedProcess:
        log = self.workdir / "logs" / f"{name}.log"
        full_env = {**os.environ, **(env or {})}
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "plantproof", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=full_env,
                start_new_session=True,  # own process group: Ctrl-C reaches the demo, which stops it
            )
        managed = ManagedProcess(name, proc, log)
        self.processes.append(managed)
        return managed

    def check_alive(self) -> None:
        for managed in self.processes:
            if not managed.alive():
                raise RuntimeError(
                    f"{managed.name} exited with status {managed.proc.returncode}; last log lines:\n"
                    f"{managed.tail()}"
                )

    def alive_and(self, ready: bool) -> bool:
        """`ready`, after making sure every process still runs (a crash fails fast, with its log)."""
        self.check_alive()
        return ready

    def stop_process(self, managed: ManagedProcess, grace_s: float = 10.0) -> None:
        if managed.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(managed.proc.pid, signal.SIGTERM)
            try:
                managed.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(managed.proc.pid, signal.SIGKILL)
                managed.proc.wait()
        if managed in self.processes:
            self.processes.remove(managed)

    def close(self) -> None:
        for managed in reversed(list(self.processes)):
            self.stop_process(managed)
        if self.kafka is not None:
            self.kafka.stop()
        if self.broker is not None:
            self.broker.stop()
        if self.pg is not None:
            self.pg.stop()
        for path in self._scratch:
            shutil.rmtree(path, ignore_errors=True)


def wait_until(
    predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.5, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


__all__ = ["ManagedProcess", "Stack", "free_port", "wait_until"]
