"""The manual-ack subscriber: paho-mqtt 2.x, MQTT 5, a persistent session, bridged to asyncio.

Messages are acknowledged by `ack()` only, after their rows are committed. The broker bounds what
is in flight to us by our Receive Maximum; the source bounds what it holds (queued or in a batch not
yet acknowledged) by a byte budget as well. A message beyond either bound is not acknowledged and
not kept (counted): it stays in our session on the broker, and once everything held is acknowledged
the source reconnects so that the broker sends it again. So when the database is down memory stays
within the budget and the broker keeps the backlog. A payload larger than the accepted maximum is
kept only as far as its dead letter needs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from infra.mqtt.clients import new_client
from infra.mqtt.endpoint import MqttEndpoint

log = logging.getLogger("plantproof.mqtt")
_MAIN, _DIRECT = 1, 2  # MQTT 5 subscription identifiers


@dataclass(frozen=True, slots=True)
class Delivery:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int  # connection the message came on: a mid means nothing on another one
    size: int | None = None  # size on the wire when `payload` keeps only the beginning (oversized)


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class _Gauge(Protocol):
    def set(self, value: float) -> None: ...


class SubscriberMetrics(Protocol):
    """What the subscriber counts (Prometheus counters and a gauge satisfy it)."""

    @property
    def received(self) -> _Counter: ...
    @property
    def dropped(self) -> _Counter: ...
    @property
    def mqtt_connects(self) -> _Counter: ...
    @property
    def overflow_reconnects(self) -> _Counter: ...
    @property
    def queue_bytes(self) -> _Gauge: ...


@dataclass(frozen=True, slots=True)
class Presence:
    """A retained QoS 1 message saying whether this client is connected (a Sparkplug host's STATE):
    `payload(online, connect_ms)`. The Will says offline with the time of the CONNECT, the message
    published after each connection online with the same time; a clean stop publishes offline."""

    topic: str
    payload: Callable[[bool, int], bytes]


@dataclass(frozen=True, slots=True)
class Session:
    """The persistent session: who we are and what we subscribe."""

    client_id: str
    topics: tuple[str, ...]
    # Processes sharing a group split `$share/<group>/<topic>`; retained messages are never sent on
    # a shared subscription, so `retained_topics` are then also subscribed directly.
    group: str | None = None
    retained_topics: tuple[str, ...] = ()
    session_expiry_s: int = 7 * 24 * 3600
    receive_maximum: int = 20_000
    presence: Presence | None = None


@dataclass(frozen=True, slots=True)
class Budget:
    """What the source may hold in memory."""

    messages: int
    bytes: int
    max_payload: int  # larger payloads are kept only up to `keep_oversized` bytes
    keep_oversized: int


class ManualAckSubscriber:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        session: Session,
        loop: asyncio.AbstractEventLoop,
        metrics: SubscriberMetrics,
        budget: Budget,
    ) -> None:
        self.endpoint = endpoint
        self.session = session
        self.loop = loop
        self.metrics = metrics
        self.budget = budget
        self.generation = 0
        self.connected = asyncio.Event()
        self._lock = threading.Lock()
        # Filled by the paho thread, drained by take(); the loop is woken only when it was empty.
        self._buffer: deque[Delivery] = deque()
        self._held = 0  # payload bytes received and not yet acknowledged (queued or in a batch)
        self._overflowed = False  # a message was left unacknowledged: reconnect once all is acked
        self._reconnecting: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._connect_ms = 0  # the time the presence Will of the next (or current) connection names
        self.client = self._client()

    def _client(self) -> mqtt.Client:
        c = new_client(
            self.endpoint,
            self.session.client_id,
            mqtt5=True,
            manual_ack=True,
            max_inflight=self.session.receive_maximum,
            reconnect_s=(1.0, 10.0),
        )
        self._set_will(c)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        return c

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session.session_expiry_s
        props.ReceiveMaximum = self.session.receive_maximum
        self.client.connect_async(
            self.endpoint.host,
            self.endpoint.port,
            self.endpoint.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def _set_will(self, client: mqtt.Client) -> None:
        presence = self.session.presence
        if presence is not None:
            self._connect_ms = time.time_ns() // 1_000_000
            client.will_set(presence.topic, presence.payload(False, self._connect_ms), qos=1, retain=True)

    def stop(self) -> None:
        presence = self.session.presence
        if presence is not None and self.connected.is_set():  # a clean disconnect sends no Will
            info = self.client.publish(
                presence.topic, presence.payload(False, self._connect_ms), qos=1, retain=True
            )
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                info.wait_for_publish(2.0)
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool = True) -> bool:
        """QoS 1 publish (the `$stored` watermarks); False when not connected (the caller retries)."""
        if not self.connected.is_set():
            return False
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        """Acknowledge committed messages of the current connection; returns how many were acked."""
        acked = 0
        with self._lock:
            generation = self.generation
            self._held -= sum(len(d.payload) for d in deliveries)
            resend = self._overflowed and self._held <= 0 and not self._buffer
        for d in deliveries:
            # Messages of an older connection are redelivered by the broker; the ledger skips them.
            if d.qos > 0 and d.generation == generation:
                self.client.ack(d.mid, d.qos)
                acked += 1
        self.metrics.queue_bytes.set(max(self._held, 0))
        if resend and self._reconnecting is None:
            self._reconnecting = self.loop.create_task(self._reconnect())
        return acked

    async def _reconnect(self) -> None:
        """Everything held is acknowledged: reconnect so the broker resends what was left unacked."""
        log.warning("MQTT: reconnecting so that the broker resends the messages beyond the memory budget")
        self.metrics.overflow_reconnects.inc()
        with self._lock:
            self._overflowed = False
            self.generation += 1  # a mid of the old connection must never be acknowledged on the new one
        try:
            await asyncio.to_thread(self._restart)
        finally:
            self._reconnecting = None

    def _restart(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client = self._client()
        self.start()

    # -- paho thread ---------------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT connect refused: %s", reason)
            return
        with self._lock:
            self.generation += 1
        self.metrics.mqtt_connects.inc()
        opts = SubscribeOptions(qos=1)
        s = self.session
        main = Properties(PacketTypes.SUBSCRIBE)
        main.SubscriptionIdentifier = _MAIN
        if not s.topics:
            pass  # a publishing connection only (the collector's Kafka source reads the messages)
        elif s.group is None:
            client.subscribe([(t, opts) for t in s.topics], properties=main)
        else:
            # Retained messages are never sent on a shared subscription: births and $status are also
            # subscribed directly; live copies there are skipped in _on_message (the shared
            # subscription carries them), told apart by subscription identifier.
            client.subscribe([(f"$share/{s.group}/{t}", opts) for t in s.topics], properties=main)
            direct = Properties(PacketTypes.SUBSCRIBE)
            direct.SubscriptionIdentifier = _DIRECT
            client.subscribe([(t, opts) for t in s.retained_topics], properties=direct)
        if s.presence is not None:
            client.publish(s.presence.topic, s.presence.payload(True, self._connect_ms), qos=1, retain=True)
        self.loop.call_soon_threadsafe(self.connected.set)
        log.info("MQTT connected (session present: %s)", flags.session_present)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._lock:
            self.generation += 1  # what came on this connection is redelivered: never ack it later
        self._set_will(_c)  # the next CONNECT's time
        self.loop.call_soon_threadsafe(self.connected.clear)
        log.warning("MQTT disconnected: %s", reason)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        ids = getattr(msg.properties, "SubscriptionIdentifier", None) or []
        direct_only = bool(ids) and _MAIN not in ids
        # a live copy on the direct subscription (the shared one carries it), or a retained
        # message outside the topics this process was given (another group's share): not ours
        if direct_only and (not msg.retain or not self._wanted(msg.topic)):
            if msg.qos:
                client.ack(msg.mid, msg.qos)
            return
        b = self.budget
        size = len(msg.payload)
        if size > b.max_payload:  # refused anyway: keep what its dead letter keeps
            d = Delivery(
                msg.topic, bytes(msg.payload[: b.keep_oversized]), msg.mid, msg.qos, self.generation, size
            )
        else:
            d = Delivery(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self.generation)
        with self._lock:
            if len(self._buffer) >= b.messages or self._held + len(d.payload) > b.bytes:
                # Not acknowledged, not kept: it stays in our session and comes back after the
                # reconnect that follows once all we hold is acknowledged (QoS 0 is lost).
                self._overflowed = True
                self.metrics.dropped.inc()
                return
            self._buffer.append(d)
            self._held += len(d.payload)
            held = self._held
            wake = len(self._buffer) == 1
        self.metrics.queue_bytes.set(held)
        if wake:
            self.loop.call_soon_threadsafe(self._ready.set)

    def _wanted(self, topic: str) -> bool:
        return any(mqtt.topic_matches_sub(t, topic) for t in self.session.topics)

    # -- event loop ----------------------------------------------------------------------------
    def depth(self) -> int:
        return len(self._buffer)

    async def take(self, limit: int, wait_s: float) -> list[Delivery]:
        """Up to `limit` messages, waiting at most `wait_s` for the first."""
        if not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), wait_s)
            except TimeoutError:
                return []
        with self._lock:
            n = min(limit, len(self._buffer))
            out = [self._buffer.popleft() for _ in range(n)]
            if not self._buffer:
                self._ready.clear()
            held = self._held
        self.metrics.received.inc(n)
        self.metrics.queue_bytes.set(held)
        return out
