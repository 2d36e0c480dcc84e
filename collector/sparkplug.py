"""The collector as a Sparkplug B host application: each edge node's session, followed in order.

Pure: no I/O, the clock is passed in. The pipeline hands every Sparkplug message here in the order
received; what comes out is registry traffic and readings in the shape of the JSON envelope v1
(`wire.Birth`, `wire.Data`, `wire.Death`) for `collector.sparkplug_store`, dead letters, and the
edge nodes to ask for a rebirth.

Per edge node (group, edge node) it keeps the bdSeq of the NBIRTH, the last seq (mod 256) and the
metric names and datatypes of the NBIRTH and of each DBIRTH by alias. What cannot be read for sure
is never guessed: DATA before its BIRTH, an unknown alias, a seq gap make a dead letter with the
reason and a rebirth request (NCMD `Node Control/Rebirth`, at most one per node per interval);
after a gap every message of the node is refused until its next NBIRTH. A message seen again with
the same seq and digest in the same session (a redelivery) is a duplicate. A Sparkplug device is a
device: site = group, gateway = `{group}/{edge node}`, device = device id; the metrics of an
NBIRTH (other than bdSeq, `Node Control/*`, `Properties/*`) are a device named after the edge node.
"""

# layering: pure

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import wire
from collector.decode import DeadLetter, Limits, Message, dead_letter
from wire import sparkplug as sp
from wire.sparkplug import DataType, MessageType, Metric, Payload

_NS_PER_MS = 1_000_000
PROPERTY_PREFIX = "Properties/"
_CONTROL_PREFIXES = ("Node Control/", "Device Control/")
# Sparkplug datatypes stored as readings, and the point dtype each becomes.
DTYPES: Mapping[DataType, str] = {
    DataType.INT8: "int16",
    DataType.INT16: "int16",
    DataType.INT32: "int32",
    DataType.INT64: "int64",
    DataType.UINT8: "uint16",
    DataType.UINT16: "uint16",
    DataType.UINT32: "uint32",
    DataType.UINT64: "int64",  # a value beyond int64 is refused by the store, never truncated
    DataType.FLOAT: "float32",
    DataType.DOUBLE: "float64",
    DataType.BOOLEAN: "bool",
    DataType.STRING: "string",
    DataType.TEXT: "string",
    DataType.DATETIME: "int64",  # milliseconds since the epoch
}
_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_INDUSTRY = re.compile(r"^[A-Z][0-9]{2,4}$")
_BIRTHS_KEPT = 16
_KINDS = frozenset(("analog", "state", "counter", "energy", "switch", "setpoint"))


@dataclass(frozen=True, slots=True)
class DeviceType:
    """A mapping entry: a shell pattern over `group/edge_node/device` and what the device is."""

    match: str
    type: str
    industry: str
    sector: str


@dataclass(frozen=True, slots=True)
class Identity:
    """A Sparkplug message's name in the ledger: seq wraps at 256, so bdSeq, the payload timestamp
    and the payload's SHA-256 go with it (-1 where the message carries no seq or timestamp)."""

    group: str
    edge_node: str
    bdseq: int
    seq: int
    timestamp: int
    sha256: str
    message_type: str
    device: str | None


@dataclass(frozen=True, slots=True)
class Interpreted:
    topic: str
    payload: bytes
    identity: Identity
    site: str
    gw: str
    # registry traffic or readings; None for a message that stores nothing but its ledger entry
    envelope: wire.Birth | wire.Data | wire.Death | None
    online: bool | None = None  # NBIRTH: the gateway is online; NDEATH: offline
    values: wire.Data | None = None  # a BIRTH's metric values: readings like DATA's


@dataclass(frozen=True, slots=True)
class Refused:
    letter: DeadLetter
    # (group, edge node, seq, timestamp, sha256) when known: a message the ledger already holds is a
    # redelivery after a restart (the session state was lost), not a dead letter
    probe: tuple[str, str, int, int, str] | None = None


