"""The gateway process: supervised device tasks → edge → batcher → spool → publisher; commands; metrics.

Data path: readings → edge processing → batcher → envelope (never larger than the broker accepts)
numbered with the next seq → spool (committed) → publisher (seq order, bounded window) → broker;
deleted from the spool once a collector's `$stored` watermark covers it (or on PUBACK, with
`spool.delete_on: puback`). When the spool overflows, what it dropped is declared on `$dropped`.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from adapters import registry
from adapters.base import Connection, RawReading
from adapters.errors import AdapterError
from gateway.batcher import Batcher
from gateway.commands import CommandHandler
from gateway.config import GatewayConfig
from gateway.edge import EdgeProcessor, Sample
from gateway.envelopes import Envelopes
from gateway.errors import GatewayConfigError
from gateway.metrics import GatewayMetrics
from gateway.notices import UnmappedStates
from gateway.publisher import Publisher
from gateway.sparkplug import SparkplugNode, Write
from gateway.spool import AsyncSpool, Builder
from gateway.stopping import cancel_all
from infra.mqtt import Will
from infra.mqtt.aio import AsyncMqttClient
from wire import (
    STATUS_OFFLINE,
    STATUS_ONLINE,
    Dropped,
    WireError,
    decode_stored,
    device_filter,
    encode_ack,
    gateway_filter,
    gateway_topic,
    status_topic,
)

log = logging.getLogger("plantproof.gateway")
MONITOR_INTERVAL_S = 0.5
SUPERVISOR_BACKOFF_MAX_S = 30.0
MAX_CONCURRENT_COMMANDS = 16  # beyond this, incoming commands wait in the (bounded) MQTT queue


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        connect_devices: bool = True,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.config = config
        self.gw = config.gateway_id
        self.metrics = metrics or GatewayMetrics()
        self.connect_devices = connect_devices
        self.edge = {d.id: EdgeProcessor(d.device_type, d.edge) for d in config.devices}
        self.batcher = Batcher(config.batch.max_samples, config.batch.max_age_s)
        self.connections: dict[str, Connection] = {}
        self.started = asyncio.Event()
        self.metrics_port: int | None = None
        self.confirm = config.spool.delete_on == "stored"
        self.publisher: Publisher | None = None
        self._born: set[str] = set()
        self._dropped_seen = 0
        self._overflowing = False
        self._down_since: dict[str, float] = {}
        self._reported_down: set[str] = set()  # devices whose death was published, until good again
        self._unmapped = UnmappedStates()
        self._types = {d.id: d.device_type for d in config.devices}
        self._spool: AsyncSpool | None = None
        self._client: AsyncMqttClient | None = None
        self.node = SparkplugNode(config) if config.mqtt.format == "sparkplug" else None
        self.envelopes = Envelopes(config, self.metrics)

    @property
    def spool(self) -> AsyncSpool:
        assert self._spool is not None, "the gateway is not running"
        return self._spool

    @property
    def client(self) -> AsyncMqttClient:
        assert self._client is not None, "the gateway is not running"
        return self._client

    # --- data path -------------------------------------------------------------------------------
    async def ingest(self, dev: str, readings: Sequence[RawReading]) -> None:
        """The adapters' sink; awaiting it applies backpressure while a full batch is committed."""
        edge = self.edge.get(dev)
        if edge is None:
            raise GatewayConfigError(f"readings for unknown device {dev!r}")
        self._unmapped.check(dev, self._types[dev], readings)
        suppressed = edge.suppressed
        samples = edge.process(readings, time.time_ns())
        self.metrics.points_read.labels(dev).inc(len(readings))
        self.metrics.points_suppressed.labels(dev).inc(edge.suppressed - suppressed)
        await self._publish(dev, samples)

    async def _publish(self, dev: str, samples: list[Sample]) -> None:
        if not samples:
            return
        builders: list[Builder] = []
        if dev not in self._born:
            self._born.add(dev)
            builders.append(self.envelopes.birth(dev))
            builders.extend(b for d, s in self.batcher.drain_device(dev) for b in self.envelopes.data(d, s))
        builders.extend(
            b for d, s in self.batcher.add(dev, samples, time.monotonic()) for b in self.envelopes.data(d, s)
        )
        if builders:
            await self.spool.append(builders)

    async def flush(self, everything: bool = False) -> None:
        """Write batches that reached their age (or all of them) to the spool."""
        ready = self.batcher.drain() if everything else self.batcher.due(time.monotonic())
        if ready:
            await self.spool.append([b for d, s in ready for b in self.envelopes.data(d, s)])

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(min(self.config.batch.max_age_s / 2, 1.0))
            await self.flush()

    # --- devices ---------------------------------------------------------------------------------
    async def _supervise(self, dev: str, connection: Connection) -> None:
        backoff = 1.0
        while True:
            try:
                await connection.run(self.ingest)
                log.warning("device %s: connection task ended; restarting", dev)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("device %s: connection task failed; restarting in %.0f s", dev, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, SUPERVISOR_BACKOFF_MAX_S)

    async def _monitor(self) -> None:
        while True:
            now = time.monotonic()
            for dev, connection in self.connections.items():
                status = connection.status
                self.metrics.observe_link(dev, status)
                if status.connected and not status.stale:  # stale: no good read since (re)connecting
                    self._down_since.pop(dev, None)
                    self._reported_down.discard(dev)
                    self.metrics.observe_down(dev, 0.0, None)
                    # the heartbeat, on the gateway's clock: only while the link is healthy
                    await self._publish(dev, self.edge[dev].heartbeat(time.time_ns()))
                    continue
                since = self._down_since.setdefault(dev, now)
                self.metrics.observe_down(dev, now - since, status.reason or "no_data")
                if dev not in self._reported_down and now - since >= self.config.link_lost_after_s:
                    await self._report_down(dev, now - since, status.last_error or "link down")
            stats = self.spool.stats()
            self._watch_overflow(stats.dropped, stats.bytes)
            self.metrics.observe_spool(stats, self.config.spool.max_bytes)
            self.metrics.mqtt_connected.set(1 if self.client.connected.is_set() else 0)
            self.metrics.mqtt_inflight.set(self.client.inflight)
            client = self.client
            self.metrics.observe_client(client.connects, client.auth_failures, client.incoming_dropped)
            self.metrics.batch_queue.set(self.batcher.pending)
            await asyncio.sleep(MONITOR_INTERVAL_S)

    async def _report_down(self, dev: str, down_s: float, reason: str) -> None:
        """A death with the reason; a device never seen is announced first, so its state shows."""
        self._reported_down.add(dev)
        builders: list[Builder] = []
        if dev in self._born:
            self._born.discard(dev)
            builders += [b for d, s in self.batcher.drain_device(dev) for b in self.envelopes.data(d, s)]
            log.warning("device %s lost for %.0f s: %s", dev, down_s, reason)
        else:
            builders.append(self.envelopes.birth(dev))
            log.warning("device %s: no data for %.0f s since start: %s", dev, down_s, reason)
        self.edge[dev].forget(time.time_ns())
        await self.spool.append([*builders, self.envelopes.death(dev, reason)])

    def _watch_overflow(self, dropped: int, size: int) -> None:
        """An overflow episode runs from the first drop until the spool is half empty again."""
        max_bytes = self.config.spool.max_bytes
        if dropped > self._dropped_seen:
            # counted from what the spool held at start: drops of an earlier run are not counted again
            self.metrics.spool_dropped.inc(dropped - self._dropped_seen)
            if not self._overflowing:
                # the drops may take a birth with them: announce every device again, once per episode
                self._overflowing = True
                self._born.clear()
                self.metrics.overflow_episodes.inc()
                log.warning("spool full (%d bytes): dropping the oldest envelopes", max_bytes)
            self._dropped_seen = dropped
            declaration = self._dropped_declaration()
            if declaration is not None and self.client.connected.is_set():
                self.client.publish(*declaration)  # retained; sent again on every connect
        elif self._overflowing and size <= max_bytes // 2:
            self._overflowing = False
            log.warning("spool overflow over: %d envelopes dropped in all", dropped)

    def _dropped_declaration(self) -> tuple[str, bytes, bool] | None:
        stats = self.spool.stats()
        if not self.confirm or stats.dropped_through < 0:
            return None
        message = Dropped(self.gw, stats.dropped_through, stats.dropped, time.time_ns())
        return gateway_topic(self.config.site, self.gw, "$dropped"), encode_ack(message), True

    def _on_connect_publish(self) -> list[tuple[str, bytes, bool]]:
        """Sent from paho's thread on every connect: `online`, and what the spool dropped."""
        if self.node is not None:
            return []  # Sparkplug: the publisher sends the births first on every session
        declaration = self._dropped_declaration()
        status = (status_topic(self.config.site, self.gw), STATUS_ONLINE, True)
        return [status] if declaration is None else [status, declaration]

    def _on_stored(self, payload: bytes) -> None:
        try:
            stored = decode_stored(payload)
        except WireError as exc:
            log.warning("ignored an invalid $stored message: %s", exc)
            return
        next_seq = self.spool.stats().next_seq
        if stored.gw != self.gw or stored.seq >= next_seq:
            log.warning("ignored $stored %d for %s: this gateway has numbered up to %d only (a new spool?)",
                        stored.seq, stored.gw, next_seq - 1)  # fmt: skip
            return
        if self.publisher is not None:
            self.publisher.confirmed(stored.seq)

    # --- commands --------------------------------------------------------------------------------
    async def _commands(self) -> None:
        handler = CommandHandler(self.config, self.connections)
        slots = asyncio.Semaphore(MAX_CONCURRENT_COMMANDS)
        running: set[asyncio.Task[None]] = set()

        async def answer(topic: str, payload: bytes) -> None:
            try:
                reply = await handler.handle(topic, payload)
                self.client.publish(reply.topic, reply.payload)  # not spooled: a lost answer is re-asked
                self.metrics.commands.labels(reply.op, str(reply.result.ok).lower()).inc()
            finally:
                slots.release()

        stored_topic = gateway_topic(self.config.site, self.gw, "$stored")
        try:
            async for message in self.client:
                if message.topic == stored_topic:
                    self._on_stored(message.payload)
                    continue
                if self.node is not None and self.node.owns(message.topic):
                    order = self.node.command(message.topic, message.payload, self.client.connects)
                    if order.end_session:
                        await self.client.end_session(self.node.ndeath())
                    if order.rebirth and self.publisher is not None:
                        self.publisher.rebirth()
                    for write in order.writes:
                        await slots.acquire()
                        task = asyncio.create_task(self._dcmd(handler, write, slots))
                        running.add(task)
                        task.add_done_callback(running.discard)
                    continue
                await slots.acquire()  # a slow write does not hold up a ping, within the bound
                task = asyncio.create_task(answer(message.topic, message.payload))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in list(running):
                task.cancel()

    async def _dcmd(self, handler: CommandHandler, write: Write, slots: asyncio.Semaphore) -> None:
        """A Sparkplug DCMD write: write_setpoint with read-back; what the device holds goes out as data."""
        try:
            result = await handler.write(write.dev, write.point, write.value, "sparkplug-dcmd")
            self.metrics.commands.labels("dcmd", str(result.ok).lower()).inc()
            if not result.ok or result.result is None:
                log.warning("DCMD %s.%s = %r refused: %s", write.dev, write.point, write.value, result.error)
                return
            held = RawReading(write.point, time.time_ns(), result.result["raw"])
            await self.ingest(write.dev, [held])
        finally:
            slots.release()

    # --- lifecycle -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until cancelled; on cancellation flush, publish `$status offline` and close."""
        config = self.config
        self._spool = AsyncSpool(config.spool.path, config.spool.max_bytes)
        self._dropped_seen = self._spool.stats().dropped
        status = status_topic(config.site, self.gw)
        subscriptions = [device_filter("cmd", config.site, self.gw)]
        if self.confirm:
            subscriptions.append(gateway_filter("$stored", config.site, self.gw))
        node = self.node
        if node is not None:
            subscriptions.extend(node.subscriptions())
        self._client = AsyncMqttClient(
            config.mqtt,
            config.mqtt.client_id or f"plantproof-{config.site}-{self.gw}",
            will=Will(status, STATUS_OFFLINE) if node is None else None,
            subscriptions=tuple(subscriptions),
            on_connect_publish=self._on_connect_publish,
            max_inflight=config.mqtt.max_inflight,
            reconnect_s=(config.mqtt.reconnect_min_s, config.mqtt.reconnect_max_s),
            will_for_connect=None if node is None else node.will_for_connect,  # NDEATH with bdSeq
            fresh_sessions=node is not None,
        )
        if config.metrics.port is not None:
            self.metrics_port = self.metrics.serve(config.metrics.host, config.metrics.port)
        if self.connect_devices:
            for device in config.devices:
                try:
                    connection = registry.get(device.protocol).factory(device.instance())
                except AdapterError as exc:
                    raise GatewayConfigError(f"device {device.id}: {exc}") from None
                self.connections[device.id] = connection
        publisher = Publisher(
            self._spool,
            self._client,
            config.mqtt.max_inflight,
            self.metrics,
            confirm=self.confirm,
            resend_after_s=config.spool.resend_after_s,
            framer=node,
        )
        self.publisher = publisher
        self._client.start()
        tasks = [
            asyncio.create_task(publisher.run(), name="publisher"),
            asyncio.create_task(self._flusher(), name="flusher"),
            asyncio.create_task(self._monitor(), name="monitor"),
            asyncio.create_task(self._commands(), name="commands"),
        ]
        tasks += [
            asyncio.create_task(self._supervise(dev, conn), name=f"device {dev}")
            for dev, conn in self.connections.items()
        ]
        self.started.set()
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a fatal error (the spool cannot be written) ends the gateway
        finally:
            await cancel_all(tasks)
            await self._shutdown()

    async def _shutdown(self) -> None:
        for dev, connection in self.connections.items():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5.0)
            log.debug("device %s closed", dev)
        with contextlib.suppress(Exception):
            await self.flush(everything=True)
        status = status_topic(self.config.site, self.gw)
        final = (status, STATUS_OFFLINE, True) if self.node is None else self.node.ndeath()
        await self.client.stop(final=final)
        await self.spool.close()
        self.metrics.close()
