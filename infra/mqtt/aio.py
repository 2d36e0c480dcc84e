"""An asyncio MQTT client: paho-mqtt 2.x bridged into asyncio, the way aiomqtt does it.

`async with AsyncMqttClient(...) as client:` connects in the background (and reconnects with
backoff), `await client.publish(...)` completes on PUBACK, `async for message in client` yields
what arrives on the subscriptions, which are renewed on every connect.

paho runs its network loop on its own thread and reconnects there with exponential backoff; its
callbacks only hand results to the event loop with `loop.call_soon_threadsafe`: a PUBACK completes
the publish's future, CONNACK sets or clears `connected`, an incoming message goes into a bounded
queue. Unacknowledged QoS 1 messages stay in paho's session and are re-sent (DUP) after a reconnect,
so a future outlives a broker outage and completes once the broker acknowledges.

With `fresh_sessions` (Sparkplug B, whose messages are numbered per MQTT session) nothing crosses
from one connection to the next: before every CONNECT what paho still held is dropped and its
publishes fail, for the caller to send again, renumbered, after its births. `will_for_connect`
gives the Will of each CONNECT (Sparkplug's NDEATH carries a bdSeq that changes per connection);
after an attempt that never reached the broker (no CONNECT sent) the Will it had stays.
`end_session` ends a session as an orderly stop does (a last message, DISCONNECT) and connects
again: a Sparkplug edge node does so when its primary host goes offline.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from infra.mqtt.clients import Will, new_client
from infra.mqtt.endpoint import MqttEndpoint, MqttError

log = logging.getLogger("plantproof.mqtt")


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes


class AsyncMqttClient:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        *,
        will: Will | None = None,
        subscriptions: tuple[str, ...] = (),
        on_connect_publish: Callable[[], Sequence[tuple[str, bytes, bool]]] = tuple,
        incoming_limit: int = 1000,
        max_inflight: int = 100,
        reconnect_s: tuple[float, float] = (1.0, 30.0),
        will_for_connect: Callable[[], Will] | None = None,
        fresh_sessions: bool = False,
    ) -> None:
        self.endpoint = endpoint
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
        client = new_client(
            endpoint, client_id, will=will, max_inflight=max_inflight, reconnect_s=reconnect_s
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        self._will_for_connect = will_for_connect
        self._fresh_sessions = fresh_sessions
        self._will_unsent = False  # the last attempt failed before its CONNECT went out
        if will_for_connect is not None or fresh_sessions:
            client.on_pre_connect = self._on_pre_connect
        self._client = client

    # --- paho thread -----------------------------------------------------------------------------
    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            message = f"broker {self.endpoint.host}:{self.endpoint.port} refused the connection: {rc}"
            self._loop.call_soon_threadsafe(self._refused, message, rc.value in (4, 5, 134, 135))
            return
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        for topic, payload, retain in self._on_connect_publish():
            info = client.publish(topic, payload, qos=1, retain=retain)
            with self._lock:
                self._own.add(info.mid)
        self._loop.call_soon_threadsafe(self._up)

    def _on_pre_connect(self, client: paho.Client, _u: Any) -> None:
        if self._will_for_connect is not None and not self._will_unsent:
            will = self._will_for_connect()
            client.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        self._will_unsent = False
        if not self._fresh_sessions:
            return
        # paho keeps no public way to drop its session: its queue is cleared under its own lock
        with client._out_message_mutex:
            dropped = len(client._out_messages)
            client._out_messages.clear()
            client._inflight_messages = 0
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
            self._early.clear()
            self._own.clear()
        if pending or dropped:
            self._loop.call_soon_threadsafe(_fail, pending)

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self._loop.call_soon_threadsafe(self._down, str(rc))

    def _on_connect_fail(self, _c: paho.Client, _u: Any) -> None:
        self._will_unsent = True
        self._loop.call_soon_threadsafe(
            self._down, f"cannot reach broker {self.endpoint.host}:{self.endpoint.port}"
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
        log.info("connected to %s:%s", self.endpoint.host, self.endpoint.port)

    def _down(self, reason: str) -> None:
        if self.connected.is_set() and not self._stopping:
            log.warning("disconnected from %s:%s: %s", self.endpoint.host, self.endpoint.port, reason)
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
        self._client.connect_async(
            self.endpoint.host, self.endpoint.port, keepalive=self.endpoint.keepalive_s
        )
        self._client.loop_start()

    async def __aenter__(self) -> AsyncMqttClient:
        self.start()
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.stop()

    def __aiter__(self) -> AsyncIterator[Incoming]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Incoming]:
        while True:
            yield await self.incoming.get()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> asyncio.Future[None]:
        """Hand a QoS 1 message to paho; the future completes on PUBACK."""
        future: asyncio.Future[None] = self._loop.create_future()
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            future.set_exception(MqttError(f"publish to {topic} failed: {paho.error_string(info.rc)}"))
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

    async def end_session(self, final: tuple[str, bytes, bool], grace_s: float = 5.0) -> None:
        """End this MQTT session as an orderly stop does (publish `final`, DISCONNECT, so no Will),
        then connect again: a new session, with `will_for_connect` asked again."""
        if self.connected.is_set():
            try:
                await asyncio.wait_for(self.publish(*final), grace_s)
            except (TimeoutError, MqttError):
                log.warning("could not publish %s before disconnecting", final[0])
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self.connected.clear()
        self.start()

    async def stop(self, final: tuple[str, bytes, bool] | None = None, grace_s: float = 5.0) -> None:
        """Publish a last message (e.g. `$status offline`) if connected, disconnect, stop the thread."""
        self._stopping = True
        if final is not None and self.connected.is_set():
            try:
                await asyncio.wait_for(self.publish(*final), grace_s)
            except (TimeoutError, MqttError):
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


def _fail(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(MqttError("the MQTT session ended before the broker acknowledged"))


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
