"""The server fixtures themselves: outages injected by stopping and starting real servers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
import psycopg
import pytest

from tests.servers import MosquittoServer, PostgresServer


def _client(server: MosquittoServer, client_id: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.reconnect_delay_set(min_delay=0.1, max_delay=1)
    client.connect(server.host, server.port, keepalive=5)
    client.loop_start()
    return client


def test_broker_restart_then_qos1_round_trip(mosquitto_factory: Callable[..., MosquittoServer]) -> None:
    broker = mosquitto_factory()
    received: list[bytes] = []
    got = threading.Event()
    connected = threading.Event()

    sub = _client(broker, "fixture-sub")

    def on_connect(client: mqtt.Client, userdata: object, flags: object, rc: object, props: object) -> None:
        client.subscribe("fixture/t", qos=1)
        connected.set()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        received.append(msg.payload)
        got.set()

    sub.on_connect = on_connect
    sub.on_message = on_message
    sub.reconnect()
    assert connected.wait(10)

    pub = _client(broker, "fixture-pub")
    time.sleep(0.2)
    broker.stop()
    connected.clear()
    assert _wait_true(lambda: not sub.is_connected(), 10)
    broker.start()  # same port
    assert connected.wait(15), "subscriber did not reconnect to the restarted broker"
    assert _wait_true(pub.is_connected, 15), "publisher did not reconnect to the restarted broker"

    info = pub.publish("fixture/t", b"after-restart", qos=1)
    info.wait_for_publish(timeout=15)
    assert info.is_published()
    assert got.wait(10)
    assert received == [b"after-restart"]
    for c in (sub, pub):
        c.loop_stop()
        c.disconnect()


def _wait_true(fn: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.05)
    return False


def test_persistent_session_keeps_qos1_messages_across_broker_restart(
    mosquitto_factory: Callable[..., MosquittoServer],
) -> None:
    broker = mosquitto_factory()
    sub = _client(broker, "fixture-offline-sub")
    sub.subscribe("fixture/q", qos=1)
    time.sleep(0.3)
    sub.loop_stop()
    sub.disconnect()

    pub = _client(broker, "fixture-offline-pub")
    for i in range(2000):  # more than Mosquitto's default queue of 1000
        pub.publish("fixture/q", str(i).encode(), qos=1)
    time.sleep(0.5)
    pub.loop_stop()
    pub.disconnect()
    broker.restart()

    received: list[int] = []
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        received.append(int(msg.payload))
        if len(received) >= 2000:
            done.set()

    sub2 = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fixture-offline-sub", clean_session=False)
    sub2.on_message = on_message
    sub2.connect(broker.host, broker.port)
    sub2.loop_start()
    assert done.wait(30), f"only {len(received)} of 2000 queued messages arrived"
    assert sorted(set(received)) == list(range(2000))
    sub2.loop_stop()
    sub2.disconnect()


def test_postgres_restart_then_reconnect(postgres_factory: Callable[..., PostgresServer]) -> None:
    server = postgres_factory()
    dsn = server.create_database("restart_check")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
    conn = psycopg.connect(dsn, autocommit=True)
    server.stop()
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    server.start()  # same port, same data directory
    with psycopg.connect(dsn, autocommit=True) as again:
        again.execute("INSERT INTO t VALUES (2)")
        rows = again.execute("SELECT x FROM t ORDER BY x").fetchall()
    assert rows == [(1,), (2,)]


def test_session_postgres_reports_its_path(pg_server: PostgresServer, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    assert row is not None
    assert bool(row[0]) == pg_server.timescaledb
