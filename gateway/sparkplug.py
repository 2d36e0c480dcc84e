"""The gateway as a Sparkplug B 3.0 edge node: the second MQTT format, applied when a message is sent.

The spool keeps what the gateway decided to say in the JSON envelope v1 (birth, data, death of a
device), numbered with the gateway's own seq; that part of the gateway knows no format. This module
turns each spooled envelope into Sparkplug messages at the moment the publisher hands it to the
broker, because Sparkplug numbers messages per MQTT session:

- before every CONNECT (paho's thread) the next bdSeq is taken (persisted beside the spool, 255 → 0)
  and registered in the NDEATH Will;
- on every new session, and on a host's `Node Control/Rebirth`, the publisher first sends
  `births()`: NBIRTH with seq 0 and that bdSeq, then a DBIRTH for every device alive at this point
  of the stream, with its last values;
- then spooled envelopes in spool order, each given the next seq (mod 256) as it is sent: a birth
  becomes a DBIRTH, data DDATA (aliases, per-metric timestamps and Quality), a death DDEATH. A
  device's DBIRTH goes out just before its first DDATA of the session, carrying its values (so also
  where its birth was sent before a restart, or dropped by the spool's bound); a device that dies
  before any value is announced (its metrics null) and then declared dead. What was in flight when
  a session ended is sent again, renumbered, after the new session's births (infra.mqtt
  `fresh_sessions`).

A primary host's STATE going offline ends the session (NDEATH, DISCONNECT; a new one, new bdSeq,
waits for it); DDATA of envelopes made before their session began publishing are `is_historical`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from devicemodel.devicetype import PointSpec
from gateway.config import GatewayConfig
from gateway.errors import GatewayConfigError
from gateway.spool import SpoolEntry
from infra.mqtt import Will
from wire import Data, WireError, decode
from wire import sparkplug as sp
from wire.envelope import Sample, SampleWithStatus, Value
from wire.sparkplug import DataType, MessageType, Metric, Payload, PropertyValue

log = logging.getLogger("plantproof.gateway.sparkplug")
Outgoing = tuple[str, bytes, bool]  # topic, payload, retain
PROPERTIES = "Properties/"  # BIRTH-only metrics saying what a device is: type, industry, sector, …
KIND = "kind"
WRAP = "wrap"
_INTEGERS = {
    "int16": (DataType.INT16, -(2**15), 2**15 - 1),
    "uint16": (DataType.UINT16, 0, 2**16 - 1),
    "int32": (DataType.INT32, -(2**31), 2**31 - 1),
    "uint32": (DataType.UINT32, 0, 2**32 - 1),
    "int64": (DataType.INT64, -(2**63), 2**63 - 1),
}


@dataclass(frozen=True, slots=True)
class MetricDef:
    name: str
    alias: int
    datatype: DataType
    unit: str
    scale: float
    kind: str  # analog, state, counter, …: a `kind` property, as hosts that keep a device model read it
    wrap: float | None  # where a counter register wraps to zero: a `wrap` property


def datatype_for(spec: PointSpec) -> DataType:
    """The Sparkplug datatype of a point's published (engineering) value."""
    if spec.kind == "state" or spec.dtype == "string":
        return DataType.STRING  # canonical state names
    if spec.dtype == "bool":
        return DataType.BOOLEAN
    if spec.dtype in _INTEGERS and spec.scale == 1.0 and spec.offset == 0.0:
        return _INTEGERS[spec.dtype][0]  # unscaled integers stay exact
    return DataType.DOUBLE


def coerce(datatype: DataType, value: Value) -> Value:
    """The value as its metric's datatype holds it; raises WireError where it cannot, exactly."""
    if value is None:
        return None
    if datatype == DataType.STRING:
        return str(value)
    if datatype == DataType.BOOLEAN:
        if isinstance(value, bool):
            return value
    elif datatype == DataType.DOUBLE:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        number = int(value)
        _, low, high = next(v for v in _INTEGERS.values() if v[0] == datatype)
        if low <= number <= high:
            return number
    raise WireError(f"{value!r} does not fit {datatype.spec_name}", "value")


@dataclass(frozen=True, slots=True)
class Write:
    dev: str
    point: str
    value: object


@dataclass(frozen=True, slots=True)
class Order:
    """What a host's command asks of the edge node."""

    rebirth: bool = False
    writes: tuple[Write, ...] = ()
    end_session: bool = False  # the primary host went offline: NDEATH, disconnect, connect again


def _ms(ns: int) -> int:
    return ns // 1_000_000


