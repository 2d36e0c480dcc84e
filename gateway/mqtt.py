"""paho-mqtt 2.x bridged into asyncio, the way aiomqtt does it.

paho runs its network loop on its own thread and reconnects there with exponential backoff; its
callbacks only hand results to the event loop with `loop.call_soon_threadsafe`: a PUBACK completes
the publish's future, CONNACK sets or clears `connected`, an incoming message goes into a bounded
queue. Unacknowledged QoS 1 messages stay in paho's session and are re-sent (DUP) after a reconnect,
so a future outlives a broker outage and completes once the broker acknowledges.
"""

import asyncio
import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from gateway.config import MqttConfig
from gateway.errors import BrokerError

log = logging.getLogger("plantproof.gateway.mqtt")


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    retain: bool = True


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes


class MqttClient:
    def __init__(
        self,
        config: MqttConfig,
        client_id: str,
        *,
        will: Will | None = None,
        subscriptions: tuple[str, ...] = (),
        on_connect_publish: Callable[[], Sequence[tuple[str, bytes, bool]]] = tuple,
        incoming_limit: int = 1000,
    ) -> None:
        self.config = config
        self.connected = asyncio.Event()
        self.incoming: asyncio.Queue[Incoming] = asyncio.Queue(maxsize=incoming_limit)
        self.incoming_dropped = 0
        self.last_error: str | None = None
        self.connects = 0
        self.auth_failures = 0
        self._loop = asyncio.get_running_loop()
        self._subscriptions = subscriptions
        self._on_connect_publish = on_connect_publish
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._early: set[int] = set()  # PUBACKs that arrived before their future was registered
        self._own: set[int] = set()  # mids of messages published from the paho thread (no future)
        self._lock = threading.Lock()
        self._stopping = False
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            protocol=paho.MQTTv311,
        )
        client.max_inflight_messages_set(config.max_inflight)
        client.max_queued_messages_set(0)  # bounded by the publisher's window, not here
        client.reconnect_delay_set(
            min_delay=max(1, round(config.reconnect_min_s)), max_delay=max(1, round(config.reconnect_max_s))
        )
        if config.username is not None:
            password = config.password.get_secret_value() if config.password else None
            client.username_pw_set(config.username, password)
        if config.uses_tls:
            self._set_tls(client)
        if will is not None:
            client.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        self._client = client

    def _set_tls(self, client: paho.Client) -> None:
        tls = self.config.tls
        try:
            context = ssl.create_default_context(cafile=str(tls.ca) if tls and tls.ca else None)
            if tls and tls.cert and tls.key:
                context.load_cert_chain(str(tls.cert), str(tls.key))
            if tls and tls.insecure:
                context.check_hostname = False
        except (OSError, ssl.SSLError) as exc:
            raise BrokerError(f"MQTT TLS files: {exc}") from None
        client.tls_set_context(context)

    # --- paho thread -----------------------------------------------------------------------------
    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            message = f"broker {self.config.host}:{self.config.port} refused the connection: {rc}"
            self._loop.call_soon_threadsafe(self._refused, message, rc.value in (4, 5, 134, 135))
            return
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        for topic, payload, retain in self._on_connect_publish():
            info = client.publish(topic, payload, qos=1, retain=retain)
            with self._lock:
                self._own.add(info.mid)
        self._loop.call_soon_threadsafe(self._up)

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self._loop.call_soon_threadsafe(self._down, str(rc))

    def _on_connect_fail(self, _c: paho.Client, _u: Any) -> None:
        self._loop.call_soon_threadsafe(
            self._down, f"cannot reach broker {self.config.host}:{self.config.port}"
        )

    def _on_publish(self, _c: paho.Client, _u: Any, mid: int, _rc: ReasonCode, _p: Any) -> None:
        with self._lock:
            if mid in self._own:
                self._own.discard(mid)
                return
            future = self._pending.pop(mid, None)
            if future is None:
                self._early.add(mid)
                return
        self._loop.call_soon_threadsafe(_resolve, future)

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        self._loop.call_soon_threadsafe(self._deliver, Incoming(message.topic, bytes(message.payload)))

    # --- event loop ------------------------------------------------------------------------------
    def _up(self) -> None:
        self.connects += 1
        self.last_error = None
        self.connected.set()
        log.info("connected to %s:%s", self.config.host, self.config.port)

    def _down(self, reason: str) -> None:
        if self.connected.is_set() and not self._stopping:
            log.warning("disconnected from %s:%s: %s", self.config.host, self.config.port, reason)
        elif reason != self.last_error and not self._stopping and reason.startswith("cannot reach"):
            log.warning("%s; retrying with backoff", reason)
        self.connected.clear()
        if self.last_error is None or not self.last_error.startswith("broker"):
            self.last_error = reason

    def _refused(self, message: str, auth: bool) -> None:
        self.connected.clear()
        if auth:
            self.auth_failures += 1
        if message != self.last_error:
            log.error("%s; retrying with backoff", message)
        self.last_error = message

    def _deliver(self, item: Incoming) -> None:
        try:
            self.incoming.put_nowait(item)
        except asyncio.QueueFull:
            self.incoming_dropped += 1
            log.warning("incoming queue full: dropped a message on %s", item.topic)

    # --- API -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> "asyncio.Future[None]":
        """Hand a QoS 1 message to paho; the future completes on PUBACK."""
        future: asyncio.Future[None] = self._loop.create_future()
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            future.set_exception(BrokerError(f"publish to {topic} failed: {paho.error_string(info.rc)}"))
            return future
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
                future.set_result(None)
            else:
                self._pending[info.mid] = future
        return future

    @property
    def inflight(self) -> int:
        return len(self._pending)

    async def stop(self, final: tuple[str, bytes, bool] | None = None, grace_s: float = 5.0) -> None:
        """Publish a last message (e.g. `$status offline`) if connected, disconnect, stop the thread."""
        self._stopping = True
        if final is not None and self.connected.is_set():
            try:
                await asyncio.wait_for(self.publish(*final), grace_s)
            except (TimeoutError, BrokerError):
                log.warning("could not publish %s before disconnecting", final[0])
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self.connected.clear()
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        for future in pending:
            if not future.done():
                future.cancel()


def _resolve(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)
