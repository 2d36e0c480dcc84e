"""The gateway process killed with SIGKILL mid-stream and restarted: delivered seqs have no gaps."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import defaultdict
from pathlib import Path

from simulators.servers.modbus import SimModbusServer
from tests.gateway.helpers import ROOT, RampSource, Received, Subscriber, modbus_device, write_config
from tests.servers import MosquittoServer
from wire import decode


def _seqs(msgs: list[Received]) -> dict[int, set[bytes]]:
    out: dict[int, set[bytes]] = defaultdict(set)
    for m in msgs:
        if m.topic.rsplit("/", 1)[-1] in ("data", "birth", "death"):
            out[decode(m.payload).seq].add(m.payload)  # type: ignore[union-attr]
    return out


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "run", "-c", str(config), "--log-level", "WARNING"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def test_sigkill_and_restart_leave_no_gap(tmp_path: Path, mqtt_broker: MosquittoServer) -> None:
    sim = SimModbusServer(RampSource({"k1": 1, "k2": 2}), port=0)
    await sim.start()
    gw = f"gw-{uuid.uuid4().hex[:6]}"
    devices = [modbus_device(d, sim.port, u, interval=0.05) for d, u in (("k1", 1), ("k2", 2))]
    config = write_config(
        tmp_path, mqtt_broker.url, devices, gateway_id=gw, batch={"max_samples": 5, "max_age_s": 0.1}
    )
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"pp/v1/site1/{gw}/#").start()
    log = tmp_path / "gateway.log"
    proc = _start(config, log)
    try:
        msgs = await asyncio.to_thread(sub.wait_for, lambda m: len(_seqs(m)) >= 40, 90)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        before = max(_seqs(msgs))
        proc = _start(config, log)
        await asyncio.to_thread(sub.wait_for, lambda m: max(_seqs(m)) >= before + 40, 90)
        proc.send_signal(signal.SIGTERM)
        # a clean exit, not a deadline: once, inside the whole suite, the orderly stop took over
        # 30 s; a cancel swallowed by a 3.11 wait_for race is the suspect, and the stop now
        # cancels such a task again and logs its name (gateway.stopping)
        assert proc.wait(120) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        await sim.stop()
        sub.stop()
    seqs = _seqs(sub.messages)
    assert sorted(seqs) == list(range(max(seqs) + 1)), "a seq is missing"
    assert all(len(payloads) == 1 for payloads in seqs.values()), "a seq was given to two envelopes"
    statuses = [m.payload for m in sub.messages if m.topic.endswith("$status")]
    assert statuses[-1] == b"offline" and b"online" in statuses
