"""Sparkplug B edge nodes for the host tests: payloads from our codec or Eclipse Tahu JS, and
pysparkplug's own EdgeNode in its venv; a running collector and an NCMD observer."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from collector.ingest import Pipeline
from collector.settings import load_settings
from tests.wire.sparkplug import interop
from wire import sparkplug as sp
from wire.sparkplug import DataType, MessageType, Metric, Payload, PropertyValue

DEVICE_PROPERTIES = (
    Metric(DataType.STRING, "cnc_machine", name="Properties/type"),
    Metric(DataType.STRING, "C34", name="Properties/industry"),
    Metric(DataType.STRING, "discrete", name="Properties/sector"),
)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def quality(metric: Metric, code: int) -> Metric:
    return Metric(
        metric.datatype, metric.value, name=metric.name, alias=metric.alias, timestamp=metric.timestamp,
        properties={sp.QUALITY: PropertyValue(DataType.INT32, code)},
    )  # fmt: skip


@dataclass
class Edge:
    """An edge node that numbers its messages as the specification says; `tahu` encodes with Tahu JS."""

    group: str
    node: str
    bdseq: int = 0
    seq: int = -1
    tahu: bool = False

    def _next(self) -> int:
        self.seq = sp.next_seq(self.seq)
        return self.seq

    def encode(self, payload: Payload) -> bytes:
        if not self.tahu:
            return sp.encode_payload(payload)
        result = interop.tahu("encode", [{"id": "p", "payload": interop.to_tahu_payload(payload)}])["p"]
        assert result["ok"], result
        return interop.unb64(result["b64"])

    def nbirth(self, metrics: Sequence[Metric] = ()) -> tuple[str, bytes]:
        self.seq = -1
        ts = now_ms()
        body = (sp.bdseq_metric(self.bdseq, ts), sp.rebirth_metric(ts), *metrics)
        payload = Payload(timestamp=ts, metrics=body, seq=self._next())
        return sp.edge_topic(self.group, MessageType.NBIRTH, self.node), self.encode(payload)

    def ndeath(self) -> tuple[str, bytes]:
        return sp.edge_topic(self.group, MessageType.NDEATH, self.node), self.encode(
            sp.ndeath_payload(self.bdseq)
        )

    def dbirth(self, device: str, metrics: Sequence[Metric]) -> tuple[str, bytes]:
        payload = Payload(timestamp=now_ms(), metrics=(*DEVICE_PROPERTIES, *metrics), seq=self._next())
        return sp.edge_topic(self.group, MessageType.DBIRTH, self.node, device), self.encode(payload)

    def ddata(self, device: str, metrics: Sequence[Metric], ts: int | None = None) -> tuple[str, bytes]:
        payload = Payload(timestamp=ts or now_ms(), metrics=tuple(metrics), seq=self._next())
        return sp.edge_topic(self.group, MessageType.DDATA, self.node, device), self.encode(payload)

    def ddeath(self, device: str) -> tuple[str, bytes]:
        payload = Payload(timestamp=now_ms(), seq=self._next())
        return sp.edge_topic(self.group, MessageType.DDEATH, self.node, device), self.encode(payload)


@dataclass
class Observer:
    """Every message on `topic` (default: every NCMD), as (topic, payload bytes)."""

    host: str
    port: int
    topic: str = "spBv1.0/+/NCMD/+"
    seen: list[tuple[str, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"obs-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda _c, _u, m: self.seen.append((m.topic, bytes(m.payload)))
        self.client.connect(self.host, self.port)
        self.client.subscribe(self.topic, qos=1)
        self.client.loop_start()
        time.sleep(0.3)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def collector_settings(dsn: str, url: str, **sparkplug: Any) -> Any:
    return load_settings(
        None, dsn=dsn, metrics_port=None, batch={"max_age_ms": 20},
        mqtt={"url": url, "client_id": f"c-{uuid.uuid4().hex[:8]}", "sources": ["pp_v1", "sparkplug"]},
        sparkplug=sparkplug,
    )  # fmt: skip


@asynccontextmanager
async def running(settings: Any) -> AsyncIterator[Pipeline]:
    pipeline = Pipeline(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    while pipeline.source is None:  # noqa: ASYNC110 - created by the running task
        await asyncio.sleep(0.05)
    await asyncio.wait_for(pipeline.source.connected.wait(), 30)
    await asyncio.sleep(0.3)  # SUBACK
    try:
        yield pipeline
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


class PysparkplugEdge:
    """pysparkplug's EdgeNode in its own venv, one JSON command a line (tests/interop/pysparkplug/edge.py)."""

    def __init__(self, host: str, port: int, group: str, node: str) -> None:
        if not interop.PYSPARKPLUG_PY.exists():
            pytest.skip(f"pysparkplug venv missing: run {interop.BOOTSTRAP}")
        script = interop.PYSPARKPLUG_PY.parents[2] / "edge.py"
        self.proc = subprocess.Popen(
            [str(interop.PYSPARKPLUG_PY), str(script), host, str(port), group, node],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self._answer()["ready"]

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"pysparkplug edge node exited ({self.proc.poll()})"
        out: dict[str, Any] = json.loads(line)
        assert out["ok"], out
        return out

    def send(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.send(op="disconnect")
        self.proc.wait(10)


async def until(
    check: Callable[[], Any], within_s: float, what: str, diagnose: Callable[[], Any] | None = None
) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.1)
    found = f" ({await asyncio.to_thread(diagnose)})" if diagnose else ""
    raise AssertionError(f"timed out after {within_s}s waiting for {what}{found}")
