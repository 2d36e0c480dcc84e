"""Publisher against a real Mosquitto: broker outage, Will and $status, births, bounded window.

These tests look at what reaches the broker, so they delete spooled envelopes on PUBACK
(`spool.delete_on: puback`); end-to-end acknowledgement through a collector is in
tests/test_acknowledge.py.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.base import RawReading
from gateway.config import load_config
from gateway.runner import Gateway
from tests.gateway.helpers import Received, Subscriber, modbus_device, write_config
from tests.servers import MosquittoServer
from wire import Birth, Data, decode

DEVICES = ("m1", "m2")


async def _wait(predicate: Callable[[], bool], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


# The requirement speaks of a 60 s outage; the suite uses 10 s (PLANTPROOF_TEST_OUTAGE_S=60 for the full one).
@pytest.mark.parametrize("outage_s", [float(os.environ.get("PLANTPROOF_TEST_OUTAGE_S", "10"))])
async def test_broker_outage_loses_nothing_and_keeps_order(
    tmp_path: Path, mosquitto_factory: Callable[..., MosquittoServer], outage_s: float
) -> None:
    broker = mosquitto_factory()
    sub = Subscriber(broker.host, broker.port).start()
    cfg = load_config(
        write_config(
            tmp_path,
            broker.url,
            [modbus_device(d, port=1502) for d in DEVICES],
            mqtt={"max_inflight": 20},
            spool={"delete_on": "puback"},
        )
    )
    gateway = Gateway(cfg, connect_devices=False)
    task = asyncio.create_task(gateway.run())
    await gateway.started.wait()
    await asyncio.wait_for(gateway.client.connected.wait(), 30)

    sent: dict[str, list[float]] = {d: [] for d in DEVICES}
    stop_feeding = asyncio.Event()

    async def feed() -> None:
        i = 0
        while not stop_feeding.is_set():
            for dev in DEVICES:
                # every value differs, so edge processing passes all of them
                readings = [
                    RawReading("spindle_speed", time.time_ns(), float(i)),
                    RawReading("parts_total", time.time_ns(), i),
                ]
                await gateway.ingest(dev, readings)
                sent[dev].append(float(i))
            i += 1
            await asyncio.sleep(0.005)

    feeder = asyncio.create_task(feed())
    await asyncio.sleep(1.0)
    await asyncio.to_thread(broker.stop)
    await _wait(lambda: not gateway.client.connected.is_set(), 30, "gateway did not notice the outage")
    depth_before = gateway.spool.stats().depth
    await asyncio.sleep(outage_s)
    assert gateway.spool.stats().depth > depth_before  # the outage's data waits on disk
    await asyncio.to_thread(broker.start)
    await asyncio.sleep(1.0)
    stop_feeding.set()
    await feeder
    await gateway.flush(everything=True)
    await _wait(lambda: gateway.spool.stats().depth == 0, 120, "spool did not drain")
    next_seq = gateway.spool.stats().next_seq
    assert gateway.spool.stats().dropped == 0

    data = lambda msgs: {d.seq for d in (sub_decode(m) for m in msgs) if d is not None}  # noqa: E731
    await asyncio.to_thread(sub.wait_for, lambda msgs: len(data(msgs)) >= next_seq - len(DEVICES), 120)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    sub.stop()

    # retained births come again when the subscriber re-subscribes after the outage: same seq
    births = list({e.seq: e for e in sub.envelopes("birth") if isinstance(e, Birth)}.values())
    assert sorted(b.dev for b in births) == sorted(DEVICES)
    envelopes = [e for e in sub.envelopes("data") if isinstance(e, Data)]
    seqs = {e.seq for e in envelopes} | {b.seq for b in births}
    assert seqs == set(range(next_seq)), "every envelope the spool numbered arrived"
    for dev in DEVICES:
        firsts: dict[int, Data] = {}
        for e in envelopes:
            if e.dev == dev:
                firsts.setdefault(e.seq, e)
        arrival = [s[2] for e in firsts.values() for s in e.samples if s[0] == "spindle_speed"]
        assert arrival == sent[dev], f"{dev}: samples lost, duplicated or reordered"
    # the spool's view: each entry acknowledged (and deleted) exactly once
    assert gateway.metrics.envelopes_published._value.get() == next_seq


def sub_decode(msg: Received) -> Data | None:
    if not msg.topic.endswith("/data"):
        return None
    from wire import decode

    env = decode(msg.payload)
    return env if isinstance(env, Data) else None


async def test_status_online_and_will_offline(
    tmp_path: Path, mosquitto_factory: Callable[..., MosquittoServer]
) -> None:
    broker = mosquitto_factory()
    cfg = load_config(write_config(tmp_path, broker.url, [modbus_device("m1", port=1502)]))
    gateway = Gateway(cfg, connect_devices=False)
    task = asyncio.create_task(gateway.run())
    await asyncio.wait_for(gateway.started.wait(), 30)
    await asyncio.wait_for(gateway.client.connected.wait(), 30)
    sub = Subscriber(broker.host, broker.port, topic="pp/v1/site1/gw1/$status").start()
    # live or retained, depending on whether the subscription beat the gateway's own publish
    await asyncio.to_thread(sub.wait_for, lambda m: any(x.payload == b"online" for x in m), 30)
    late = Subscriber(broker.host, broker.port, topic="pp/v1/site1/gw1/$status").start()
    await asyncio.to_thread(late.wait_for, lambda m: any(x.payload == b"online" and x.retain for x in m), 30)
    late.stop()
    # an unclean loss of the connection makes the broker publish the Will
    sock = gateway.client._client.socket()
    assert sock is not None
    sock.close()  # fault injection: drop the TCP connection under paho
    await asyncio.to_thread(sub.wait_for, lambda m: any(x.payload == b"offline" for x in m), 60)
    # paho reconnects by itself and announces itself again
    await asyncio.to_thread(sub.wait_for, lambda m: [x.payload for x in m][-1:] == [b"online"], 60)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.to_thread(sub.wait_for, lambda m: [x.payload for x in m][-1:] == [b"offline"], 30)
    sub.stop()


async def test_spool_overflow_drops_oldest_counts_and_rebirths_once_per_episode(
    tmp_path: Path, mosquitto_factory: Callable[..., MosquittoServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = mosquitto_factory()
    cfg = load_config(
        write_config(
            tmp_path,
            broker.url,
            [modbus_device("m1", port=1502)],
            spool={"max_bytes": 65536, "delete_on": "puback"},
        )
    )
    gateway = Gateway(cfg, connect_devices=False)
    births_built: list[str] = []
    build_birth = gateway.envelopes.birth

    def counting_birth(dev: str):  # type: ignore[no-untyped-def]
        births_built.append(dev)
        return build_birth(dev)

    monkeypatch.setattr(gateway.envelopes, "birth", counting_birth)
    task = asyncio.create_task(gateway.run())
    await asyncio.wait_for(gateway.started.wait(), 30)
    await asyncio.wait_for(gateway.client.connected.wait(), 30)
    # a persistent session: the broker keeps the subscription (and queues for it) across its restart
    sub = Subscriber(broker.host, broker.port, topic="pp/v1/site1/gw1/m1/+").start()
    await asyncio.to_thread(broker.stop)
    await _wait(lambda: not gateway.client.connected.is_set(), 30, "outage not noticed")
    seen_before = len(sub.messages)

    async def overflow(start: int) -> None:
        # ~100 samples per envelope, far more than 64 KiB in all, over many monitor cycles
        for i in range(start, start + 3000):
            await gateway.ingest("m1", [RawReading("spindle_speed", time.time_ns(), float(i))])
            if i % 100 == 0:
                await asyncio.sleep(0.1)
        await gateway.flush(everything=True)
        await _wait(
            lambda: gateway.metrics.spool_dropped._value.get() == gateway.spool.stats().dropped,
            30,
            "drop not reported",
        )

    await overflow(0)
    stats = gateway.spool.stats()
    assert stats.dropped > 0 and stats.bytes <= 65536
    assert gateway.metrics.overflow_episodes._value.get() == 1
    assert births_built == ["m1", "m1"], "the first birth, then one for the whole overflow episode"
    remaining = {e.seq for e in await gateway.spool.read(-1, 10_000)}
    next_seq = gateway.spool.stats().next_seq
    assert remaining == set(range(min(remaining), next_seq)), "only the oldest went"
    assert stats.dropped_through == min(remaining) - 1
    await asyncio.to_thread(broker.start)
    await _wait(lambda: gateway.spool.stats().depth == 0, 60, "spool did not drain")

    def all_there(m: list[Received]) -> bool:
        return len({x.payload for x in m[seen_before:] if not x.retain}) >= len(remaining)

    msgs = await asyncio.to_thread(sub.wait_for, all_there, 60)
    delivered = {decode(m.payload).seq for m in msgs[seen_before:] if not m.retain}  # type: ignore[union-attr]
    assert delivered == remaining
    # the episode ended when the spool drained; the next overflow is a new episode: one more birth
    await _wait(lambda: not gateway._overflowing, 30, "episode did not end")
    await asyncio.to_thread(broker.stop)
    await _wait(lambda: not gateway.client.connected.is_set(), 30, "second outage not noticed")
    await overflow(3000)
    assert gateway.metrics.overflow_episodes._value.get() == 2
    assert births_built == ["m1"] * 3
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    sub.stop()