@dataclass(slots=True)
class Outcome:
    interpreted: list[Interpreted] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    rebirths: list[tuple[str, str]] = field(default_factory=list)  # (group, edge node)
    duplicates: int = 0
    ignored: int = 0  # STATE, commands, a stale NDEATH


class _Table:
    """Names and datatypes of one BIRTH's metrics; `points` are those stored as readings."""

    def __init__(self, metrics: Sequence[Metric]) -> None:
        self.by_alias: dict[int, tuple[str, DataType]] = {}
        self.by_name: dict[str, DataType] = {}
        for m in metrics:
            if m.name is None:
                continue
            self.by_name[m.name] = m.datatype
            if m.alias is not None:
                self.by_alias[m.alias] = (m.name, m.datatype)

    def datatypes(self) -> dict[int | str, DataType]:
        out: dict[int | str, DataType] = {a: t for a, (_, t) in self.by_alias.items()}
        for name, datatype in self.by_name.items():
            out[name] = datatype
        return out


@dataclass(slots=True)
class _Node:
    bdseq: int
    seq: int
    tables: dict[str, _Table] = field(default_factory=dict)  # device id (edge node id: its own) →
    recent: dict[int, str] = field(default_factory=dict)  # seq → digest of this session's messages
    gap: str | None = None  # why the node is out of step until its next NBIRTH


