"""The shipped broker config (configs/mosquitto: TLS listener, password file, ACL, client ids bound
to usernames) run as shipped, only its paths and ports moved into a temp dir: a gateway account
cannot take over the collector's session, cannot publish under another gateway's prefix nor forge
its own watermark, and the `$stored` / `$dropped` traffic of end-to-end acknowledgement flows; a
Sparkplug gateway and a Sparkplug host account get exactly their own topics.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import wire
from adapters.base import RawReading
from collector.migrate import migrate
from gateway.config import load_config
from gateway.runner import Gateway
from tests.collector.conftest import INFO, POINTS
from tests.collector.mqttutil import scalar, wait_until
from tests.gateway.helpers import modbus_device, write_config
from tests.gateway.test_security import _make_ca_and_server
from tests.processes import Collector, collector_config
from tests.servers import free_port, wait_port, wait_port_closed

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "configs" / "mosquitto"
USERS = {"collector": "pw-collector", "gw-a": "pw-a", "gw-b": "pw-b", "scada": "pw-scada"}


@dataclass
class Broker:
    tls_port: int
    plain_port: int
    ca: Path
    proc: subprocess.Popen[bytes]
    log: Path


def shipped_conf(tmp: Path, tls_port: int, plain_port: int, certs: tuple[Path, Path, Path], *,
                 bind_ids: bool = True) -> str:  # fmt: skip
    """The shipped mosquitto.conf with only its paths and ports replaced."""
    ca, cert, key = certs
    text = (SHIPPED / "mosquitto.conf").read_text()
    swaps = {
        "listener 8883": f"listener {tls_port} 127.0.0.1",
        "listener 1883": f"listener {plain_port} 127.0.0.1",
        "/mosquitto/config/certs/ca.crt": str(ca),
        "/mosquitto/config/certs/server.crt": str(cert),
        "/mosquitto/config/certs/server.key": str(key),
        "/mosquitto/config/passwd": str(tmp / "passwd"),
        "/mosquitto/config/acl": str(SHIPPED / "acl"),
        "persistence_location /mosquitto/data/": f"persistence_location {tmp}/",
        "log_dest stdout": f"log_dest file {tmp}/mosquitto.log",
    }
    for old, new in swaps.items():
        assert old in text, f"the shipped config changed: {old!r} is gone; update this test"
        text = text.replace(old, new)
    assert text.count("use_username_as_clientid true") == text.count("\nlistener "), "on every listener"
    if not bind_ids:  # the control run: what the binding prevents
        text = text.replace("use_username_as_clientid true", "")
    return ("user root\n" if os.geteuid() == 0 else "") + text


def start_broker(tmp: Path, *, bind_ids: bool = True) -> Broker:
    tmp.mkdir(parents=True, exist_ok=True)
    certs = _make_ca_and_server(tmp)
    passwd = tmp / "passwd"
    for i, (user, password) in enumerate(USERS.items()):
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if i == 0 else []), str(passwd), user, password],
                       check=True)  # fmt: skip
    passwd.chmod(0o600)
    tls_port, plain_port = free_port(), free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(shipped_conf(tmp, tls_port, plain_port, certs, bind_ids=bind_ids))
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_port(tls_port)
    wait_port(plain_port)
    return Broker(tls_port, plain_port, certs[0], proc, tmp / "mosquitto.log")


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = start_broker(tmp_path / "broker")
    yield b
    b.proc.kill()
    b.proc.wait()
    wait_port_closed(b.tls_port)


class Client:
    """A TLS MQTT 5 client logged in as one of USERS, collecting what it receives."""

    def __init__(self, broker: Broker, user: str, client_id: str, *, clean: bool = True) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.refused: str | None = None
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.username_pw_set(user, USERS[user])
        c.tls_set(ca_certs=str(broker.ca), cert_reqs=ssl.CERT_REQUIRED)
        c.on_message = self._on_message
        c.on_connect = self._on_connect
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean else 3600
        c.connect("127.0.0.1", broker.tls_port, clean_start=clean, properties=props)
        c.loop_start()
        assert self.connected.wait(20), f"{user} did not connect: {self.refused}"
        self.client = c

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            self.refused = str(rc)
        else:
            self.connected.set()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(20)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(20)

    def received(self, pattern: str) -> list[tuple[str, bytes, bool]]:
        with self.lock:
            return [m for m in self.messages if re.fullmatch(pattern, m[0])]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _data(gw: str, dev: str, seq: int) -> bytes:
    samples = [("temp", time.time_ns() - 1000 + seq, float(seq), 0)]
    return wire.encode(wire.Data(gw, dev, seq, time.time_ns(), samples))  # type: ignore[arg-type]


@pytest.mark.parametrize("bind_ids", [True, False], ids=["shipped", "control-without-binding"])
def test_a_gateway_account_cannot_take_over_the_collectors_session(tmp_path: Path, bind_ids: bool) -> None:
    broker = start_broker(tmp_path / "broker", bind_ids=bind_ids)
    try:
        collector = Client(broker, "collector", "plantproof-collector-1", clean=False)
        collector.subscribe("pp/v1/#")
        collector.close()  # offline: the broker queues for its session
        sender = Client(broker, "gw-b", "gw-b")
        for seq in range(20):
            sender.publish("pp/v1/s1/gw-b/m1/data", _data("gw-b", "m1", seq))
        sender.close()
        # a gateway account connects under the collector's client id, asking for a clean session
        intruder = Client(broker, "gw-a", "plantproof-collector-1", clean=True)
        intruder.close()
        collector = Client(broker, "collector", "plantproof-collector-1", clean=False)
        deadline = time.monotonic() + 5
        while len(collector.received(r"pp/v1/s1/gw-b/m1/data")) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        got = len(collector.received(r"pp/v1/s1/gw-b/m1/data"))
        collector.close()
    finally:
        broker.proc.kill()
        broker.proc.wait()
    if bind_ids:
        assert got == 20, "the collector's queued messages survive the attempt"
    else:
        assert got == 0, "without the binding the intruder wipes the collector's session"


async def test_the_shipped_acl_carries_the_watermark_and_refuses_forgery(
    tmp_path: Path, broker: Broker, pg_dsn: str
) -> None:
    migrate(pg_dsn)
    config = collector_config(
        tmp_path / "c.yaml", pg_dsn, "127.0.0.1", broker.tls_port,
        mqtt={"url": f"mqtts://127.0.0.1:{broker.tls_port}", "username": "collector",
              "password": USERS["collector"], "tls": {"ca": str(broker.ca)}},
    )  # fmt: skip
    collector = Collector(config, tmp_path / "c.log")
    collector.start()
    gw_b = Client(broker, "gw-b", "gw-b")
    gw_b.publish(
        "pp/v1/s1/gw-b/m9/birth",
        wire.encode(wire.Birth("gw-b", "m9", 0, time.time_ns(), INFO, POINTS)),
        retain=True,
    )
    wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM devices") == 1, 60, "gw-b's device")
    # the real gateway, over TLS as gw-a: its envelopes are stored and the watermark empties its spool
    path = write_config(
        tmp_path, f"mqtts://127.0.0.1:{broker.tls_port}", [modbus_device("m1", port=1502)], gateway_id="gw-a",
        site="s1", mqtt={"username": "gw-a", "password": USERS["gw-a"], "tls": {"ca": str(broker.ca)}},
    )  # fmt: skip
    gateway = Gateway(load_config(path), connect_devices=False)
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.started.wait(), 30)
        await asyncio.wait_for(gateway.client.connected.wait(), 30)
        for i in range(50):
            await gateway.ingest("m1", [RawReading("spindle_speed", time.time_ns(), float(i))])
        await gateway.flush(everything=True)
        deadline = time.monotonic() + 60
        while gateway.spool.stats().depth > 0 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        assert gateway.spool.stats().depth == 0, "the $stored watermark reached the gateway through the ACL"
        assert scalar(pg_dsn, "SELECT count(*) FROM readings") == 50
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    try:
        # a client with gw-a's credentials (the gateway is gone: one session per account) tries what
        # the ACL and the collector refuse
        attacker = Client(broker, "gw-a", "attacker")
        attacker.subscribe("pp/v1/s1/gw-b/#")
        attacker.publish("pp/v1/s1/gw-b/m9/data", _data("gw-b", "m9", 100))  # another gateway's prefix
        attacker.publish("pp/v1/s1/gw-b/$status", b"offline")
        forged = wire.encode_ack(wire.Stored("gw-a", 10**9, time.time_ns()))
        attacker.publish("pp/v1/s1/gw-a/$stored", forged, retain=True)  # its own watermark
        birth = wire.Birth("gw-a", "m9", 10_000, time.time_ns(), INFO, POINTS)
        attacker.publish("pp/v1/s1/gw-a/m9/birth", wire.encode(birth))  # its own prefix, gw-b's device
        gw_b.publish("pp/v1/s1/gw-b/m9/data", _data("gw-b", "m9", 1))
        wait_until(
            lambda: scalar(pg_dsn, "SELECT count(*) FROM envelopes WHERE gw = 'gw-b'") == 2, 30, "gw-b's data"
        )
        wait_until(lambda: scalar(pg_dsn, "SELECT count(*) FROM dead_letters") == 1, 30, "the refused birth")
        await asyncio.sleep(1.0)
        assert scalar(pg_dsn, "SELECT count(*) FROM envelopes WHERE gw = 'gw-b' AND seq = 100") == 0
        assert scalar(pg_dsn, "SELECT count(*) FROM gateways WHERE gw = 'gw-b' AND status = 'offline'") == 0
        owned = (
            "SELECT count(*) FROM dead_letters WHERE error = 'device ''m9'' at site ''s1'' is owned by gw-b'"
        )
        assert scalar(pg_dsn, owned) == 1
        assert scalar(pg_dsn, "SELECT count(*) FROM devices WHERE dev = 'm9' AND gw = 'gw-b'") == 1
        assert not attacker.received(r"pp/v1/s1/gw-b/.*"), "a gateway reads nothing of another gateway's"
        attacker.close()
        reader = Client(broker, "gw-a", "reader")
        reader.subscribe("pp/v1/s1/gw-a/$stored")
        wait_until(lambda: bool(reader.received(r"pp/v1/s1/gw-a/\$stored")), 10, "gw-a's retained watermark")
        [(_, payload, _)] = reader.received(r"pp/v1/s1/gw-a/\$stored")
        assert wire.decode_stored(payload).seq < 10**9, "a gateway cannot forge its watermark"
        reader.close()
        gw_b.close()
    finally:
        collector.stop()
        print(collector.output()[-2000:])


def test_the_size_limits_of_broker_gateway_and_collector_agree() -> None:
    from collector.settings import load_settings
    from gateway.config import MqttConfig

    conf = (SHIPPED / "mosquitto.conf").read_text()
    [broker_limit] = re.findall(r"^message_size_limit (\d+)$", conf, re.MULTILINE)
    shipped_collector = load_settings(ROOT / "configs" / "collector.yaml").limits.max_payload_bytes
    assert int(broker_limit) == MqttConfig().max_message_bytes == shipped_collector
    assert load_settings(None).limits.max_payload_bytes == shipped_collector


async def test_the_shipped_acl_lets_a_sparkplug_edge_node_and_host_through(
    tmp_path: Path, broker: Broker
) -> None:
    from wire import sparkplug as sp

    scada = Client(broker, "scada", "scada")
    scada.subscribe("spBv1.0/#")
    scada.publish("spBv1.0/STATE/scada", sp.encode_state(sp.HostState(True, int(time.time() * 1000))), True)
    path = write_config(
        tmp_path, f"mqtts://127.0.0.1:{broker.tls_port}", [modbus_device("m1", port=1502)], gateway_id="gw-a",
        site="s1", mqtt={"username": "gw-a", "password": USERS["gw-a"], "tls": {"ca": str(broker.ca)},
                         "format": "sparkplug"},
        sparkplug={"group_id": "plant1", "primary_host_id": "scada"},
    )  # fmt: skip
    gateway = Gateway(load_config(path), connect_devices=False)
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.started.wait(), 30)
        await asyncio.wait_for(gateway.client.connected.wait(), 30)
        await gateway.ingest("m1", [RawReading("spindle_speed", time.time_ns(), 1.0)])
        await gateway.flush(everything=True)
        for kind in ("NBIRTH/gw-a", "DBIRTH/gw-a/m1", "DDATA/gw-a/m1"):
            topic = f"spBv1.0/plant1/{kind}"
            await asyncio.to_thread(wait_until, lambda t=topic: bool(scada.received(t)), 30, kind)
        await asyncio.to_thread(
            scada.publish, "spBv1.0/plant1/NCMD/gw-a", sp.encode_payload(sp.rebirth_request(1))
        )
        rebirth = lambda: len(scada.received("spBv1.0/plant1/NBIRTH/gw-a")) == 2  # noqa: E731
        await asyncio.to_thread(wait_until, rebirth, 30, "the rebirth")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    wait_until(lambda: bool(scada.received("spBv1.0/plant1/NDEATH/gw-a")), 30, "the NDEATH")
    # gw-a's account cannot speak for another edge node, nor command one, nor pose as the host
    attacker = Client(broker, "gw-a", "attacker")
    attacker.publish("spBv1.0/plant1/DDATA/gw-b/m9", b"forged")
    attacker.publish("spBv1.0/plant1/NCMD/gw-b", sp.encode_payload(sp.rebirth_request(2)))
    attacker.publish("spBv1.0/STATE/scada", sp.encode_state(sp.HostState(False, 1)))
    attacker.close()
    gw_b = Client(broker, "gw-b", "gw-b")  # a control: gw-b's own data gets through
    gw_b.publish("spBv1.0/plant1/DDATA/gw-b/m9", b"genuine")
    wait_until(lambda: bool(scada.received("spBv1.0/plant1/DDATA/gw-b/m9")), 30, "gw-b's own DDATA")
    await asyncio.sleep(0.5)  # what the ACL refused would have arrived by now
    assert [m[1] for m in scada.received("spBv1.0/plant1/DDATA/gw-b/m9")] == [b"genuine"]
    assert not scada.received("spBv1.0/plant1/NCMD/gw-b")
    assert all(sp.decode_state(m[1]).online for m in scada.received("spBv1.0/STATE/scada"))
    gw_b.close()
    scada.close()
