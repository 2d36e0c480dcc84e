"""Registry state from retained traffic: a gateway that is gone keeps its devices offline, whatever
order the retained `$status` and births arrive in (real Mosquitto and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid

import psycopg

import wire
from collector.ingest import Pipeline
from collector.settings import load_settings
from collector.store import Message, Store
from tests.collector.conftest import SITE, birth, topic
from tests.collector.mqttutil import Publisher, scalar, wait_until
from tests.servers import MosquittoServer


def _online(dsn: str) -> dict[str, bool]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT dev, online FROM devices").fetchall())


def test_births_do_not_revive_the_devices_of_an_offline_gateway(db: str) -> None:
    store = Store(db)
    status = "pp/v1/s1/gw1/$status"
    store.write([Message(status, wire.STATUS_OFFLINE), Message(topic("birth"), wire.encode(birth(seq=0)))])
    store.write([Message(topic("birth", dev="m2"), wire.encode(birth(dev="m2", seq=1)))])
    assert _online(db) == {"m1": False, "m2": False}
    # the gateway comes back: `online` first, then fresh births
    store.write([Message(status, wire.STATUS_ONLINE), Message(topic("birth"), wire.encode(birth(seq=2)))])
    assert _online(db) == {"m1": True, "m2": False}
    store.write([Message(status, wire.STATUS_OFFLINE)])
    assert _online(db) == {"m1": False, "m2": False}


async def test_collector_start_with_retained_offline_status_and_births(
    db: str, mqtt_broker: MosquittoServer
) -> None:
    gw = f"gw{uuid.uuid4().hex[:6]}"
    pub = Publisher(mqtt_broker.host, mqtt_broker.port)
    births = [
        (topic("birth", gw=gw, dev=d), wire.encode(birth(gw=gw, dev=d, seq=i)))
        for i, d in enumerate(("a", "b"))
    ]
    # what a gateway that died leaves on the broker: its births and its Will
    await asyncio.to_thread(
        pub.publish, [*births, (wire.status_topic(SITE, gw), wire.STATUS_OFFLINE)], retain=True
    )
    try:
        settings = load_settings(
            None, dsn=db, metrics_port=None,
            mqtt={"url": mqtt_broker.url,
                  "client_id": f"c-{uuid.uuid4().hex[:8]}", "topics": [f"pp/v1/{SITE}/{gw}/#"]},
        )  # fmt: skip
        pipeline = Pipeline(settings)
        stop = asyncio.Event()
        task = asyncio.create_task(pipeline.run(stop))
        await asyncio.to_thread(
            wait_until, lambda: scalar(db, "SELECT count(*) FROM devices") == 2, 30, "both retained births"
        )
        await asyncio.to_thread(
            wait_until,
            lambda: scalar(db, f"SELECT count(*) FROM gateways WHERE gw = '{gw}'") == 1,
            30,
            "status",
        )
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, 30)
        assert _online(db) == {"a": False, "b": False}
    finally:
        # clear the retained messages so no other test sees them
        await asyncio.to_thread(
            pub.publish, [(t, b"") for t, _ in births] + [(wire.status_topic(SITE, gw), b"")], retain=True
        )
        pub.close()
