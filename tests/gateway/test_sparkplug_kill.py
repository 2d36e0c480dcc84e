"""A Sparkplug gateway process killed with SIGKILL: the broker sends its NDEATH Will with the bdSeq of
its NBIRTH; the restarted process takes the next bdSeq; an orderly stop sends the NDEATH itself."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

from simulators.servers.modbus import SimModbusServer
from tests.gateway.helpers import RampSource, Subscriber
from tests.gateway.sparkplug_helpers import check_seqs, of
from tests.gateway.test_kill import _start
from tests.gateway.test_sparkplug import sparkplug_config
from tests.servers import MosquittoServer
from wire import sparkplug as sp
from wire.sparkplug import MessageType


async def test_sigkill_sends_the_will_and_restart_takes_the_next_bdseq(
    tmp_path: Path, mqtt_broker: MosquittoServer
) -> None:
    sim = SimModbusServer(RampSource({"cnc-1": 1, "cnc-2": 2}), port=0)
    await sim.start()
    edge = f"gw-{uuid.uuid4().hex[:6]}"
    config = sparkplug_config(tmp_path, mqtt_broker.url, sim.port, edge)
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"spBv1.0/plant1/+/{edge}/#").start()
    log = tmp_path / "gateway.log"

    def count(kind: MessageType) -> int:
        return len(of(sub, edge, kind))

    proc = _start(config, log)
    try:
        await asyncio.to_thread(sub.wait_for, lambda _m: count(MessageType.DDATA) >= 6, 90)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        await asyncio.to_thread(sub.wait_for, lambda _m: count(MessageType.NDEATH) >= 1, 30)
        proc = _start(config, log)
        await asyncio.to_thread(
            sub.wait_for,
            lambda _m: count(MessageType.NBIRTH) >= 2 and count(MessageType.DDATA) >= 12,
            90,
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0, log.read_text()
        await asyncio.to_thread(sub.wait_for, lambda _m: count(MessageType.NDEATH) >= 2, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
        await sim.stop()
        sub.stop()
    messages = of(sub, edge)
    nbirths = [sp.bdseq_of(m.payload) for m in messages if m.kind == MessageType.NBIRTH]
    ndeaths = [sp.bdseq_of(m.payload) for m in messages if m.kind == MessageType.NDEATH]
    assert nbirths == [0, 1], "the restart takes the next bdSeq"
    assert ndeaths == [0, 1], "the Will of the killed process, then the orderly NDEATH, each its session's"
    assert messages[-1].kind == MessageType.NDEATH
    assert check_seqs(messages) >= 16  # every DBIRTH and DDATA waited for above
    # after the restart both devices are born again before their data
    second = messages[[m.kind for m in messages].index(MessageType.NBIRTH, 1) :]
    born: set[str] = set()
    for m in second:
        if m.kind == MessageType.DBIRTH:
            born.add(str(m.topic.device_id))
        elif m.kind == MessageType.DDATA:
            assert m.topic.device_id in born, "DDATA before its DBIRTH"
