"""A QoS 1 MQTT publisher with a bounded in-flight window (paho-mqtt 2.x, its network thread).

`publish` blocks while `window` messages await their PUBACK; `close` waits for every PUBACK and
fails loudly if any is missing, so a finished run means the broker has every message.
"""

import threading
import time
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt

from simulators.errors import BackfillError


class Publisher:
    def __init__(
        self,
        url: str,
        client_id: str,
        window: int = 1000,
        will: tuple[str, bytes] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        if window < 1:
            raise BackfillError("the in-flight window must be at least 1")
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise BackfillError(f"unsupported broker URL {url!r}: use mqtt://host:port or mqtts://")
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (8883 if parsed.scheme in ("mqtts", "ssl") else 1883)
        self.window = window
        self.timeout_s = timeout_s
        self.published = 0
        self.acked = 0
        self.peak_inflight = 0  # exported in the run summary
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self._error: str | None = None
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        self._client.max_inflight_messages_set(window)
        if parsed.username:
            self._client.username_pw_set(unquote(parsed.username), unquote(parsed.password or ""))
        if parsed.scheme in ("mqtts", "ssl"):
            self._client.tls_set()
        if will:
            self._client.will_set(will[0], will[1], qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        self._client.on_disconnect = self._on_disconnect

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object
    ) -> None:
        if getattr(rc, "is_failure", False):
            self._error = f"broker refused the connection: {rc}"
        self._connected.set()
        with self._cond:
            self._cond.notify_all()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object
    ) -> None:
        if getattr(rc, "is_failure", False):
            self._connected.clear()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, rc: object, props: object) -> None:
        with self._cond:
            self.acked += 1
            self._cond.notify_all()

    def connect(self) -> None:
        try:
            self._client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise BackfillError(f"cannot reach the broker at {self.host}:{self.port}: {exc}") from None
        self._client.loop_start()
        if not self._connected.wait(self.timeout_s) or self._error:
            self._client.loop_stop()
            raise BackfillError(self._error or f"no CONNACK from {self.host}:{self.port}")

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            while self.published - self.acked >= self.window:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BackfillError(
                        f"no PUBACK for {self.timeout_s:.0f} s ({self.published - self.acked} in flight)"
                    )
                self._cond.wait(min(left, 1.0))
            self.published += 1
            self.peak_inflight = max(self.peak_inflight, self.published - self.acked)
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):  # NO_CONN: paho resends it
            raise BackfillError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")

    def close(self) -> None:
        """Wait for every PUBACK (bounded by the timeout without progress), then disconnect."""
        try:
            with self._cond:
                last, deadline = self.acked, time.monotonic() + self.timeout_s
                while self.acked < self.published:
                    if self.acked != last:
                        last, deadline = self.acked, time.monotonic() + self.timeout_s
                    if time.monotonic() > deadline:
                        missing = self.published - self.acked
                        raise BackfillError(f"{missing} messages were not acknowledged by the broker")
                    self._cond.wait(0.5)
        finally:
            self._client.disconnect()
            self._client.loop_stop()