class SparkplugNode:
    """Edge-node state: bdSeq, seq, aliases, the devices born on this session and their last values."""

    fresh_sessions = True  # the publisher's framer: numbering restarts with every MQTT session

    def __init__(self, config: GatewayConfig) -> None:
        assert config.sparkplug is not None
        self.group = config.sparkplug.group_id
        self.edge_node = config.edge_node_id
        self.data_datatypes = config.sparkplug.data_datatypes
        self.primary_host = config.sparkplug.primary_host_id
        self._host_online_on: int | None = None  # the session on which the host said online
        self._host_seen_ms = -1  # timestamp of the newest STATE seen: older ones are stale
        self._publishing_on: int | None = None  # the session publishing began on,
        self._publishing_since_ns = 0  # and when: envelopes older than that waited in the spool
        try:
            for device in config.devices:
                sp.edge_topic(self.group, MessageType.DBIRTH, self.edge_node, device.id)
        except WireError as exc:
            raise GatewayConfigError(f"sparkplug: {exc}") from None
        self.defs: dict[str, dict[str, MetricDef]] = {}
        self.described: dict[str, tuple[Metric, ...]] = {}
        alias = 0
        for device in config.devices:
            defs = {}
            for spec in device.device_type.points:
                alias += 1  # unique across the edge node, stable while the config is
                defs[spec.name] = MetricDef(
                    spec.name, alias, datatype_for(spec), spec.unit, spec.scale, spec.kind, spec.wrap
                )
            self.defs[device.id] = defs
            dt = device.device_type
            # what the device is, as BIRTH-only metrics (the plantproof collector registers it by them)
            described = {"type": dt.type, "industry": dt.industry, "sector": dt.sector}
            described |= {k: v for k, v in (("line", device.line), ("area", device.area)) if v}
            metrics = [Metric(DataType.STRING, v, name=f"{PROPERTIES}{k}") for k, v in described.items()]
            if device.simulated:  # the collector keeps it out of the headline figures, as in JSON
                metrics.append(Metric(DataType.BOOLEAN, True, name=f"{PROPERTIES}simulated"))
            if dt.ideal_rate_per_hour:  # the collector's counter rules read it, as in JSON
                rate = float(dt.ideal_rate_per_hour)
                metrics.append(Metric(DataType.DOUBLE, rate, name=f"{PROPERTIES}ideal_rate_per_hour"))
            self.described[device.id] = tuple(metrics)
        self.bdseq_path = config.spool.path.with_name(config.spool.path.name + ".bdseq")
        self._last_bdseq = self._read_bdseq()
        self.bdseq = 0 if self._last_bdseq is None else sp.next_bdseq(self._last_bdseq)
        self.seq = 0
        self.alive: dict[str, None] = {}  # devices with a DBIRTH on this session, in birth order
        self.last: dict[str, dict[str, Metric]] = {}  # device → point → last DDATA metric
        self.births_sent = 0
        self.limit = limit = config.mqtt.max_message_bytes
        for dev in self.defs:
            size = len(self._dbirth(dev, 0)[1])
            if size > limit:
                raise GatewayConfigError(
                    f"device {dev}: its DBIRTH takes {size} bytes, more than mqtt.max_message_bytes ({limit})"
                )
        self.seq = 0  # the size checks above numbered messages nobody sent

    # --- topics ----------------------------------------------------------------------------------
    def topic(self, kind: MessageType, dev: str | None = None) -> str:
        return sp.edge_topic(self.group, kind, self.edge_node, dev)

    def subscriptions(self) -> tuple[str, ...]:
        topics = (self.topic(MessageType.NCMD), f"{sp.NAMESPACE}/{self.group}/DCMD/{self.edge_node}/+")
        return topics if self.primary_host is None else (*topics, sp.state_topic(self.primary_host))

    # --- the primary host ------------------------------------------------------------------------
    def ready_for(self, session: int) -> bool:
        """Whether to publish on this MQTT session: always without a primary host, else only once
        its STATE said online on this session (a retained STATE arrives on every subscription)."""
        ready = self.primary_host is None or self._host_online_on == session
        if ready and self._publishing_on != session:
            self._publishing_on, self._publishing_since_ns = session, time.time_ns()
        return ready

    def _host_state(self, payload: bytes, session: int) -> Order:
        try:
            state = sp.decode_state(payload)
        except WireError as exc:
            log.warning("ignored the STATE of host %s: %s", self.primary_host, exc)
            return Order()
        if state.timestamp < self._host_seen_ms:
            log.info("ignored a STATE of host %s older than the last one", self.primary_host)
            return Order()
        self._host_seen_ms = state.timestamp
        if not state.online:
            was = self._host_online_on
            self._host_online_on = None
            if was == session:
                log.warning("primary host %s offline: ending the session (NDEATH), holding data in"
                            " the spool", self.primary_host)  # fmt: skip
                return Order(end_session=True)
            return Order()
        was = self._host_online_on
        self._host_online_on = session
        if was != session:
            log.info("primary host %s online: publishing", self.primary_host)
        return Order(rebirth=was is None)  # births before what waited

    def owns(self, topic: str) -> bool:
        return topic.startswith(sp.NAMESPACE + "/")

    def command(self, topic: str, payload: bytes, session: int = 0) -> Order:
        """What a host's NCMD or DCMD asks: a rebirth, or setpoint writes (metrics by name or alias);
        or the primary host's STATE, received on MQTT session number `session`."""
        if self.primary_host is not None and topic == sp.state_topic(self.primary_host):
            return self._host_state(payload, session)
        try:
            parsed = sp.parse_topic(topic)
            dev = parsed.device_id
            defs = self.defs.get(dev or "", {})
            if parsed.message_type == MessageType.DCMD and not defs:
                raise WireError(f"unknown device {dev!r}", "device_id")
            datatypes: dict[int | str, DataType] = {sp.REBIRTH: DataType.BOOLEAN}
            for d in defs.values():
                datatypes[d.alias] = datatypes[d.name] = d.datatype
            message = sp.decode_payload(payload, datatypes=datatypes)
        except WireError as exc:
            log.warning("ignored a Sparkplug command on %s: %s", topic, exc)
            return Order()
        if parsed.message_type == MessageType.NCMD:
            if sp.is_rebirth_request(message):
                log.info("rebirth requested on %s", topic)
                return Order(rebirth=True)
            log.warning("ignored an NCMD on %s: only %s is supported", topic, sp.REBIRTH)
            return Order()
        by_alias = {d.alias: d.name for d in defs.values()}
        writes = []
        for metric in message.metrics:
            name = metric.name if metric.name in defs else by_alias.get(metric.alias or -1)
            if name is None:
                log.warning("ignored a DCMD metric %s on %s: no such metric", metric.label, topic)
                continue
            writes.append(Write(str(dev), name, metric.value))
        return Order(writes=tuple(writes))

    # --- bdSeq: one per CONNECT, persisted --------------------------------------------------------
    def _read_bdseq(self) -> int | None:
        try:
            value = int(self.bdseq_path.read_text().strip())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("%s unreadable (%s): bdSeq starts again at 0", self.bdseq_path, exc)
            return None
        return value if 0 <= value < sp.SEQ_MODULUS else None

    def _write_bdseq(self, value: int) -> None:
        tmp = self.bdseq_path.with_name(self.bdseq_path.name + ".tmp")
        tmp.write_text(f"{value}\n")
        os.replace(tmp, self.bdseq_path)

    def will_for_connect(self) -> Will:
        """Called on paho's thread before every CONNECT: the next bdSeq, persisted, in the NDEATH."""
        if self._last_bdseq is not None:
            self.bdseq = sp.next_bdseq(self._last_bdseq)
        self._last_bdseq = self.bdseq
        try:
            self._write_bdseq(self.bdseq)
        except OSError as exc:  # a restart would reuse this bdSeq; the session still works
            log.error("cannot persist bdSeq in %s: %s", self.bdseq_path, exc)
        return Will(self.topic(MessageType.NDEATH), self.ndeath()[1], retain=False)

    def ndeath(self) -> Outgoing:
        """The NDEATH of this session: the Will, and what an orderly stop sends itself."""
        payload = sp.ndeath_payload(self.bdseq, _ms(time.time_ns()))
        return self.topic(MessageType.NDEATH), sp.encode_payload(payload), False

    # --- what the publisher sends -----------------------------------------------------------------
    def _next_seq(self) -> int:
        seq = self.seq
        self.seq = sp.next_seq(seq)
        return seq

    def births(self) -> list[Outgoing]:
        """NBIRTH (seq 0, this session's bdSeq) and a DBIRTH for every device alive."""
        now = _ms(time.time_ns())
        self.seq = 0
        self.births_sent += 1
        nbirth = Payload(
            timestamp=now,
            seq=self._next_seq(),
            metrics=(sp.bdseq_metric(self.bdseq, now), sp.rebirth_metric(now)),
        )
        out = [(self.topic(MessageType.NBIRTH), sp.encode_payload(nbirth), False)]
        return out + [self._dbirth(dev, now) for dev in self.alive]

    def frame(self, entry: SpoolEntry) -> list[Outgoing]:
        """The Sparkplug messages of one spooled envelope, numbered now."""
        dev = entry.dev
        kind = entry.topic.rsplit("/", 1)[-1]
        if dev not in self.defs:
            log.warning("spooled %s of device %r, which this config does not have: not sent", kind, dev)
            return []
        now = _ms(time.time_ns())
        if kind == "birth":
            if not self.last.get(dev):
                # no value known yet: the DBIRTH waits for the first data, to carry its values
                self.alive.pop(dev, None)
                return []
            self.alive[dev] = None
            return [self._dbirth(dev, now)]
        if kind == "death":
            # a device never seen is announced (its metrics null) before its death, as in JSON
            announce = [] if dev in self.alive else [self._dbirth(dev, now)]
            self.alive.pop(dev, None)
            self.last.pop(dev, None)
            payload = Payload(timestamp=now, seq=self._next_seq())
            return [*announce, (self.topic(MessageType.DDEATH, dev), sp.encode_payload(payload), False)]
        try:
            envelope = decode(entry.payload)
        except WireError as exc:
            log.warning("spooled envelope %d on %s unreadable (%s): not sent", entry.seq, entry.topic, exc)
            return []
        if not isinstance(envelope, Data):
            log.warning("spooled %s on %s is no data envelope: not sent", kind, entry.topic)
            return []
        out: list[Outgoing] = []
        historical = envelope.sent < self._publishing_since_ns
        metrics = self._metrics(dev, envelope.samples, historical)  # first: the DBIRTH carries them too
        if dev not in self.alive:
            self.alive[dev] = None
            out.append(self._dbirth(dev, now))
        topic = self.topic(MessageType.DDATA, dev)
        return out + [(topic, data, False) for data in self._ddata(metrics, envelope.sent)]

    def _ddata(self, metrics: Sequence[Metric], sent_ns: int) -> list[bytes]:
        """DDATA payloads of the metrics, split where one would exceed mqtt.max_message_bytes (the v1
        envelope fitted, but with very short point names a DDATA can be the larger)."""
        seq = self._next_seq()
        payload = Payload(timestamp=_ms(sent_ns), seq=seq, metrics=tuple(metrics))
        data = sp.encode_payload(payload, with_datatypes=self.data_datatypes)
        if len(data) <= self.limit or len(metrics) <= 1:
            return [data]
        self.seq = seq  # not sent: the halves take this seq and the next
        half = len(metrics) // 2
        return self._ddata(metrics[:half], sent_ns) + self._ddata(metrics[half:], sent_ns)

    def _metrics(
        self, dev: str, samples: Sequence[Sample | SampleWithStatus], historical: bool = False
    ) -> list[Metric]:
        defs = self.defs[dev]
        last = self.last.setdefault(dev, {})
        out = []
        for sample in samples:
            point, ts, value, quality = sample[0], sample[1], sample[2], sample[3]
            d = defs.get(point)
            if d is None:
                continue
            try:
                held = coerce(d.datatype, value)
            except WireError as exc:
                log.warning("device %s point %s: %s; sent as a bad null", dev, d.name, exc)
                held, quality = None, 2
            props = {sp.QUALITY: sp.quality_property(quality)}
            metric = Metric(d.datatype, held, alias=d.alias, timestamp=_ms(ts), is_historical=historical,
                            properties=props)  # fmt: skip
            last[d.name] = metric
            out.append(metric)
        return out

    def _dbirth(self, dev: str, now: int) -> Outgoing:
        last = self.last.get(dev, {})
        metrics = []
        for d in self.defs[dev].values():
            seen = last.get(d.name)
            quality = seen.properties[sp.QUALITY] if seen and seen.properties else sp.quality_property(1)
            props: dict[str, PropertyValue] = {
                sp.ENG_UNIT: PropertyValue(DataType.STRING, d.unit),
                sp.SCALE: PropertyValue(DataType.DOUBLE, d.scale),
                KIND: PropertyValue(DataType.STRING, d.kind),
                sp.QUALITY: quality,
            }
            if d.wrap is not None:
                props[WRAP] = PropertyValue(DataType.DOUBLE, float(d.wrap))
            metrics.append(
                Metric(
                    d.datatype,
                    seen.value if seen else None,
                    name=d.name,
                    alias=d.alias,
                    timestamp=seen.timestamp if seen else now,
                    properties=props,
                )
            )
        metrics.extend(self.described[dev])  # no timestamp: they hold for the whole BIRTH
        payload = Payload(timestamp=now, seq=self._next_seq(), metrics=tuple(metrics))
        return self.topic(MessageType.DBIRTH, dev), sp.encode_payload(payload), False
