"""A simulated gateway fleet: answers management operations for synthetic devices over MQTT.

Each simulated gateway holds one MQTT connection, announces itself on `$status` (retained, with an
`offline` Will) and answers `cmd` envelopes for its devices as a gateway does (gateway.commands):
`ping` -> `{"pong": true, "read": {...}}` (a synthetic device read), `read_config` -> type and
point list, `write_setpoint` -> `{"point", "requested", "written", "raw"}` (the value read back).
Devices marked offline stay silent, as a device behind a dead gateway would.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

import wire


class FleetError(Exception):
    """The simulated fleet could not start (broker unreachable, subscription refused)."""


@dataclass(slots=True)
class FleetStats:
    received: int = 0
    answered: int = 0
    silent: int = 0  # commands for offline or unknown devices
    invalid: int = 0  # payloads that were not a valid Command


class SimulatedGateway:
    def __init__(
        self,
        host: str,
        port: int,
        site: str,
        gw: str,
        devices: Iterable[str],
        *,
        offline: Iterable[str] = (),
        device_type: str = "synthetic",
    ) -> None:
        self.site, self.gw, self.device_type = site, gw, device_type
        self.devices = frozenset(devices)
        self.offline = frozenset(offline)
        self.stats = FleetStats()
        self.host, self.port = host, port
        self._ready = threading.Event()
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"pp-fleet-{gw}-{uuid.uuid4().hex[:6]}"
        )
        self._client.max_inflight_messages_set(1000)
        self._client.will_set(wire.status_topic(site, gw), wire.STATUS_OFFLINE, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        if rc.is_failure:
            return
        client.subscribe(f"{wire.gateway_prefix(self.site, self.gw)}+/cmd", qos=1)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any = None
    ) -> None:
        client.publish(wire.status_topic(self.site, self.gw), wire.STATUS_ONLINE, qos=1, retain=True)
        self._ready.set()

    def answer(self, command: wire.Command) -> wire.CommandResult:
        result: dict[str, Any] | None
        ok, error = True, None
        now = time.time_ns()
        if command.op == "ping":
            result = {"pong": True, "read": {"point": "synthetic", "raw": 1, "quality": 0, "ts": now}}
        elif command.op == "read_config":
            result = {"type": self.device_type, "points": []}
        elif command.op == "write_setpoint" and "point" in command.args and "value" in command.args:
            value = command.args["value"]
            result = {"point": command.args["point"], "requested": value, "written": value, "raw": value}
        else:
            result, ok, error = None, False, f"cannot {command.op} with args {sorted(command.args)}"
        return wire.CommandResult(
            id=command.id, gw=self.gw, dev=command.dev, ok=ok, sent=now, result=result, error=error
        )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        try:
            command = wire.decode_as("cmd", message.payload)
        except wire.WireError:
            self.stats.invalid += 1
            return
        assert isinstance(command, wire.Command)
        if command.dev not in self.devices or command.dev in self.offline:
            self.stats.silent += 1
            return
        topic = wire.device_topic(self.site, self.gw, command.dev, "cmd/res")
        client.publish(topic, wire.encode(self.answer(command)), qos=1)
        self.stats.answered += 1

    def start(self, timeout: float = 30.0) -> None:
        try:
            self._client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise FleetError(
                f"gateway {self.gw}: cannot reach the broker at {self.host}:{self.port}: {exc}"
            ) from exc
        self._client.loop_start()
        if not self._ready.wait(timeout):
            self.stop()
            raise FleetError(f"gateway {self.gw}: not subscribed after {timeout}s")

    def stop(self) -> None:
        if self._ready.is_set():
            info = self._client.publish(
                wire.status_topic(self.site, self.gw), wire.STATUS_OFFLINE, qos=1, retain=True
            )
            info.wait_for_publish(5)
        self._client.disconnect()
        self._client.loop_stop()


class Fleet:
    """Several simulated gateways; `gateways` maps a gateway id to its device ids."""

    def __init__(
        self, mqtt_url: str, site: str, gateways: Mapping[str, Iterable[str]], *, offline: Iterable[str] = ()
    ) -> None:
        parsed = urlparse(mqtt_url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 1883
        off = frozenset(offline)
        self.gateways = [
            SimulatedGateway(host, port, site, gw, devs, offline=off) for gw, devs in gateways.items()
        ]

    def __enter__(self) -> Fleet:
        started: list[SimulatedGateway] = []
        try:
            for gw in self.gateways:
                gw.start()
                started.append(gw)
        except FleetError:
            for gw in started:
                gw.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for gw in self.gateways:
            gw.stop()

    def stats(self) -> FleetStats:
        total = FleetStats()
        for gw in self.gateways:
            total.received += gw.stats.received
            total.answered += gw.stats.answered
            total.silent += gw.stats.silent
            total.invalid += gw.stats.invalid
        return total


def split(devices: list[str], per_gateway: int, prefix: str) -> dict[str, list[str]]:
    """Devices spread over gateways of at most `per_gateway` devices each."""
    if per_gateway < 1:
        raise FleetError("per_gateway must be at least 1")
    return {
        f"{prefix}-{i // per_gateway:03d}": devices[i : i + per_gateway]
        for i in range(0, len(devices), per_gateway)
    }
