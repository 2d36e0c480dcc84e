"""The gateway as a Sparkplug edge node under the PyPI `aiospb` host application (its own Python
>= 3.12 venv; skipped with the reason where there is none): a gateway process, a Modbus simulator,
a real Mosquitto.

What aiospb checks by itself: the NBIRTH's bdSeq against the NDEATH's (one of another bdSeq it
drops with "Lost of node death"), a bdSeq that is neither the same nor the next on a rebirth
("Incorrect bdSeq"), and seq continuity, answered by its own `Node Control/Rebirth` NCMD. It keeps
one seq counter per topic key, and only an NBIRTH starts one: so it drops every DBIRTH and DDATA of
an edge node that numbers node and device messages in one sequence, as the specification says
("Lost Message by no birth"; aiospb 8.1.3, aiospb/messages/hosts.py `_Sorter.push_pack` and
`HostMessageSession._process_pack`). Those it still decodes; this test checks what it decoded.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from simulators.servers.modbus import SimModbusServer
from tests.gateway.aiospb_host import AiospbHost, Event, aiospb_python
from tests.gateway.helpers import RampSource, Subscriber, modbus_device, write_config
from tests.gateway.sparkplug_helpers import of
from tests.gateway.test_sparkplug import STEADY
from tests.processes import GatewayProcess
from tests.servers import MosquittoServer, free_port
from tests.test_fault_matrix import _spool
from wire import sparkplug as sp
from wire.sparkplug import Payload

GROUP = "plant1"
DEVICES = ("cnc-1", "cnc-2")
CONNECTED = re.compile(r"^plantproof_gateway_mqtt_connected (\S+)$", re.M)


def _connected(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            found = CONNECTED.search(response.read().decode())
    except OSError:
        return False  # not listening yet
    return found is not None and float(found.group(1)) == 1.0


async def _until(check: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(0.2)


def _held(spool: Path) -> int:
    try:
        return _spool(spool)[0]
    except sqlite3.OperationalError:
        return 0  # not made yet


def _kind(event: Event) -> str:
    return str(event["topic"]).split("/")[2]


def _forge(broker: MosquittoServer, topic: str, seq: int) -> None:
    """A message on the gateway's own topic whose seq skips one: what a lost message looks like."""
    payload = Payload(timestamp=int(time.time() * 1000), seq=seq, metrics=())
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"fault-{uuid.uuid4().hex[:6]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(topic, sp.encode_payload(payload), qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


@pytest.fixture()
async def sim() -> AsyncIterator[SimModbusServer]:
    server = SimModbusServer(RampSource({"cnc-1": 1, "cnc-2": 2}), port=0)
    await server.start()
    yield server
    await server.stop()


