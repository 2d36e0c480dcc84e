"""What the alarm rules read: the database, Prometheus endpoints, the broker's `$SYS`, disks.

Each reader returns None (or a None sample set) when its source cannot be read, and logs why in
one line; the rules then neither raise nor clear what depends on it (`alarm_rules.evaluate`).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import uuid
from typing import Any, Literal

import httpx
import paho.mqtt.client as paho
import psycopg
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import AsyncConnectionPool

from api.alarm_config import MetricsTarget
from api.alarm_rules import Database, DeviceRow, GatewayRow, Rules, Scrape
from infra.mqtt import MqttEndpoint, MqttError, new_client

log = logging.getLogger("plantproof.api.monitoring")
MAX_SCRAPE_BYTES = 4 * 1024 * 1024  # a metrics page larger than this is refused, not parsed
MAX_SYS_TOPICS = 512  # Mosquitto publishes about a hundred

# History writers (imports, backfill gateways) are not live equipment: their silence is no alarm.
_GATEWAYS = "SELECT site, gw, status, last_seen FROM gateways WHERE NOT backfill ORDER BY gw"
_DEVICES = """
SELECT d.site, d.dev, d.gw, d.online, d.last_seen
FROM devices d JOIN gateways g ON g.gw = d.gw
WHERE d.namespace = 'plant' AND NOT g.backfill ORDER BY d.site, d.dev
"""
_DEATHS = """
SELECT site, dev, count(*) FROM envelopes
WHERE kind = 'death' AND received_at > now() - make_interval(secs => %s) GROUP BY site, dev
"""
_LAG = """
SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM e.received_at - e.sent_at))
FROM envelopes e JOIN gateways g ON g.gw = e.gw
WHERE e.kind = 'data' AND e.source NOT LIKE 'import:%%' AND NOT g.backfill
  AND e.received_at > now() - make_interval(secs => %s)
"""
_DEAD = "SELECT count(*) FROM dead_letters WHERE received_at > now() - make_interval(secs => %s)"


async def read_database(pool: AsyncConnectionPool, rules: Rules) -> Database | None:
    try:
        async with pool.connection() as conn:
            gateways = await (await conn.execute(_GATEWAYS)).fetchall()
            devices = await (await conn.execute(_DEVICES)).fetchall()
            deaths = await (await conn.execute(_DEATHS, (rules.device_flapping.window_s,))).fetchall()
            lag = await (await conn.execute(_LAG, (rules.ingest_lag.window_s,))).fetchone()
            dead = await (await conn.execute(_DEAD, (rules.dead_letter_rate.window_s,))).fetchone()
            size = await (await conn.execute("SELECT pg_database_size(current_database())")).fetchone()
    except (psycopg.Error, OSError) as exc:
        log.warning("alarm sources: the database cannot be read: %s", " ".join(str(exc).split()))
        return None
    return Database(
        gateways=tuple(GatewayRow(*r) for r in gateways),
        devices=tuple(DeviceRow(*r) for r in devices),
        deaths={(r[0], r[1]): int(r[2]) for r in deaths},
        ingest_lag_s=float(lag[0]) if lag and lag[0] is not None else None,
        dead_letters=int(dead[0]) if dead else 0,
        size_bytes=int(size[0]) if size else 0,
    )


def parse_samples(text: str) -> dict[str, float]:
    """The unlabelled samples of a Prometheus text page (labelled ones: summed per name)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name] = out.get(sample.name, 0.0) + float(sample.value)
    return out


async def scrape(
    client: httpx.AsyncClient, target: MetricsTarget, kind: Literal["collector", "gateway"], timeout_s: float
) -> Scrape:
    samples: dict[str, float] | None = None
    try:
        async with client.stream("GET", target.url, timeout=timeout_s) as res:
            res.raise_for_status()
            body = bytearray()
            async for chunk in res.aiter_bytes():
                body += chunk
                if len(body) > MAX_SCRAPE_BYTES:
                    raise ValueError(f"larger than {MAX_SCRAPE_BYTES} bytes")
        samples = parse_samples(body.decode("utf-8", errors="replace"))
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("alarm sources: metrics of %s cannot be read: %s", target.name, type(exc).__name__)
    return Scrape(target.name, kind, target.site, samples)


async def disk_usage(path: str) -> tuple[int, int] | None:
    try:
        usage = await asyncio.to_thread(shutil.disk_usage, path)
    except OSError as exc:
        log.warning("alarm sources: disk usage of %s: %s", path, exc.strerror or exc)
        return None
    return usage.free, usage.total


class BrokerSys:
    """The broker's `$SYS/broker/...` values, kept up to date by paho's network thread."""

    def __init__(self, endpoint: MqttEndpoint) -> None:
        self.endpoint = endpoint
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()
        self._connected = False
        self._client = new_client(endpoint, f"plantproof-alarms-{uuid.uuid4().hex[:8]}")
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.warning("alarm sources: broker %s refused the connection: %s", self.endpoint.describe(), rc)
            return
        client.subscribe("$SYS/broker/#", qos=0)
        self._connected = True

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._connected = False

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            if message.topic in self._values or len(self._values) < MAX_SYS_TOPICS:
                self._values[message.topic] = message.payload[:256].decode("utf-8", errors="replace")

    def start(self) -> None:
        try:
            self._client.connect_async(self.endpoint.host, self.endpoint.port, self.endpoint.keepalive_s)
        except (OSError, ValueError) as exc:
            raise MqttError(f"broker {self.endpoint.describe()}: {exc}") from None
        self._client.loop_start()

    def values(self) -> dict[str, str] | None:
        """What `$SYS` said last; None while not connected."""
        if not self._connected:
            return None
        with self._lock:
            return dict(self._values)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
