"""End to end through outages: collector SIGKILLed mid-stream, PostgreSQL restarted, Mosquitto restarted.

Stored count must equal published, with no duplicates. PLANTPROOF_E2E_POINTS sets the size (default
100,000 points in 100-sample envelopes; the full acceptance run uses 1,000,000).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import yaml

import wire
from collector.migrate import migrate
from tests.collector.conftest import SITE, birth
from tests.collector.mqttutil import Publisher, scalar, wait_until
from tests.servers import MosquittoServer, PostgresServer

ROOT = Path(__file__).resolve().parents[2]
PER_ENVELOPE = 100
DEVICES = ("m1", "m2", "m3", "m4")


def envelopes(total_points: int, start_seq: int = 1) -> Iterator[tuple[str, bytes]]:
    base = time.time_ns() - 3_600 * 10**9
    for k in range(total_points // PER_ENVELOPE):
        dev = DEVICES[k % len(DEVICES)]
        first = base + k * PER_ENVELOPE * 1000
        samples = [("temp", first + i * 1000, float(i), 0) for i in range(PER_ENVELOPE)]
        env = wire.Data("gw1", dev, start_seq + k, time.time_ns(), samples)  # type: ignore[arg-type]
        yield wire.device_topic(SITE, "gw1", dev, "data"), wire.encode(env)


class Collector:
    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "collector.cli", "run", "--config", str(self.config)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def test_exactly_once_through_collector_kill_and_server_restarts(
    mosquitto_factory: Callable[..., MosquittoServer],
    postgres_factory: Callable[..., PostgresServer],
    tmp_path: Path,
) -> None:
    total = int(os.environ.get("PLANTPROOF_E2E_POINTS", "100000"))
    broker, pg = mosquitto_factory(), postgres_factory()
    dsn = pg.create_database()
    migrate(dsn)
    config = tmp_path / "collector.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "dsn": dsn,
                "metrics_port": None,
                "mqtt": {
                    "url": broker.url,
                    "client_id": "e2e-collector",
                    "group": None,
                },
                "batch": {"max_age_ms": 100},
            }
        )
    )
    collector = Collector(config, tmp_path / "collector.log")
    stored = lambda: scalar(dsn, "SELECT count(*) FROM readings")  # noqa: E731
    # seq is unique per gateway: births take 0..3, data follows.
    all_items = list(envelopes(total, start_seq=len(DEVICES)))
    thirds = [all_items[: len(all_items) // 3], all_items[len(all_items) // 3 : 2 * len(all_items) // 3]]
    thirds.append(all_items[2 * len(all_items) // 3 :])
    try:
        collector.start()
        pub = Publisher(broker.host, broker.port)
        births = [
            (wire.device_topic(SITE, "gw1", d, "birth"), wire.encode(birth("gw1", d, seq=i)))
            for i, d in enumerate(DEVICES)
        ]
        pub.publish(births, retain=True)
        # Retained births registered: the collector's session and subscriptions exist.
        wait_until(lambda: scalar(dsn, "SELECT count(*) FROM devices") == len(DEVICES), 60, "births")
        # (a) SIGKILL the collector while it is ingesting the first third.
        sender = threading.Thread(target=pub.publish, args=(thirds[0],))
        sender.start()
        wait_until(lambda: stored() > 0, 60, "first rows")
        collector.kill()
        killed_at = stored()
        sender.join()
        collector.start()
        # (b) restart PostgreSQL while the second third flows.
        sender = threading.Thread(target=pub.publish, args=(thirds[1],))
        sender.start()
        wait_until(lambda: stored() > killed_at, 60, "ingest after the restart")
        pg.restart()
        sender.join()
        # (c) restart Mosquitto in the middle of the last third.
        half = len(thirds[2]) // 2
        pub.publish(thirds[2][:half])
        pub.close()
        broker.restart()
        pub = Publisher(broker.host, broker.port)
        pub.publish(thirds[2][half:])
        pub.close()
        wait_until(lambda: stored() >= total, 240 * max(1, total // 200_000), f"{total} rows stored")
        time.sleep(1.0)  # anything still arriving now would be a duplicate
        assert stored() == total
        # Every published sample has its own timestamp: any repeated time is a duplicate.
        with psycopg.connect(dsn) as conn:
            conn.execute("SET work_mem = '256MB'")
            repeated = conn.execute(
                "SELECT count(*) FROM (SELECT time FROM readings GROUP BY time HAVING count(*) > 1) x"
            ).fetchone()
            uneven = conn.execute(
                "SELECT count(*) FROM (SELECT envelope_id FROM readings GROUP BY envelope_id"
                " HAVING count(*) <> %s) x",
                (PER_ENVELOPE,),
            ).fetchone()
        assert repeated == (0,), "no reading stored twice"
        assert uneven == (0,), "every envelope stored whole"
        assert scalar(dsn, "SELECT count(*) FROM envelopes WHERE kind = 'data'") == total // PER_ENVELOPE
        with psycopg.connect(dsn) as conn:
            dead = conn.execute("SELECT topic, error FROM dead_letters").fetchall()
        assert dead == []
        assert 0 < killed_at < total, "the kill landed mid-stream"
    finally:
        collector.stop()
        print((tmp_path / "collector.log").read_text()[-3000:])