class Host:
    def __init__(
        self, limits: Limits, devices: Sequence[DeviceType] = (), rebirth_interval_s: float = 10.0
    ) -> None:
        self.limits = limits
        self.devices = tuple(devices)
        self.rebirth_interval_s = rebirth_interval_s
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._asked: dict[tuple[str, str], float] = {}  # when a rebirth was last requested
        self._births: dict[tuple[str, str], deque[str]] = {}  # digests of recent NBIRTHs per node

    def interpret(self, messages: Sequence[Message], now_s: float) -> Outcome:
        """The messages in the order received; `now_s` (monotonic) paces rebirth requests."""
        out = Outcome()
        for m in messages:
            size = len(m.payload) if m.size is None else m.size
            if size > self.limits.max_payload_bytes:
                why = f"oversized: {size} bytes > limit {self.limits.max_payload_bytes}"
                out.refused.append(Refused(dead_letter(m.topic, m.payload, why, self.limits, size)))
                continue
            self._one(m.topic, bytes(m.payload), now_s, out)
        return out

    # -- one message -----------------------------------------------------------------------------
    def _one(self, topic: str, payload: bytes, now_s: float, out: Outcome) -> None:
        try:
            t = sp.parse_topic(topic)
        except wire.WireError as exc:
            out.refused.append(Refused(self._letter(topic, payload, f"bad topic: {exc}")))
            return
        mt = t.message_type
        if mt in (MessageType.STATE, MessageType.NCMD, MessageType.DCMD):
            out.ignored += 1  # host states and commands (our own rebirth requests too)
            return
        key = (t.group_id, t.edge_node_id)
        node = self._nodes.get(key)
        digest = hashlib.sha256(payload).hexdigest()
        table = None
        if node is not None and mt != MessageType.NBIRTH:
            table = node.tables.get(t.device_id or t.edge_node_id)
        try:
            decoded = sp.decode_payload(payload, datatypes=table.datatypes() if table else None)
        except wire.WireError as exc:
            if mt in (MessageType.NDATA, MessageType.DDATA) and "none known from a birth" in str(exc):
                return self._unreadable(out, key, node, topic, payload, digest, exc, now_s)
            why = f"invalid Sparkplug payload at {exc.field}: {exc}"
            out.refused.append(Refused(self._letter(topic, payload, why)))
            return
        ts = decoded.timestamp if decoded.timestamp is not None else -1
        if mt == MessageType.NBIRTH:
            return self._nbirth(t, topic, payload, decoded, digest, ts, out)
        if mt == MessageType.NDEATH:
            return self._ndeath(t, topic, payload, decoded, digest, ts, out)
        seq = decoded.seq
        if seq is None or not 0 <= seq < sp.SEQ_MODULUS:
            out.refused.append(
                Refused(self._letter(topic, payload, f"sparkplug: {mt} without a seq in 0..255"))
            )
            return
        probe = (key[0], key[1], seq, ts, digest)
        if node is None:
            why = f"sparkplug: no NBIRTH yet for edge node {key[0]}/{key[1]} ({mt} seq {seq})"
            return self._refuse(out, key, topic, payload, why, now_s, probe)
        if node.recent.get(seq) == digest:
            out.duplicates += 1  # a redelivery within the session: the first copy is stored
            return
        if node.gap is not None:
            why = f"sparkplug: edge node {key[0]}/{key[1]} out of step ({node.gap}); awaiting its NBIRTH"
            return self._refuse(out, key, topic, payload, why, now_s, probe)
        if not sp.seq_follows(node.seq, seq):
            node.gap = f"seq gap: expected {sp.next_seq(node.seq)}, got {seq}"
            why = f"sparkplug: {node.gap} from edge node {key[0]}/{key[1]}"
            return self._refuse(out, key, topic, payload, why, now_s, probe)
        node.seq = seq
        node.recent[seq] = digest
        ident = Identity(key[0], key[1], node.bdseq, seq, ts, digest, str(mt), t.device_id)
        gw = gateway_id(*key)
        dev = t.device_id or t.edge_node_id
        values = None
        try:
            if mt == MessageType.DBIRTH:
                assert t.device_id is not None
                node.tables[t.device_id] = born = _Table(decoded.metrics)
                env: wire.Birth | wire.Data | wire.Death | None = self._birth(t.group_id, gw, dev, decoded)
                values = self._data(gw, dev, decoded, born)
            elif mt == MessageType.DDEATH:
                node.tables.pop(dev, None)
                env = wire.Death(gw, dev, 0, _ns(ts, "payload"), "DDEATH")
            else:
                if table is None:
                    births = "DBIRTH" if t.device_id is not None else "NBIRTH metric"
                    raise _Missing(f"sparkplug: no {births} for {dev!r} of edge node {key[0]}/{key[1]}")
                env = self._data(gw, dev, decoded, table)
        except _Missing as exc:
            return self._refuse(out, key, topic, payload, str(exc), now_s, probe)
        except wire.WireError as exc:
            out.refused.append(Refused(self._letter(topic, payload, f"sparkplug: {exc}")))
            return
        out.interpreted.append(Interpreted(topic, payload, ident, t.group_id, gw, env, values=values))

    def _unreadable(self, out: Outcome, key: tuple[str, str], node: _Node | None, topic: str, payload: bytes,
                    digest: str, exc: wire.WireError, now_s: float) -> None:  # fmt: skip
        """DATA whose metrics have no datatype and whose alias no BIRTH of this session announced."""
        ts, seq = sp.peek(payload)
        probe = (key[0], key[1], seq, -1 if ts is None else ts, digest) if seq is not None else None
        if node is None:
            why = f"sparkplug: no NBIRTH yet for edge node {key[0]}/{key[1]} (unreadable without it: {exc})"
        else:
            where = (exc.field or "metrics").rsplit(".", 1)[0]
            why = f"sparkplug: {where}: unknown alias (no datatype on the wire and none from a BIRTH)"
            if seq is not None and node.recent.get(seq) == digest:
                out.duplicates += 1
                return
            node.gap = node.gap or f"unreadable message (seq {seq})"
        self._refuse(out, key, topic, payload, why, now_s, probe)

    def _nbirth(self, t: sp.SparkplugTopic, topic: str, payload: bytes, decoded: Payload, digest: str,
                ts: int, out: Outcome) -> None:  # fmt: skip
        key = (t.group_id, t.edge_node_id)
        try:
            bdseq = sp.bdseq_of(decoded)
        except wire.WireError as exc:
            out.refused.append(Refused(self._letter(topic, payload, f"sparkplug: NBIRTH: {exc}")))
            return
        seen = self._births.setdefault(key, deque(maxlen=_BIRTHS_KEPT))
        if digest in seen:
            out.duplicates += 1  # an NBIRTH redelivered: never restart a session, current or past
            return
        seen.append(digest)
        seq = decoded.seq if decoded.seq is not None else 0
        node = _Node(bdseq, seq)
        node.recent[seq] = digest
        self._nodes[key] = node
        self._asked.pop(key, None)
        gw = gateway_id(*key)
        env = values = None
        own = [m for m in decoded.metrics if _is_reading(m)]
        if own:
            node.tables[t.edge_node_id] = born = _Table(decoded.metrics)
            try:
                env = self._birth(t.group_id, gw, t.edge_node_id, decoded)
                values = self._data(gw, t.edge_node_id, decoded, born)
            except wire.WireError as exc:
                out.refused.append(Refused(self._letter(topic, payload, f"sparkplug: {exc}")))
                env = values = None
        ident = Identity(key[0], key[1], bdseq, seq, ts, digest, "NBIRTH", None)
        out.interpreted.append(Interpreted(topic, payload, ident, t.group_id, gw, env, True, values))

    def _ndeath(self, t: sp.SparkplugTopic, topic: str, payload: bytes, decoded: Payload, digest: str,
                ts: int, out: Outcome) -> None:  # fmt: skip
        key = (t.group_id, t.edge_node_id)
        try:
            bdseq = sp.bdseq_of(decoded)
        except wire.WireError as exc:
            out.refused.append(Refused(self._letter(topic, payload, f"sparkplug: NDEATH: {exc}")))
            return
        node = self._nodes.get(key)
        if node is not None and node.bdseq != bdseq:
            out.ignored += 1  # the Will of an earlier session: the node has been born again since
            return
        self._nodes.pop(key, None)
        ident = Identity(key[0], key[1], bdseq, -1, ts, digest, "NDEATH", None)
        # With no session known here (a restart) the store checks bdSeq against the ledger's NBIRTH.
        out.interpreted.append(
            Interpreted(topic, payload, ident, t.group_id, gateway_id(*key), None, online=False)
        )

    # -- conversions -------------------------------------------------------------------------------
    def _birth(self, site: str, gw: str, dev: str, decoded: Payload) -> wire.Birth:
        props = {m.name[len(PROPERTY_PREFIX) :]: m.value for m in decoded.metrics
                 if m.name and m.name.startswith(PROPERTY_PREFIX)}  # fmt: skip
        info = self._device_info(site, gw, dev, props)
        points = []
        for m in decoded.metrics:
            if not _is_reading(m):
                continue
            assert m.name is not None
            unit = _prop(m, sp.ENG_UNIT)
            kind = _prop(m, "kind") or ("switch" if m.datatype == DataType.BOOLEAN else "analog")
            if kind not in _KINDS:
                raise wire.WireError(
                    f"metric {m.label}: kind {kind!r} is not one of {sorted(_KINDS)}", "kind"
                )
            points.append(wire.PointInfo(m.name, kind, DTYPES[m.datatype], unit or ""))  # type: ignore[arg-type]
        if not points:
            raise wire.WireError(f"BIRTH of {dev!r} has no metric that can be stored", "metrics")
        return wire.Birth(gw, dev, 0, _ns(decoded.timestamp, "payload"), info, points)

    def _device_info(self, site: str, gw: str, dev: str, props: Mapping[str, object]) -> wire.DeviceInfo:
        kind, industry, sector = props.get("type"), props.get("industry"), props.get("sector")
        if not (isinstance(kind, str) and isinstance(industry, str) and isinstance(sector, str)):
            path = f"{gw}/{dev}" if gw.count("/") else f"{site}/{gw}/{dev}"
            for entry in self.devices:
                if fnmatch.fnmatchcase(path, entry.match):
                    kind, industry, sector = entry.type, entry.industry, entry.sector
                    break
            else:
                raise wire.WireError(
                    f"BIRTH of {path!r} names no device type: give it metrics"
                    " Properties/type, Properties/industry, Properties/sector or a sparkplug.devices entry",
                    "Properties",
                )
        if not _TYPE.match(kind) or not _INDUSTRY.match(industry) or sector not in ("discrete", "process"):
            raise wire.WireError(
                f"device {dev!r}: type {kind!r}, industry {industry!r}, sector {sector!r} are not"
                " a device type (e.g. cnc_machine), a GB/T 4754 code (e.g. C34) and discrete|process",
                "Properties",
            )
        line, area = props.get("line"), props.get("area")
        return wire.DeviceInfo(
            kind,
            industry,
            sector,  # type: ignore[arg-type]
            protocol="sparkplug_b",
            line=line if isinstance(line, str) else None,
            area=area if isinstance(area, str) else None,
        )

    def _data(self, gw: str, dev: str, decoded: Payload, table: _Table) -> wire.Data | None:
        samples: list[tuple[str, int, object, int]] = []
        for i, m in enumerate(decoded.metrics):
            name = m.name
            if name is None:
                if m.alias is None or m.alias not in table.by_alias:
                    raise _Missing(f"sparkplug: metrics[{i}]: unknown alias {m.alias} for {dev!r}")
                name = table.by_alias[m.alias][0]
            elif name not in table.by_name:
                raise _Missing(f"sparkplug: metrics[{i}]: metric {name!r} is not in the BIRTH of {dev!r}")
            named = Metric(m.datatype, m.value, name=name, properties=m.properties)
            if not _is_reading(named):
                continue  # control and property metrics, datatypes not stored (documented)
            when = m.timestamp if m.timestamp is not None else decoded.timestamp
            quality = sp.quality_of(m)
            value = m.value
            if value is None:
                quality = wire.QUALITY_BAD  # a null metric holds no value
            samples.append((name, _ns(when, f"metrics[{i}]"), value, quality))
        if not samples:
            return None
        return wire.Data(gw, dev, 0, _ns(decoded.timestamp, "payload") if decoded.timestamp else
                         samples[0][1], samples)  # type: ignore[arg-type]  # fmt: skip

    # -- refusals ----------------------------------------------------------------------------------
    def _refuse(self, out: Outcome, key: tuple[str, str], topic: str, payload: bytes, why: str, now_s: float,
                probe: tuple[str, str, int, int, str] | None = None) -> None:  # fmt: skip
        out.refused.append(Refused(self._letter(topic, payload, why), probe))
        last = self._asked.get(key)
        if last is None or now_s - last >= self.rebirth_interval_s:
            self._asked[key] = now_s
            out.rebirths.append(key)

    def _letter(self, topic: str, payload: bytes, why: str) -> DeadLetter:
        return dead_letter(topic, payload, why, self.limits)


class _Missing(Exception):
    """Something a BIRTH should have said is missing: dead letter and rebirth request."""


def gateway_id(group: str, edge_node: str) -> str:
    """The registry's gateway for an edge node: edge node ids are unique only within their group."""
    return f"{group}/{edge_node}"


def rebirth_payload(now_ms: int) -> bytes:
    return sp.encode_payload(sp.rebirth_request(now_ms))


def rebirth_topic(group: str, edge_node: str) -> str:
    return sp.edge_topic(group, MessageType.NCMD, edge_node)


def _is_reading(m: Metric) -> bool:
    name = m.name
    if name is None or name == sp.BDSEQ or name.startswith(PROPERTY_PREFIX):
        return False
    return not name.startswith(_CONTROL_PREFIXES) and m.datatype in DTYPES


def _prop(m: Metric, name: str) -> str | None:
    prop = (m.properties or {}).get(name)
    return prop.value if prop is not None and isinstance(prop.value, str) else None


def _ns(ms: int | None, where: str) -> int:
    if ms is None or ms < 0:
        raise wire.WireError(f"{where}: no timestamp (neither the metric nor the payload has one)", where)
    return ms * _NS_PER_MS
