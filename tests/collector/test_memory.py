"""Memory bounded in bytes: during a database outage, a flood of large messages leaves the collector's
peak RSS within its configured byte budget (plus a fixed allowance for the interpreter's own
working set); the broker keeps the rest, and all of it is stored once the database is back.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import wire
from collector.migrate import migrate
from tests.collector.conftest import INFO, POINTS, SITE
from tests.collector.mqttutil import Publisher, scalar, wait_until
from tests.processes import Collector, collector_config, rss_kib
from tests.servers import MosquittoServer, PostgresServer, free_port

MIB = 1024 * 1024
BUDGET = 16 * MIB
ALLOWANCE = 24 * MIB  # batches being committed, paho's packet buffer, allocator slack
FLOOD, SIZE = 200, 400_000  # 80 MB of 400 kB messages, five times the budget


def _metric(port: int, name: str) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    match = re.search(rf"^{name} (\S+)$", body, re.MULTILINE)
    assert match, name
    return float(match.group(1))


def test_rss_stays_within_the_byte_budget_during_a_database_outage(
    tmp_path: Path,
    mosquitto_factory: Callable[..., MosquittoServer],
    postgres_factory: Callable[..., PostgresServer],
) -> None:
    broker, pg = mosquitto_factory(), postgres_factory()
    dsn = pg.create_database()
    migrate(dsn)
    port = free_port()
    config = collector_config(
        tmp_path / "c.yaml", dsn, broker.host, broker.port, queue_max_bytes=BUDGET, metrics_port=port
    )
    collector = Collector(config, tmp_path / "c.log")
    collector.start()
    pub = Publisher(broker.host, broker.port)
    topic = wire.device_topic(SITE, "gw1", "m1", "data")
    now = time.time_ns()

    def big(seq: int) -> bytes:
        # one microsecond apart: readings are stored to the microsecond, one value per (point, time)
        sample = ["program", now - 10**9 + seq * 1000, chr(ord("a") + seq % 26) * SIZE, 0]
        return json.dumps({"schema": "plantproof.data/1", "gw": "gw1", "dev": "m1", "seq": seq,
                           "sent": now, "samples": [sample]}).encode()  # fmt: skip

    try:
        birth = wire.encode(wire.Birth("gw1", "m1", 0, now, INFO, POINTS))
        pub.publish([(wire.device_topic(SITE, "gw1", "m1", "birth"), birth)], retain=True)
        wait_until(lambda: scalar(dsn, "SELECT count(*) FROM devices") == 1, 60, "the retained birth")
        pub.publish([(topic, big(1))])
        wait_until(lambda: scalar(dsn, "SELECT count(*) FROM readings_text") == 1, 60, "the warm-up message")
        baseline = rss_kib(collector.pid) * 1024
        pg.stop()
        pub.publish([(topic, big(seq)) for seq in range(2, FLOOD + 2)], timeout=300)
        wait_until(
            lambda: _metric(port, "plantproof_collector_queue_overflow_total") > 0, 60, "the budget to fill"
        )
        time.sleep(3.0)  # whatever it would take in, it has taken by now
        held = _metric(port, "plantproof_collector_queue_bytes")
        peak = rss_kib(collector.pid, "VmHWM") * 1024
        print(f"RSS baseline {baseline / MIB:.1f} MiB, peak {peak / MIB:.1f} MiB, budget {BUDGET / MIB:.0f}"
              f" MiB, held {held / MIB:.1f} MiB of a {FLOOD * SIZE / MIB:.0f} MiB flood")  # fmt: skip
        assert held <= BUDGET
        assert peak - baseline <= BUDGET + ALLOWANCE, "memory beyond the byte budget"
        pg.start()
        wait_until(
            lambda: scalar(dsn, "SELECT count(*) FROM readings_text") == FLOOD + 1, 300, "the flood stored"
        )
        assert _metric(port, "plantproof_collector_overflow_reconnects_total") >= 1
        assert scalar(dsn, "SELECT count(*) FROM dead_letters") == 0
        assert collector.alive()
    finally:
        pub.close()
        collector.stop()
        print(collector.output()[-2000:])
