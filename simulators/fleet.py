"""A simulated gateway fleet: answers management operations for synthetic devices over MQTT.

Each simulated gateway holds one MQTT connection, announces itself on `$status` (retained, with an
`offline` Will) and answers `cmd` envelopes for its devices as a gateway does (gateway.commands):
`ping` -> `{"pong": true, "read": {...}}` (a synthetic device read), `read_config` -> type and
point list, `write_setpoint` -> `{"point", "requested", "written", "raw"}` (the value read back).
Devices marked offline stay silent, as a device behind a dead gateway would.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import wire
from infra.mqtt import MqttEndpoint, MqttError, Will, endpoint_for
from infra.mqtt.blocking import BlockingMqttClient


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
        endpoint: MqttEndpoint,
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
        self._started = False
        self._client = BlockingMqttClient(
            endpoint,
            f"pp-fleet-{gw}-{uuid.uuid4().hex[:6]}",
            will=Will(wire.status_topic(site, gw), wire.STATUS_OFFLINE),
            on_message=self._on_message,
        )

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

    def _on_message(self, _topic: str, payload: bytes) -> None:
        self.stats.received += 1
        try:
            command = wire.decode_as("cmd", payload)
        except wire.WireError:
            self.stats.invalid += 1
            return
        assert isinstance(command, wire.Command)
        if command.dev not in self.devices or command.dev in self.offline:
            self.stats.silent += 1
            return
        topic = wire.device_topic(self.site, self.gw, command.dev, "cmd/res")
        self._client.publish(topic, wire.encode(self.answer(command)))
        self.stats.answered += 1

    def start(self) -> None:
        try:
            self._client.connect()
            self._client.subscribe(wire.device_filter("cmd", self.site, self.gw))
            self._client.publish(wire.status_topic(self.site, self.gw), wire.STATUS_ONLINE, retain=True)
        except MqttError as exc:
            self._client.close()
            raise FleetError(f"gateway {self.gw}: {exc}") from None
        self._started = True

    def stop(self) -> None:
        if self._started:
            self._client.publish(wire.status_topic(self.site, self.gw), wire.STATUS_OFFLINE, retain=True)
            with contextlib.suppress(MqttError):  # the Will says offline if this did not get through
                self._client.flush()
        self._client.close()


class Fleet:
    """Several simulated gateways; `gateways` maps a gateway id to its device ids."""

    def __init__(
        self, mqtt_url: str, site: str, gateways: Mapping[str, Iterable[str]], *, offline: Iterable[str] = ()
    ) -> None:
        try:
            endpoint = endpoint_for(mqtt_url)
        except ValueError as exc:
            raise FleetError(str(exc)) from None
        off = frozenset(offline)
        self.gateways = [
            SimulatedGateway(endpoint, site, gw, devs, offline=off) for gw, devs in gateways.items()
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
