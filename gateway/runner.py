"""The gateway process: supervised device tasks → edge → batcher → spool → publisher; commands; metrics.

Data path: readings → edge processing → batcher → envelope numbered with the next seq → spool
(committed) → publisher (seq order, bounded window) → broker; deleted from the spool on PUBACK.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from adapters import registry
from adapters.base import Connection, RawReading
from adapters.errors import AdapterError
from gateway import births
from gateway.batcher import Batcher
from gateway.commands import CommandHandler
from gateway.config import GatewayConfig
from gateway.edge import EdgeProcessor, Sample
from gateway.errors import GatewayConfigError
from gateway.metrics import GatewayMetrics
from gateway.mqtt import MqttClient, Will
from gateway.publisher import Publisher
from gateway.spool import AsyncSpool, Builder, Built
from wire import STATUS_OFFLINE, STATUS_ONLINE, Data, device_topic, encode, status_topic, subscription

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
        self._born: set[str] = set()
        self._dropped_seen = 0
        self._down_since: dict[str, float] = {}
        self._spool: AsyncSpool | None = None
        self._client: MqttClient | None = None

    @property
    def spool(self) -> AsyncSpool:
        assert self._spool is not None, "the gateway is not running"
        return self._spool

    @property
    def client(self) -> MqttClient:
        assert self._client is not None, "the gateway is not running"
        return self._client

    # --- data path -------------------------------------------------------------------------------
    def _data(self, dev: str, samples: list[Sample]) -> Builder:
        topic = device_topic(self.config.site, self.gw, dev, "data")

        def build(seq: int) -> Built:
            envelope = Data(gw=self.gw, dev=dev, seq=seq, sent=time.time_ns(), samples=samples)
            return Built(topic, encode(envelope), False, dev, len(samples))

        return build

    def _birth(self, dev: str) -> Builder:
        device = self.config.device(dev)
        assert device is not None
        topic = device_topic(self.config.site, self.gw, dev, "birth")

        def build(seq: int) -> Built:
            return Built(topic, encode(births.birth(self.gw, device, seq, time.time_ns())), True, dev)

        return build

    def _death(self, dev: str, reason: str) -> Builder:
        topic = device_topic(self.config.site, self.gw, dev, "death")

        def build(seq: int) -> Built:
            return Built(topic, encode(births.death(self.gw, dev, seq, time.time_ns(), reason)), False, dev)

        return build

    async def ingest(self, dev: str, readings: Sequence[RawReading]) -> None:
        """The adapters' sink; awaiting it applies backpressure while a full batch is committed."""
        edge = self.edge.get(dev)
        if edge is None:
            raise GatewayConfigError(f"readings for unknown device {dev!r}")
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
            builders.append(self._birth(dev))
            builders.extend(self._data(d, s) for d, s in self.batcher.drain_device(dev))
        builders.extend(self._data(d, s) for d, s in self.batcher.add(dev, samples, time.monotonic()))
        if builders:
            await self.spool.append(builders)

    async def flush(self, everything: bool = False) -> None:
        """Write batches that reached their age (or all of them) to the spool."""
        ready = self.batcher.drain() if everything else self.batcher.due(time.monotonic())
        if ready:
            await self.spool.append([self._data(d, s) for d, s in ready])

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
                    # the heartbeat, on the gateway's clock: only while the link is healthy
                    await self._publish(dev, self.edge[dev].heartbeat(time.time_ns()))
                    continue
                since = self._down_since.setdefault(dev, now)
                if dev in self._born and now - since >= self.config.link_lost_after_s:
                    self._born.discard(dev)
                    self.edge[dev].forget(time.time_ns())
                    reason = status.last_error or "link down"
                    log.warning("device %s lost for %.0f s: %s", dev, now - since, reason)
                    pending = [self._data(d, s) for d, s in self.batcher.drain_device(dev)]
                    await self.spool.append([*pending, self._death(dev, reason)])
            stats = self.spool.stats()
            if stats.dropped > self._dropped_seen:
                # the overflow may have taken a birth with it: announce every device again
                log.warning("spool full: %d envelopes dropped so far", stats.dropped)
                self._dropped_seen = stats.dropped
                self._born.clear()
            self.metrics.observe_spool(stats, self.config.spool.max_bytes)
            self.metrics.mqtt_connected.set(1 if self.client.connected.is_set() else 0)
            self.metrics.mqtt_inflight.set(self.client.inflight)
            self.metrics.mqtt_auth_failures.set(self.client.auth_failures)
            self.metrics.mqtt_incoming_dropped.set(self.client.incoming_dropped)
            self.metrics.batch_queue.set(self.batcher.pending)
            await asyncio.sleep(MONITOR_INTERVAL_S)

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

        try:
            while True:
                message = await self.client.incoming.get()
                await slots.acquire()  # a slow write does not hold up a ping, within the bound
                task = asyncio.create_task(answer(message.topic, message.payload))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            for task in list(running):
                task.cancel()

    # --- lifecycle -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until cancelled; on cancellation flush, publish `$status offline` and close."""
        config = self.config
        self._spool = AsyncSpool(config.spool.path, config.spool.max_bytes)
        status = status_topic(config.site, self.gw)
        self._client = MqttClient(
            config.mqtt,
            config.mqtt.client_id or f"plantproof-{config.site}-{self.gw}",
            will=Will(status, STATUS_OFFLINE),
            subscriptions=(subscription(config.site, self.gw).removesuffix("#") + "+/cmd",),
            on_connect_publish=((status, STATUS_ONLINE, True),),
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
        publisher = Publisher(self._spool, self._client, config.mqtt.max_inflight, self.metrics)
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
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._shutdown()

    async def _shutdown(self) -> None:
        for dev, connection in self.connections.items():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5.0)
            log.debug("device %s closed", dev)
        with contextlib.suppress(Exception):
            await self.flush(everything=True)
        status = status_topic(self.config.site, self.gw)
        await self.client.stop(final=(status, STATUS_OFFLINE, True))
        await self.spool.close()
        self.metrics.close()
