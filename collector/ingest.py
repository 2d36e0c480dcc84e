"""The ingest pipeline: source (MQTT or Kafka) → bounded queue → batches → store → acknowledgement.

Both sources offer `take`, `ack` and `depth`; with the Kafka source the MQTT connection only
publishes (watermarks, Sparkplug rebirth requests and STATE), with the MQTT source it does both.

A batch is acknowledged only after it is committed; then the watermarks of its gateways move
(`collector.acknowledge`). If the database is unreachable the batch is retried with backoff (nothing
more is acknowledged meanwhile, so the broker holds the backlog). A batch the database refuses for
another reason is split so that one bad message cannot stall ingest; a message that still cannot be
stored becomes a dead letter with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

import wire
from collector.acknowledge import Acknowledger
from collector.db import DatabaseUnavailableError
from collector.decode import (
    DeadLetter,
    Limits,
    Message,
    Parsed,
    dead_letter,
    identify,
    parse_batch,
    reason_of,
)
from collector.metrics import Metrics
from collector.settings import CollectorSettings
from collector.sparkplug import DeviceType, Host, Outcome, rebirth_payload, rebirth_topic
from collector.store import BatchResult, Store
from infra.mqtt.subscriber import Budget, ManualAckSubscriber

log = logging.getLogger(__name__)
_BYTES_PER_SAMPLE = 40
# rough size of one JSON sample, to batch by estimated rows
Prepared = tuple[list[Parsed], list[DeadLetter], Outcome | None]
SPARKPLUG_PREFIX = f"{wire.sparkplug.NAMESPACE}/"


class Source(Protocol):
    """Where the pipeline's messages come from: the MQTT subscriber or `collector.kafka_source`.
    What `take` returns has `topic`, `payload` and `size`; `ack` is given it back once committed."""

    def depth(self) -> int: ...
    async def take(self, limit: int, wait_s: float) -> Sequence[Any]: ...
    def ack(self, deliveries: Sequence[Any]) -> int: ...


def limits_of(settings: CollectorSettings) -> Limits:
    lim = settings.limits
    return Limits(lim.max_payload_bytes, lim.dead_letter_payload_bytes, lim.max_future_s, lim.max_past_days)


class Pipeline:
    def __init__(self, settings: CollectorSettings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        # One connection (and registry cache) per concurrent commit.
        self.stores = [Store(settings.dsn, limits_of(settings)) for _ in range(settings.batch.concurrency)]
        self.store = self.stores[0]
        self.source: ManualAckSubscriber | None = None  # the MQTT connection
        self.inbox: Source | None = None  # where messages are taken from: `source`, or Kafka
        self.acknowledger: Acknowledger | None = None
        sp = settings.sparkplug
        self.host = Host(
            self.store.limits,
            [DeviceType(d.match, d.type, d.industry, d.sector) for d in sp.devices],
            sp.rebirth_interval_s,
            sp.max_edge_nodes,
            sp.max_metrics_per_node,
        )

    def budget(self) -> Budget:
        s = self.settings
        return Budget(
            s.queue_max, s.queue_max_bytes, s.limits.max_payload_bytes, s.limits.dead_letter_payload_bytes
        )

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self.source = ManualAckSubscriber(
            self.settings.mqtt, self.settings.session(), loop, self.metrics, self.budget()
        )
        self.metrics.queue_limit_bytes.set(self.settings.queue_max_bytes)
        if "sparkplug" in self.settings.mqtt.sources and not await self._restore(stop):
            return
        self.source.start()
        kafka = await self._open_kafka() if self.settings.source == "kafka" else None
        self.inbox = kafka or self.source
        acknowledger = None
        if self.settings.acknowledge:
            self.acknowledger = Acknowledger(self.settings.dsn, self.source, self.metrics)
            acknowledger = asyncio.create_task(self.acknowledger.run(stop))
        idle: asyncio.Queue[Store] = asyncio.Queue()
        for store in self.stores:
            idle.put_nowait(store)
        # Batch N+1 is parsed while earlier batches commit. Data-only batches may commit side by side
        # (the ledger makes that safe); a batch with registry traffic commits alone, so data after a
        # birth always finds it. Acknowledgements follow batch order.
        inflight: list[asyncio.Task[bool]] = []
        previous_exclusive = False
        try:
            while not stop.is_set():
                batch = await self._collect(stop)
                if not batch:
                    continue
                messages = [Message(d.topic, d.payload, d.size) for d in batch]
                prepared = await asyncio.to_thread(self._prepare, messages)
                # Sparkplug batches commit in order, one at a time: the sessions saved with each
                # are then always those of the messages stored.
                exclusive = prepared[2] is not None or any(
                    not isinstance(p.envelope, wire.Data) for p in prepared[0]
                )
                inflight = [t for t in inflight if not t.done() or not t.result()]
                if any(t.done() for t in inflight):
                    break  # a commit gave up because we are stopping
                while inflight and (exclusive or previous_exclusive or len(inflight) >= len(self.stores)):
                    await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
                    if any(t.done() and not t.result() for t in inflight):
                        break
                    inflight = [t for t in inflight if not t.done()]
                store = await idle.get()
                after = inflight[-1] if inflight else None
                inflight.append(
                    asyncio.create_task(self._commit(store, idle, batch, messages, prepared, after, stop))
                )
                previous_exclusive = exclusive
            if inflight:
                await asyncio.gather(*inflight)
        finally:
            if acknowledger is not None:
                stop.set()
                await asyncio.gather(acknowledger, return_exceptions=True)
            if kafka is not None:
                await kafka.stop()
            self.source.stop()
            for store in self.stores:
                await asyncio.to_thread(store.close)

    async def _open_kafka(self) -> Any:
        from collector.kafka_source import KafkaSource  # the kafka extra: only when configured

        assert self.settings.kafka is not None
        delay = 1.0
        while True:
            kafka = KafkaSource(self.settings.kafka, self.metrics, self.budget())
            try:
                await kafka.start()
                return kafka
            except Exception as exc:  # aiokafka's connection errors: the cluster may still be starting
                with contextlib.suppress(Exception):
                    await kafka.stop()
                log.warning("Kafka at %s not reachable, retrying in %.0f s: %s",
                            self.settings.kafka.bootstrap, delay, exc)  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _restore(self, stop: asyncio.Event) -> bool:
        """The Sparkplug sessions saved before a restart, before any message is read; False if
        stopped while the database is unavailable."""
        delay = 0.2
        while True:
            try:
                live, dead = await asyncio.to_thread(
                    self.store.sparkplug_sessions, self.host.max_edge_nodes, self._redelivery_window()
                )
                break
            except DatabaseUnavailableError as exc:
                log.warning("database unavailable, Sparkplug sessions not restored yet: %s", exc)
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    return False
                except TimeoutError:
                    delay = min(delay * 2, 5.0)
        self.host.restore(live, dead)
        self.metrics.sparkplug_sessions.set(self.host.sessions)
        log.info("restored %d Sparkplug edge node sessions (%d ended ones kept)", len(live), len(dead))
        return True

    def _redelivery_window(self) -> int:
        """Sparkplug messages that can have been stored but not acknowledged when the collector
        stopped: the batches in flight (Sparkplug batches commit one at a time), with a margin."""
        return 4 * self.settings.batch.max_messages

    def _prepare(self, messages: list[Message]) -> Prepared:
        """The checks that need no database; Sparkplug messages go through the host, in order."""
        if "sparkplug" not in self.settings.mqtt.sources:
            return *parse_batch(messages, self.store.limits), None
        v1 = [m for m in messages if not m.topic.startswith(SPARKPLUG_PREFIX)]
        parsed, dead = parse_batch(v1, self.store.limits)
        if len(v1) == len(messages):
            return parsed, dead, None
        outcome = self.host.interpret(
            [m for m in messages if m.topic.startswith(SPARKPLUG_PREFIX)], time.monotonic()
        )
        self._ask_rebirth(outcome.rebirths)
        self.metrics.sparkplug_sessions.set(self.host.sessions)
        return parsed, dead, outcome

    def _ask_rebirth(self, nodes: list[tuple[str, str]]) -> None:
        """NCMD `Node Control/Rebirth` to edge nodes whose messages could not be read for sure."""
        source = self.source
        for group, edge_node in nodes:
            payload = rebirth_payload(time.time_ns() // 1_000_000)
            if source is not None and source.publish(rebirth_topic(group, edge_node), payload, retain=False):
                self.metrics.sparkplug_rebirths.inc()
                log.info("asked Sparkplug edge node %s/%s for a rebirth", group, edge_node)
            else:
                log.warning("rebirth request to %s/%s not sent: not connected", group, edge_node)

    async def _collect(self, stop: asyncio.Event) -> list[Any]:
        b, source = self.settings.batch, self.inbox
        assert source is not None
        batch = list(await source.take(b.max_messages, 0.5))
        if not batch:
            return batch
        rows = sum(len(d.payload) for d in batch) // _BYTES_PER_SAMPLE
        deadline = time.monotonic() + b.max_age_ms / 1000
        while len(batch) < b.max_messages and rows < b.max_rows and not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = await source.take(b.max_messages - len(batch), remaining)
            if not more:
                break
            batch += more
            rows += sum(len(d.payload) for d in more) // _BYTES_PER_SAMPLE
        self.metrics.queue_depth.set(source.depth())
        return batch

    async def _commit(
        self, store: Store, idle: asyncio.Queue[Store], batch: list[Any], messages: list[Message],
        prepared: Prepared, after: asyncio.Task[bool] | None, stop: asyncio.Event,
    ) -> bool:  # fmt: skip
        """Store then acknowledge (after the batch before it); False if stopped before committing."""
        delay = 0.2
        try:
            while True:
                started = time.perf_counter()
                try:
                    result = await asyncio.to_thread(self._write, messages, prepared, store)
                    break
                except DatabaseUnavailableError as exc:
                    self.metrics.db_reconnects.inc()
                    log.warning("database unavailable, retrying in %.1fs: %s", delay, exc)
                    try:
                        await asyncio.wait_for(stop.wait(), delay)
                        return False
                    except TimeoutError:
                        delay = min(delay * 2, 5.0)
        finally:
            idle.put_nowait(store)
        self._count(result, time.perf_counter() - started)
        if after is not None:
            await asyncio.wait([after])  # acknowledge in the order received
        assert self.inbox is not None
        self.inbox.ack(batch)
        if self.acknowledger is not None:
            self.acknowledger.committed(result.gateways)
        return True

    def _count(self, result: BatchResult, seconds: float) -> None:
        """The metrics of one committed batch."""
        m = self.metrics
        m.batch_seconds.observe(seconds)
        m.stored_rows.inc(result.rows + result.text_rows)
        m.stored_envelopes.inc(result.envelopes_new)
        m.duplicates.inc(result.duplicates + result.sparkplug_duplicates)
        m.seq_reuse.inc(result.seq_reuse)
        m.repeated_readings.inc(result.repeats)
        m.conflicting_readings.inc(result.conflicts)
        for letter in result.dead_letters:
            m.dead_letters.labels(reason_of(letter.error)).inc()
        for (site, gw), n in result.envelopes_by_gateway.items():
            m.gateway_envelopes.labels(site, gw).inc(n)
        for (site, gw), n in result.samples_by_gateway.items():
            m.gateway_samples.labels(site, gw).inc(n)
        committed = time.time_ns()
        for sent in result.sent:
            m.ingest_lag.observe(max(0, committed - sent) / 1e9)

    def _write(
        self, messages: Sequence[Message], prepared: Prepared | None = None, store: Store | None = None
    ) -> BatchResult:
        store = store or self.store
        try:
            if prepared is None:
                return store.write(messages)
            parsed, dead, outcome = prepared
            result = store.write_parsed(parsed, dead, sparkplug=outcome)
            result.messages = len(messages)
            if outcome is not None:
                result.sparkplug_duplicates = outcome.duplicates
            return result
        except DatabaseUnavailableError:
            raise
        except Exception as exc:
            # Refused by the database (or an internal error) for one message of the batch: find it,
            # record it as a dead letter and move on, so one message can never stall ingest.
            if len(messages) == 1:
                return self._store_refused(messages[0], exc, store)
            log.warning("batch refused (%s); storing its %d messages one by one", exc, len(messages))
            total = BatchResult(messages=len(messages))
            outcome = prepared[2] if prepared is not None else None
            for msg in messages:
                if outcome is None or not msg.topic.startswith(SPARKPLUG_PREFIX):
                    total.add(self._write([msg], None, store))
            if outcome is not None:  # interpreted once, in order: stored one by one as interpreted
                total.sparkplug_duplicates += outcome.duplicates
                for item in outcome.interpreted:
                    one = Outcome(interpreted=[item])
                    total.add(self._write([Message(item.topic, item.payload)], ([], [], one), store))
                for refused in outcome.refused:
                    one = Outcome(refused=[refused])
                    total.add(
                        self._write(
                            [Message(refused.letter.topic, refused.letter.payload)], ([], [], one), store
                        )
                    )
                if outcome.saved or outcome.forgotten:  # after the messages they follow
                    sessions = Outcome(saved=outcome.saved, forgotten=outcome.forgotten)
                    try:
                        total.add(store.write_parsed([], [], sparkplug=sessions))
                    except DatabaseUnavailableError:
                        raise
                    except Exception as again:  # kept in memory; a restart would ask for rebirths
                        log.error("Sparkplug sessions not saved: %s", again)
            return total

    def _store_refused(self, msg: Message, exc: Exception, store: Store) -> BatchResult:
        why = f"could not be stored: {type(exc).__name__}: {' '.join(str(exc).split())}"
        log.error("message on %r %s", msg.topic[:200], why)
        letter = dead_letter(
            msg.topic, msg.payload, why, store.limits, msg.size, identify(msg.topic, msg.payload)
        )
        try:
            result = store.write_parsed([], [letter])
        except DatabaseUnavailableError:
            raise
        except Exception as again:  # not even the dead letter: keep its reason without the payload
            log.error("dead letter refused too (%s); storing it without its payload", again)
            bare = DeadLetter(repr(msg.topic)[:1000], b"", f"{why}; dead letter refused: {again}"[:4000])
            try:
                result = store.write_parsed([], [bare])
            except DatabaseUnavailableError:
                raise
            except Exception as last:  # the database refuses plain text: say so, and go on
                log.error(
                    "message on %r lost: not even its reason could be stored: %s", msg.topic[:200], last
                )
                return BatchResult(messages=1)
        result.gateways |= {(wire.parse_topic(msg.topic).site, letter.gw)} if letter.gw else set()
        return result


async def run(settings: CollectorSettings, stop: asyncio.Event | None = None) -> None:
    metrics = Metrics()
    if settings.metrics_port is not None:
        metrics.serve(settings.metrics_host, settings.metrics_port)
    await Pipeline(settings, metrics).run(stop or asyncio.Event())
