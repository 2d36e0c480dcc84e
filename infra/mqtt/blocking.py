"""A threaded MQTT client for command-line tools and simulators (paho's network thread).

`connect` waits for CONNACK, `subscribe` for SUBACK (subscriptions are renewed on reconnect),
`publish` blocks while `window` QoS 1 messages await their PUBACK, and `flush` waits for every
PUBACK and fails loudly if one is missing, so a finished run means the broker has every message.
Incoming messages go to `on_message(topic, payload)` on paho's thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho

from infra.mqtt.clients import Will, new_client
from infra.mqtt.endpoint import MqttEndpoint, MqttError

OnMessage = Callable[[str, bytes], None]


class BlockingMqttClient:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        *,
        window: int = 1000,
        timeout_s: float = 30.0,
        will: Will | None = None,
        on_message: OnMessage | None = None,
    ) -> None:
        if window < 1:
            raise MqttError("the in-flight window must be at least 1")
        self.endpoint = endpoint
        self.window = window
        self.timeout_s = timeout_s
        self.published = 0
        self.acked = 0
        self.peak_inflight = 0
        self._on_message_cb = on_message
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self._error: str | None = None
        self._topics: list[str] = []
        self._subacked: set[int] = set()
        self._client = new_client(endpoint, client_id, will=will, max_inflight=window)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    # --- paho thread -----------------------------------------------------------------------------
    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            self._error = f"broker {self.endpoint.describe()} refused the connection: {rc}"
        else:
            self._error = None
            for topic in self._topics:
                client.subscribe(topic, qos=1)
            self._connected.set()
        with self._cond:
            self._cond.notify_all()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._connected.clear()

    def _on_publish(self, _c: paho.Client, _u: Any, _mid: int, _rc: Any, _p: Any) -> None:
        with self._cond:
            self.acked += 1
            self._cond.notify_all()

    def _on_subscribe(self, _c: paho.Client, _u: Any, mid: int, _rcs: Any, _p: Any) -> None:
        with self._cond:
            self._subacked.add(mid)
            self._cond.notify_all()

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        if self._on_message_cb is not None:
            self._on_message_cb(message.topic, bytes(message.payload))

    # --- API -------------------------------------------------------------------------------------
    def connect(self) -> None:
        where = self.endpoint.describe()
        try:
            self._client.connect(self.endpoint.host, self.endpoint.port, keepalive=self.endpoint.keepalive_s)
        except OSError as exc:
            raise MqttError(f"cannot reach the MQTT broker at {where}: {exc}") from None
        self._client.loop_start()
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            while not self._connected.is_set() and self._error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
        if not self._connected.is_set():
            self._client.loop_stop()
            raise MqttError(self._error or f"no CONNACK from the MQTT broker at {where}")

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1 and wait for the broker's SUBACK."""
        result, mid = self._client.subscribe(topic, qos=1)
        if result != paho.MQTT_ERR_SUCCESS:
            raise MqttError(f"subscribing to {topic} failed: {paho.error_string(result)}")
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._subacked, timeout=self.timeout_s):
                raise MqttError(f"the broker did not acknowledge the subscription to {topic}")
            self._subacked.discard(mid)
            self._topics.append(topic)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            while self.published - self.acked >= self.window:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise MqttError(
                        f"no PUBACK for {self.timeout_s:.0f} s ({self.published - self.acked} in flight)"
                    )
                self._cond.wait(min(left, 1.0))
            self.published += 1
            self.peak_inflight = max(self.peak_inflight, self.published - self.acked)
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):  # NO_CONN: paho resends it
            raise MqttError(f"publish to {topic} failed: {paho.error_string(info.rc)}")

    def flush(self) -> None:
        """Wait for every PUBACK (bounded by the timeout without progress)."""
        with self._cond:
            last, deadline = self.acked, time.monotonic() + self.timeout_s
            while self.acked < self.published:
                if self.acked != last:
                    last, deadline = self.acked, time.monotonic() + self.timeout_s
                if time.monotonic() > deadline:
                    missing = self.published - self.acked
                    raise MqttError(f"{missing} messages were not acknowledged by the broker")
                self._cond.wait(0.5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> BlockingMqttClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
