"""MQTT in, Kafka out: each message acknowledged to the broker only after Kafka acknowledged it.

Messages are produced in the order they arrived and acknowledged to MQTT in that order (MQTT wants
PUBACKs in order). A produce that fails is produced again, with backoff, before anything after it is
acknowledged: a kill -9 at any moment leaves every unacknowledged message in the bridge's persistent
session, and the broker sends it again to the next bridge run. A message produced twice that way
reaches Kafka twice; the collectors' ledger stores it once.

Bounds: `inflight_max` messages handed to the producer and not yet acknowledged (the bridge then
waits), and `inflight_max_bytes` of payload held, enforced by the MQTT subscriber (beyond it a
message stays with the broker and comes back after a reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from bridge.keys import forwarded, partition_key
from bridge.metrics import Metrics
from bridge.settings import BridgeSettings
from infra.kafka import SIZE_HEADER, TOPIC_HEADER
from infra.mqtt.subscriber import Budget, Delivery, ManualAckSubscriber

log = logging.getLogger(__name__)
_HEADER_ROOM = 64 * 1024  # topic, key and headers on top of the largest payload in one request
_DRAIN_S = 10.0  # at a clean stop, how long the messages in flight may take to be acknowledged


@dataclass(slots=True)
class _InFlight:
    delivery: Delivery
    future: asyncio.Future[Any] | None  # None: not forwarded, acknowledged in its turn
    started: float


class Bridge:
    def __init__(self, settings: BridgeSettings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.source: ManualAckSubscriber | None = None
        self.producer: Any = None
        self._inflight: asyncio.Queue[_InFlight] = asyncio.Queue(maxsize=settings.inflight_max)

    def budget(self) -> Budget:
        s = self.settings
        return Budget(s.queue_max, s.inflight_max_bytes, s.limits.max_payload_bytes,
                      s.limits.keep_oversized_bytes)  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        s, m = self.settings, self.metrics
        m.inflight_limit.set(s.inflight_max)
        m.held_limit_bytes.set(s.inflight_max_bytes)
        self.producer = await self._open_producer(stop)
        if self.producer is None:
            return
        self.source = ManualAckSubscriber(s.mqtt, s.mqtt.session(), asyncio.get_running_loop(), m,
                                          self.budget())  # fmt: skip
        self.source.start()
        draining = asyncio.Event()
        acknowledger = asyncio.create_task(self._acknowledge(draining))
        log.info(
            "bridge: MQTT %s -> Kafka topic %s on %s", s.mqtt.describe(), s.kafka.topic, s.kafka.bootstrap
        )
        try:
            while not stop.is_set() and not acknowledger.done():
                for delivery in await self.source.take(1000, 0.5):
                    item = await self._produce(delivery, stop)
                    if item is None:
                        break  # stopping: unacknowledged, it stays in the session
                    await self._inflight.put(item)
                    m.inflight.set(self._inflight.qsize())
        finally:
            draining.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(acknowledger), _DRAIN_S)
            acknowledger.cancel()
            await asyncio.gather(acknowledger, return_exceptions=True)
            self.source.stop()
            await self.producer.stop()

    async def _open_producer(self, stop: asyncio.Event) -> Any:
        s = self.settings
        k, delay = s.kafka, 1.0
        while not stop.is_set():
            producer = AIOKafkaProducer(
                client_id=k.client_id,
                acks="all",
                enable_idempotence=False,  # refused by Tansu; the ledger drops copies
                linger_ms=k.linger_ms,
                max_batch_size=k.max_batch_bytes,
                max_request_size=max(k.max_batch_bytes, s.limits.max_payload_bytes + _HEADER_ROOM),
                compression_type=None if k.compression == "none" else k.compression,
                **k.client_options(),
            )
            try:
                await producer.start()
                return producer
            except Exception as exc:  # aiokafka's connection errors: the cluster may be starting
                with contextlib.suppress(Exception):
                    await producer.stop()
                log.warning("Kafka at %s not reachable, retrying in %.0f s: %s", k.bootstrap, delay, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 30.0)
        return None

    async def _produce(self, d: Delivery, stop: asyncio.Event | None = None) -> _InFlight | None:
        """Hand one message to the producer (waits while its buffer is full); retried until taken,
        or None once `stop` is set."""
        if not forwarded(d.topic):
            return _InFlight(d, None, time.perf_counter())
        headers = [(TOPIC_HEADER, d.topic.encode())]
        if d.size is not None:
            headers.append((SIZE_HEADER, str(d.size).encode()))
        delay = 0.2
        while True:
            started = time.perf_counter()
            try:
                future = await self.producer.send(
                    self.settings.kafka.topic, value=d.payload, key=partition_key(d.topic), headers=headers
                )
                return _InFlight(d, future, started)
            except Exception as exc:  # refused before sending (metadata, buffer timeout): again
                self._failed(exc, d, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                if stop is not None and stop.is_set():
                    return None

    async def _acknowledge(self, draining: asyncio.Event) -> None:
        """In arrival order: wait for Kafka's acknowledgement (producing again on failure), then ack MQTT."""
        m = self.metrics
        while not (draining.is_set() and self._inflight.empty()):
            if self._inflight.empty():  # wait_for costs a task and a timer: only when idle
                try:
                    item = await asyncio.wait_for(self._inflight.get(), 0.5)
                except TimeoutError:
                    continue
            else:
                item = self._inflight.get_nowait()
            delay = 0.2
            while item.future is not None:
                try:
                    await item.future
                    break
                except Exception as exc:  # not acknowledged: produce it again before acking anything after
                    self._failed(exc, item.delivery, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    again = await self._produce(item.delivery)
                    assert again is not None  # no stop given: retried until taken
                    item = again
            if item.future is None:
                m.skipped.inc()
            else:
                m.produced.inc()
                m.produce_seconds.observe(time.perf_counter() - item.started)
            assert self.source is not None
            self.source.ack([item.delivery])
            m.inflight.set(self._inflight.qsize())

    def _failed(self, exc: Exception, d: Delivery, delay: float) -> None:
        self.metrics.errors.labels(type(exc).__name__).inc()
        log.warning("produce of a message on %r failed, producing it again in %.1f s: %s",
                    d.topic[:200], delay, exc)  # fmt: skip


async def run(settings: BridgeSettings, stop: asyncio.Event | None = None) -> None:
    metrics = Metrics()
    if settings.metrics_port is not None:
        metrics.serve(settings.metrics_host, settings.metrics_port)
    await Bridge(settings, metrics).run(stop or asyncio.Event())
