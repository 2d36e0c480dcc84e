"""The PyPI `aiospb` host application in its own Python >= 3.12 venv (tests/interop/aiospb/host.py),
its JSON lines collected as they come."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.wire.sparkplug.interop import BOOTSTRAP, ROOT

AIOSPB_DIR = ROOT / "tests" / "interop" / "aiospb"
AIOSPB_PY = AIOSPB_DIR / ".venv" / "bin" / "python"
UNAVAILABLE = AIOSPB_DIR / "unavailable.txt"  # the bootstrap's reason, where it could not make the venv
Event = dict[str, Any]


def aiospb_python() -> Path:
    """The venv's interpreter once it runs and imports aiospb; skip with the reason otherwise."""
    if not os.path.lexists(AIOSPB_PY):  # not exists(): as another user, stat of its target may fail
        reason = UNAVAILABLE.read_text().strip() if UNAVAILABLE.exists() else f"run {BOOTSTRAP}"
        pytest.skip(f"aiospb venv missing at {AIOSPB_PY.parents[1].relative_to(ROOT)}: {reason}")
    try:
        probe = subprocess.run(
            [str(AIOSPB_PY), "-c", "import aiospb"], capture_output=True, text=True, timeout=60
        )
    except OSError as exc:  # e.g. a venv made by root on an interpreter this user may not run
        pytest.skip(f"cannot run {AIOSPB_PY.relative_to(ROOT)}: {exc}")
    if probe.returncode != 0:
        pytest.skip(f"{AIOSPB_PY.relative_to(ROOT)} cannot import aiospb: {probe.stderr.strip()[-300:]}")
    return AIOSPB_PY


class AiospbHost:
    """One aiospb `Host` session: STATE online at start, STATE offline when closed."""

    def __init__(
        self, python: Path, broker_host: str, broker_port: int, host_id: str, group: str, log: Path
    ) -> None:
        self.events: list[Event] = []
        self.cond = threading.Condition()
        self.log = log
        self.proc = subprocess.Popen(
            [str(python), str(AIOSPB_DIR / "host.py"), broker_host, str(broker_port), host_id, group],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("ab"), text=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.cond:
                self.events.append(json.loads(line))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def of(self, event: str, **match: Any) -> list[Event]:
        with self.cond:
            seen = list(self.events)
        return [e for e in seen if e["event"] == event and all(e.get(k) == v for k, v in match.items())]

    async def wait_for(self, predicate: Callable[[], bool], within_s: float, what: str) -> None:
        """Until `predicate()` holds, off the event loop (the simulator serves on it)."""
        await asyncio.to_thread(self._wait_for, predicate, within_s, what)

    def _wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    tail = self.log.read_text(errors="replace")[-1500:]
                    raise AssertionError(f"aiospb host: no {what} after {timeout}s; stderr: {tail}")
                self.cond.wait(min(left, 0.5))

    def close(self) -> None:
        """Close stdin: the host ends its session (STATE offline) and exits."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