async def test_aiospb_host_waits_births_rebirths_on_a_gap_and_matches_the_will(
    tmp_path: Path, mqtt_broker: MosquittoServer, sim: SimModbusServer
) -> None:
    python = aiospb_python()  # or skip, before anything starts
    tag = uuid.uuid4().hex[:6]
    edge, host_id, metrics_port = f"gw-{tag}", f"scada-{tag}", free_port()
    config = write_config(
        tmp_path, mqtt_broker.url, [modbus_device(d, sim.port, u) for u, d in enumerate(DEVICES, 1)],
        gateway_id=edge, mqtt={"format": "sparkplug"}, metrics={"port": metrics_port},
        # aiospb decodes each DDATA metric by its own datatype (an absent one: KeyError, message lost)
        sparkplug={"group_id": GROUP, "primary_host_id": host_id, "data_datatypes": True},
    )  # fmt: skip
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, topic=f"spBv1.0/{GROUP}/+/{edge}/#").start()
    gateway = GatewayProcess(config, tmp_path / "gateway.log")
    host: AiospbHost | None = None
    try:
        gateway.start()
        # connected and reading, and silent: no primary host online yet
        await _until(lambda: _connected(metrics_port), 30, "the gateway's MQTT connection")
        await _until(lambda: _held(tmp_path / "spool.db") >= 4, 30, "data held in the spool")
        assert not of(sub, edge), "the gateway published before its primary host's STATE"

        host = AiospbHost(python, mqtt_broker.host, mqtt_broker.port, host_id, GROUP, tmp_path / "aiospb.log")
        node_topic = f"spBv1.0/{GROUP}/NBIRTH/{edge}"

        def arrived(kind: str | None = None, after: Event | None = None) -> list[Event]:
            """This edge node's messages as aiospb decoded them, in order; only those after `after`."""
            with host.cond:
                events = list(host.events)
            if after is not None:
                events = events[next(i for i, e in enumerate(events) if e is after) + 1 :]
            mine = [e for e in events if e["event"] == "arrived" and f"/{edge}" in e["topic"]]
            return [e for e in mine if kind is None or _kind(e) == kind]

        def born() -> bool:
            return {e["topic"].rsplit("/", 1)[1] for e in arrived("DBIRTH")} == set(DEVICES) and sum(
                _kind(e) == "DDATA" for e in arrived()
            ) >= 8

        await host.wait_for(born, 45, "NBIRTH, both DBIRTHs and DDATA")
        # the STATE aiospb published (retained, QoS 1) came before the gateway's first message
        first = next(i for i, e in enumerate(host.events) if e is arrived()[0])
        states = [e for e in host.events[:first] if e["event"] == "sent"]
        assert [(s["topic"], s["retain"], s["qos"], s["state"]["online"]) for s in states] == [
            (f"spBv1.0/STATE/{host_id}", True, 1, True)
        ]
        nbirth = arrived()[0]
        assert (nbirth["topic"], nbirth["seq"], nbirth["bdSeq"]) == (node_topic, 0, 0)
        # aiospb accepted the NBIRTH; the device messages it drops (the module's docstring says why)
        assert [e["key"] for e in host.of("accepted", type="NBIRTH")] == [f"{GROUP}/{edge}"]
        assert not host.of("accepted", type="DDATA") and not host.of("accepted", type="DBIRTH")
        assert any("Lost Message by no birth" in e["message"] for e in host.of("log"))

        # what aiospb decoded: seq continuous mod 256, every DDATA alias named by its DBIRTH
        session = arrived()
        seqs = [e["seq"] for e in session]
        assert seqs == [i % 256 for i in range(len(seqs))], seqs
        names = {(e["topic"].rsplit("/", 1)[1], m["alias"]): m["name"] for e in arrived("DBIRTH")
                 for m in e["metrics"] if m["alias"] is not None}  # fmt: skip
        latest: dict[tuple[str, str], object] = {}
        for e in arrived("DDATA"):
            dev = e["topic"].rsplit("/", 1)[1]
            for m in e["metrics"]:
                assert m["name"] is None and (dev, m["alias"]) in names, ("DATA by alias only", e)
                latest[(dev, names[(dev, m["alias"])])] = m["value"]
        for dev in DEVICES:
            for point in STEADY:
                assert latest[(dev, point)] == sim.expected(dev)[point], (dev, point)
        held = [m["historical"] for e in arrived("DDATA") for m in e["metrics"]]
        assert True in held, "what waited for the host is flagged historical"

        # a gap: aiospb asks for a rebirth, the gateway answers NBIRTH (same bdSeq, seq 0), DBIRTHs
        # (an NDATA: aiospb counts seq on the node's topic key only, see above)
        last = arrived()[-1]["seq"]
        _forge(mqtt_broker, f"spBv1.0/{GROUP}/NDATA/{edge}", (last + 2) % 256)
        ncmd = f"spBv1.0/{GROUP}/NCMD/{edge}"
        await host.wait_for(lambda: bool(host.of("sent", topic=ncmd)), 20, "a rebirth request")
        request = host.of("sent", topic=ncmd)[0]
        assert request["metrics"] == [
            {"name": sp.REBIRTH, "alias": None, "datatype": "Boolean", "value": True, "historical": False}
        ]
        await host.wait_for(lambda: len(arrived("DBIRTH", after=request)) >= 2, 20, "the rebirth")
        later = arrived(after=request)
        at = [i for i, e in enumerate(later) if _kind(e) == "NBIRTH"]
        assert [(later[i]["seq"], later[i]["bdSeq"]) for i in at] == [(0, 0)]
        births = later[at[0] : at[0] + 3]
        assert [(_kind(e), e["seq"]) for e in births] == [("NBIRTH", 0), ("DBIRTH", 1), ("DBIRTH", 2)]
        assert len(host.of("accepted", type="NBIRTH")) == 2 and len(host.of("sent", topic=ncmd)) == 1

        # killed: the broker sends the gateway's Will, and aiospb accepts it as this NBIRTH's NDEATH
        gateway.kill()
        await host.wait_for(lambda: bool(host.of("accepted", type="NDEATH")), 30, "the NDEATH Will")
        assert [e["bdSeq"] for e in arrived("NDEATH")] == [0]
        warnings = " ".join(e["message"] for e in host.of("log"))
        assert "Lost of node death" not in warnings and "Incorrect bdSeq" not in warnings
    finally:
        gateway.stop()
        if host is not None:
            host.close()
        sub.stop()
    assert host.of("sent")[-1]["state"]["online"] is False, "aiospb's orderly end: STATE offline"
