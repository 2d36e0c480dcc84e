"""A historian import that creates monthly partitions while a collector ingests live data for the
same devices (plain PostgreSQL, real Mosquitto): neither waits on the other forever, nothing is lost."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import wire
from collector.importer import ImportDevice, import_csv
from collector.ingest import Pipeline
from collector.settings import load_settings
from tests.collector.conftest import INFO, POINTS, SITE, birth, data, topic
from tests.collector.mqttutil import Publisher, scalar, wait_until
from tests.servers import MosquittoServer

MONTHS = 18


def _history(path: Path) -> int:
    """Hourly temperatures of m1 and m2 over MONTHS months of 2023-2024 (no partition exists yet)."""
    start = 1_672_531_200  # 2023-01-01
    lines = ["time,device,point,value"]
    for h in range(MONTHS * 30 * 24):
        lines.append(f"{(start + h * 3600) * 10**9},{'m1' if h % 2 else 'm2'},temp,{h % 50}")
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


async def test_import_creating_partitions_beside_live_ingest(
    plain_db: str, mqtt_broker: MosquittoServer, tmp_path: Path
) -> None:
    db = plain_db
    settings = load_settings(
        None, dsn=db, metrics_port=None, batch={"max_age_ms": 20, "max_messages": 20},
        mqtt={"url": mqtt_broker.url, "client_id": f"c-{uuid.uuid4().hex[:8]}",
              "topics": [f"pp/v1/{SITE}/gw1/#"]},
    )  # fmt: skip
    pipeline = Pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    while pipeline.source is None or not pipeline.source.connected.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    pub = Publisher(mqtt_broker.host, mqtt_broker.port)
    # the live gateway registers the same devices the history is about
    births = [(topic("birth", dev=d), wire.encode(birth(dev=d, seq=i))) for i, d in enumerate(("m1", "m2"))]
    await asyncio.to_thread(pub.publish, births)
    await asyncio.to_thread(wait_until, lambda: scalar(db, "SELECT count(*) FROM devices") == 2, 30, "births")
    rows = _history(tmp_path / "history.csv")
    live = {"seq": 10, "sent": 0}
    done = threading.Event()

    def publish_live() -> None:
        while not done.is_set():
            now = time.time_ns()
            msgs = []
            for dev in ("m1", "m2"):
                samples = [("temp", now - 5_000_000 + i * 1000, float(i), 0) for i in range(25)]
                msgs.append((topic("data", dev=dev), wire.encode(data("gw1", dev, live["seq"], samples))))
                live["seq"] += 1
            pub.publish(msgs)
            live["sent"] += 50
            time.sleep(0.01)

    feeder = threading.Thread(target=publish_live, daemon=True)
    feeder.start()
    devices = {d: ImportDevice(INFO, POINTS) for d in ("m1", "m2")}
    try:
        result = await asyncio.to_thread(
            import_csv,
            db,
            tmp_path / "history.csv",
            SITE,
            "historian",
            devices,
            chunk_rows=100,
            batch_rows=400,
        )
    finally:
        done.set()
        await asyncio.to_thread(feeder.join, 30)
    assert result.rows == rows
    await asyncio.to_thread(
        wait_until,
        lambda: pipeline.metrics.stored_rows._value.get() >= live["sent"],
        60,
        "the collector to store every live reading",
    )
    stop.set()
    await asyncio.wait_for(task, 30)
    pub.close()
    assert pipeline.metrics.db_reconnects._value.get() == 0  # no batch was aborted (e.g. by a deadlock)
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0
    assert scalar(db, "SELECT count(*) FROM readings") == rows + live["sent"]
    assert scalar(db, "SELECT count(*) FROM readings_default") == 0
    assert scalar(db, "SELECT count(*) FROM pg_class WHERE relname ~ '^readings_202[34][0-9]{2}$'") >= MONTHS
