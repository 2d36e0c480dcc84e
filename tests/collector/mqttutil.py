"""A QoS 1 publisher and polling helpers for the collector tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt
import psycopg


class Publisher:
    def __init__(self, host: str, port: int) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(
        self, items: Iterable[tuple[str, bytes]], *, retain: bool = False, timeout: float = 120
    ) -> None:
        infos = [self.client.publish(t, p, qos=1, retain=retain) for t, p in items]
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "broker did not acknowledge a publish in time"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def scalar(dsn: str, sql: str) -> int:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            row = conn.execute(sql).fetchone()
    except psycopg.OperationalError:
        return -1
    assert row is not None
    return int(row[0])


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
