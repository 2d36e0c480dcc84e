"""Test helpers: gateway configs, a real MQTT subscriber, a Modbus server with known values."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from devicemodel.devicetype import DeviceType
from devicemodel.loader import load_device_type
from wire import Envelope, decode

ROOT = Path(__file__).resolve().parents[2]
CNC = ROOT / "configs" / "devices" / "cnc_machine.yaml"


def write_config(tmp: Path, broker_url: str, devices: list[dict[str, Any]], **top: Any) -> Path:
    data: dict[str, Any] = {
        "site": "site1",
        "gateway_id": top.pop("gateway_id", "gw1"),
        "mqtt": {"url": broker_url, "reconnect_min_s": 0.5, "reconnect_max_s": 2.0},
        "spool": {"path": str(tmp / "spool.db")},
        "batch": {"max_samples": 100, "max_age_s": 0.2},
        "devices": devices,
    }
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    path = tmp / "gateway.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def modbus_device(
    dev: str, port: int = 1, unit: int = 1, interval: float = 0.2, **extra: Any
) -> dict[str, Any]:
    return {
        "id": dev,
        "type": "cnc_machine.yaml",
        "protocol": "modbus",
        "endpoint": {"host": "127.0.0.1", "port": port, "unit_id": unit, "timeout": 1.0, "backoff_max": 1.0},
        "scan_groups": [{"name": "all", "interval": interval, "points": "all"}],
        "simulated": True,
        **extra,
    }


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool


@dataclass
class Subscriber:
    """A real MQTT subscriber (persistent session, QoS 1) collecting everything under a filter."""

    host: str
    port: int
    topic: str = "pp/v1/#"
    messages: list[Received] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4().hex[:8]}", clean_session=False
        )
        self.client.reconnect_delay_set(1, 1)
        self._subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe(self.topic, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        with self.cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self.cond.notify_all()

    def start(self) -> Subscriber:
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        assert self._subscribed.wait(20), "subscriber did not subscribe"
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 60.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"condition not met after {timeout}s; {len(self.messages)} messages")
                self.cond.wait(min(left, 0.5))
            return list(self.messages)

    def envelopes(self, kind: str | None = None) -> list[Envelope]:
        with self.cond:
            msgs = list(self.messages)
        kinds = ("data", "birth", "death") if kind is None else (kind,)
        return [decode(m.payload) for m in msgs if m.topic.rsplit("/", 1)[-1] in kinds]


@dataclass(frozen=True)
class StaticDevice:
    id: str
    device_type: DeviceType
    unit_id: int


class RampSource:
    """Values a test can predict: counters rise by one per 100 ms of model time; state is running."""

    def __init__(self, ids: Mapping[str, int], type_path: Path = CNC) -> None:
        dt = load_device_type(type_path)
        self.devices = [StaticDevice(dev, dt, unit) for dev, unit in ids.items()]

    def values_at(self, device_id: str, t_ns: int) -> dict[str, Any]:
        tick = t_ns // 100_000_000
        return {
            "state": "running",
            "parts_total": tick % 2**32,
            "parts_good": (tick * 9 // 10) % 2**32,
            "energy": round((tick % 2**32) * 0.01, 2),
            "spindle_speed": 8000.0,
            "spindle_temp": 45.0,
            "door_open": False,
            "alarm_active": False,
            "feed_override": 100,
        }


BIG = 9_007_199_254_740_993  # 2^53 + 1: a double would make it ...992
# A device type with a setpoint of every kind of exactness (int64, float64, float32, scaled uint16).
SETPOINTS_TYPE = """\
type: generic
industry: C34
sector: discrete
points:
  - {name: level, kind: analog, dtype: float32, modbus: {table: holding, address: 0}}
  - {name: big_sp, kind: setpoint, dtype: int64, writable: true, modbus: {table: holding, address: 10}}
  - {name: f_sp, kind: setpoint, dtype: float64, writable: true, modbus: {table: holding, address: 20}}
  - {name: f32_sp, kind: setpoint, dtype: float32, writable: true, modbus: {table: holding, address: 30}}
  - name: tenths_sp
    kind: setpoint
    dtype: uint16
    scale: 0.1
    writable: true
    modbus: {table: holding, address: 40}
"""


@dataclass(frozen=True)
class _SetpointDevice:
    id: str
    device_type: DeviceType
    unit_id: int


class SetpointSource:
    """One device m1 (unit 1) of SETPOINTS_TYPE with steady values."""

    def __init__(self, device_type: DeviceType) -> None:
        self.devices = [_SetpointDevice("m1", device_type, 1)]

    def values_at(self, device_id: str, t_ns: int) -> dict[str, Any]:
        return {"level": 21.5, "big_sp": 7, "f_sp": 1.5, "f32_sp": 2.5, "tenths_sp": 20.0}
