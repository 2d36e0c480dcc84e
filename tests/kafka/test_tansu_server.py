"""The embedded Tansu broker: clear start errors, memory storage forgets, S3 storage survives kill -9."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from plantproof.embedded_kafka import TANSU_ENV, MotoS3Server, TansuServer, tansu_binary
from tests.kafka.kafkautil import create_topic, drain, produce, unique

PARTITIONS = 4


def test_tansu_override_that_is_not_executable_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(TANSU_ENV, str(tmp_path / "no-such-tansu"))
    with pytest.raises(RuntimeError, match=TANSU_ENV):
        tansu_binary()


def test_a_taken_port_is_a_clear_error_not_a_false_start(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = TansuServer(tmp_path, port=port)
        with pytest.raises(
            RuntimeError, match=rf"tansu exited with status \d+ before listening on .*:{port}"
        ):
            server.start(timeout=15)
        assert not server.running


async def test_memory_storage_forgets_everything_on_restart(
    tansu_factory: Callable[..., TansuServer],
) -> None:
    broker = tansu_factory()
    assert broker.storage == "memory://tansu/"
    topic = unique("mem")
    await create_topic(broker.bootstrap, topic, 1)
    await produce(broker.bootstrap, topic, [(None, b"kept?", None)])
    broker.restart()
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        assert topic not in await admin.list_topics(), "memory:// kept a topic across a restart"
    finally:
        await admin.close()


async def test_s3_storage_keeps_records_and_committed_offsets_across_kill_9(
    moto_s3_factory: Callable[..., MotoS3Server], tansu_factory: Callable[..., TansuServer]
) -> None:
    s3 = moto_s3_factory()
    broker = tansu_factory(s3=s3)
    assert broker.storage == f"s3://{s3.bucket}/"
    topic, group = unique("persist"), unique("persist-group")
    await create_topic(broker.bootstrap, topic, PARTITIONS)
    sent = [(f"gw{i % 7}".encode(), f'{{"seq": {i}}}'.encode(), None) for i in range(400)]
    before = await produce(broker.bootstrap, topic, sent, linger_ms=5)
    offsets_sent = {(m.partition, m.offset) for m in before}
    assert len(offsets_sent) == len(sent)

    # A group reads everything and commits where it stopped on each partition, minus ten records.
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    consumer.assign(tps)
    first = await drain(consumer, len(sent), within=30)
    assert len(first) == len(sent)
    highs = {tp: consumer.highwater(tp) for tp in tps}
    committed = {tp: max(0, high - 10) for tp, high in highs.items() if high}
    await consumer.commit(committed)
    await consumer.stop()

    # Keep a producer open across the kill: it must reconnect to the broker on the same port.
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        broker.kill()
        assert not broker.running
        broker.start()
        killed_at = time.monotonic()
        after = await producer.send_and_wait(topic, b'{"seq": "after-restart"}', key=b"gw0")
        print(f"producer reconnected and acked after {time.monotonic() - killed_at:.2f} s")
    finally:
        await producer.stop()
    assert (after.partition, after.offset) not in offsets_sent
    assert after.offset == highs[TopicPartition(topic, after.partition)]  # appended, nothing overwritten

    assert any(key.startswith("clusters/") for key in s3.object_keys())

    reader = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await reader.start()
    try:
        reader.assign(tps)
        assert {tp: await reader.committed(tp) for tp in committed} == committed
        resumed = await drain(reader, sum(highs[tp] - c for tp, c in committed.items()) + 1, within=30)
        for tp in tps:
            reader.seek(tp, 0)
        everything = await drain(reader, len(sent) + 1, within=30)
    finally:
        await reader.stop()
    assert {(r.partition, r.offset) for r in everything} == offsets_sent | {(after.partition, after.offset)}
    by_offset = {(r.partition, r.offset): (r.key, r.value) for r in everything}
    assert [by_offset[(m.partition, m.offset)] for m in before] == [(k, v) for k, v, _ in sent]
    # Resuming from the commits read exactly what lay past them.
    assert sorted((r.partition, r.offset) for r in resumed) == sorted(
        (r.partition, r.offset)
        for r in everything
        if r.offset >= committed.get(TopicPartition(topic, r.partition), 0)
    )
