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

Bounded: at most `max_edge_nodes` live sessions (the NBIRTH of one more is a dead letter, reason
`sparkplug_limit`; the longest dead are forgotten first) and `max_metrics_per_node` metrics in the
BIRTHs of one edge node (a BIRTH beyond it is a dead letter, so is then its DATA). Each batch's
session changes come out as `Outcome.saved` (`collector.sparkplug_sessions`), stored with the batch;
`restore` takes them back after a restart.
"""

# layering: pure

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import wire
from collector.decode import DeadLetter, Limits, Message, dead_letter
from collector.sparkplug_metrics import DeviceType, Missing, Table, birth, data, is_reading, ms_to_ns
from collector.sparkplug_sessions import Key, Restored, Saved, metrics_in
from wire import sparkplug as sp
from wire.sparkplug import MessageType, Payload

__all__ = ["DeviceType", "Host", "Identity", "Interpreted", "Outcome", "Refused", "gateway_id"]
_BIRTHS_KEPT = 16  # NBIRTH digests remembered per edge node: a redelivered one restarts nothing
_TABLES_CHANGE = (MessageType.DBIRTH, MessageType.DDEATH)
V = TypeVar("V")


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
    saved: list[Saved] = field(default_factory=list)  # sessions changed, as they are after the batch
    forgotten: list[Key] = field(default_factory=list)  # dead sessions no longer kept


@dataclass(slots=True)
class _Node:
    bdseq: int
    seq: int
    tables: dict[str, Table] = field(default_factory=dict)  # device id (edge node id: its own) →
    recent: dict[int, str] = field(default_factory=dict)  # seq → digest of this session's messages
    # (seq, digest) of the messages stored just before a restart: redelivered, they are duplicates
    # (however many); forgotten once the session moves on
    stored: set[tuple[int, str]] = field(default_factory=set)
    gap: str | None = None  # why the node is out of step until its next NBIRTH


class Host:
    def __init__(
        self, limits: Limits, devices: Sequence[DeviceType] = (), rebirth_interval_s: float = 10.0,
        max_edge_nodes: int = 1000, max_metrics_per_node: int = 10_000,
    ) -> None:  # fmt: skip
        self.limits = limits
        self.devices = tuple(devices)
        self.rebirth_interval_s = rebirth_interval_s
        self.max_edge_nodes = max_edge_nodes
        self.max_metrics_per_node = max_metrics_per_node
        self._nodes: dict[Key, _Node] = {}
        self._asked: dict[Key, float] = {}  # when a rebirth was last requested
        self._births: dict[Key, deque[str]] = {}  # digests of recent NBIRTHs per node
        self._dead: dict[Key, None] = {}  # ended sessions still saved, the longest dead first
        self._changed: dict[Key, bool] = {}  # sessions changed in this batch → their tables too
        self._deaths: dict[Key, tuple[int, bool]] = {}  # → (bdSeq, whether it ended a session known here)

    @property
    def sessions(self) -> int:
        """Live edge node sessions."""
        return len(self._nodes)

    def restore(self, live: Sequence[Restored], dead: Sequence[Key] = ()) -> None:
        """The sessions saved before a restart (`dead`: ended ones, the longest dead first)."""
        for r in live[: self.max_edge_nodes]:
            key = (r.group, r.edge_node)
            node = _Node(r.bdseq, r.seq, dict(r.tables), stored=set(r.stored))
            self._nodes[key] = node
            if r.birth is not None:
                self._births[key] = deque((r.birth,), maxlen=_BIRTHS_KEPT)
        for key in dead:
            if key not in self._nodes:
                self._dead[key] = None

    def interpret(self, messages: Sequence[Message], now_s: float) -> Outcome:
        """The messages in the order received; `now_s` (monotonic) paces rebirth requests."""
        out = Outcome()
        self._changed.clear()
        self._deaths.clear()
        for m in messages:
            size = len(m.payload) if m.size is None else m.size
            if size > self.limits.max_payload_bytes:
                why = f"oversized: {size} bytes > limit {self.limits.max_payload_bytes}"
                out.refused.append(Refused(dead_letter(m.topic, m.payload, why, self.limits, size)))
                continue
            self._one(m.topic, bytes(m.payload), now_s, out)
        self._save(out)
        return out

    def _save(self, out: Outcome) -> None:
        for key, tables in self._changed.items():
            node = self._nodes.get(key)
            if node is not None:
                # a copy: the store writes it while the host reads the next batch
                out.saved.append(
                    Saved(*key, node.bdseq, node.seq, True, dict(node.tables) if tables else None)
                )
        for key, (bdseq, known) in self._deaths.items():
            if key not in self._nodes:
                out.saved.append(Saved(*key, bdseq, -1, False, None, if_bdseq=not known))
                self._dead.pop(key, None)
                self._dead[key] = None
        while len(self._dead) > self.max_edge_nodes:
            out.forgotten.append(next(iter(self._dead)))
            del self._dead[out.forgotten[-1]]

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
        if node.recent.get(seq) == digest or (seq, digest) in node.stored:
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
        node.stored.clear()  # the session moves on: what came before it is behind
        self._changed[key] = self._changed.get(key, False) or mt in _TABLES_CHANGE
        ident = Identity(key[0], key[1], node.bdseq, seq, ts, digest, str(mt), t.device_id)
        gw = gateway_id(*key)
        dev = t.device_id or t.edge_node_id
        values = None
        try:
            if mt == MessageType.DBIRTH:
                assert t.device_id is not None
                born = Table(decoded.metrics)
                held = metrics_in(node.tables, without=t.device_id)
                if held + len(born) > self.max_metrics_per_node:
                    node.tables.pop(t.device_id, None)
                    why = self._too_many(key, f"DBIRTH of {t.device_id!r}", held + len(born))
                    out.refused.append(Refused(self._letter(topic, payload, why)))
                    return
                node.tables[t.device_id] = born
                env: wire.Birth | wire.Data | wire.Death | None = birth(
                    t.group_id, gw, dev, decoded, self.devices
                )
                values = data(gw, dev, decoded, born)
            elif mt == MessageType.DDEATH:
                node.tables.pop(dev, None)
                env = wire.Death(gw, dev, 0, ms_to_ns(ts, "payload"), "DDEATH")
            else:
                if table is None:
                    births = "DBIRTH" if t.device_id is not None else "NBIRTH metric"
                    raise Missing(f"sparkplug: no {births} for {dev!r} of edge node {key[0]}/{key[1]}")
                env = data(gw, dev, decoded, table)
        except Missing as exc:
            return self._refuse(out, key, topic, payload, str(exc), now_s, probe)
        except wire.WireError as exc:
            out.refused.append(Refused(self._letter(topic, payload, f"sparkplug: {exc}")))
            return
        out.interpreted.append(Interpreted(topic, payload, ident, t.group_id, gw, env, values=values))

    def _unreadable(self, out: Outcome, key: Key, node: _Node | None, topic: str, payload: bytes,
                    digest: str, exc: wire.WireError, now_s: float) -> None:  # fmt: skip
        """DATA whose metrics have no datatype and whose alias no BIRTH of this session announced."""
        ts, seq = sp.peek(payload)
        probe = (key[0], key[1], seq, -1 if ts is None else ts, digest) if seq is not None else None
        if node is None:
            why = f"sparkplug: no NBIRTH yet for edge node {key[0]}/{key[1]} (unreadable without it: {exc})"
        else:
            where = (exc.field or "metrics").rsplit(".", 1)[0]
            why = f"sparkplug: {where}: unknown alias (no datatype on the wire and none from a BIRTH)"
            if seq is not None and (node.recent.get(seq) == digest or (seq, digest) in node.stored):
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
        seen = self._births.get(key)
        if seen is not None and digest in seen:
            out.duplicates += 1  # an NBIRTH redelivered: never restart a session, current or past
            return
        born = Table(decoded.metrics)
        why = None
        if key not in self._nodes and len(self._nodes) >= self.max_edge_nodes:
            why = (f"sparkplug: edge node limit: {len(self._nodes)} edge nodes have live sessions"
                   f" (sparkplug.max_edge_nodes); NBIRTH of {key[0]}/{key[1]} refused")  # fmt: skip
        elif len(born) > self.max_metrics_per_node:
            why = self._too_many(key, "NBIRTH", len(born))
        if why is not None:
            out.refused.append(Refused(self._letter(topic, payload, why)))
            return
        if seen is None:
            seen = self._births[key] = deque(maxlen=_BIRTHS_KEPT)
            _cap(self._births, self.max_edge_nodes)
        seen.append(digest)
        seq = decoded.seq if decoded.seq is not None else 0
        node = _Node(bdseq, seq)
        node.recent[seq] = digest
        self._nodes[key] = node
        self._dead.pop(key, None)
        self._changed[key] = True
        self._asked.pop(key, None)
        gw = gateway_id(*key)
        env = values = None
        # The node's metrics name its NDATA (Node Control/* too); they are a device only if some are
        # readings.
        node.tables[t.edge_node_id] = born
        if any(is_reading(m) for m in decoded.metrics):
            try:
                env = birth(t.group_id, gw, t.edge_node_id, decoded, self.devices)
                values = data(gw, t.edge_node_id, decoded, born)
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
        self._changed.pop(key, None)
        self._deaths[key] = (bdseq, node is not None)
        ident = Identity(key[0], key[1], bdseq, -1, ts, digest, "NDEATH", None)
        # With no session known here (a restart) the store checks bdSeq against the ledger's NBIRTH.
        out.interpreted.append(
            Interpreted(topic, payload, ident, t.group_id, gateway_id(*key), None, online=False)
        )

    # -- refusals ----------------------------------------------------------------------------------
    def _refuse(self, out: Outcome, key: Key, topic: str, payload: bytes, why: str, now_s: float,
                probe: tuple[str, str, int, int, str] | None = None) -> None:  # fmt: skip
        out.refused.append(Refused(self._letter(topic, payload, why), probe))
        last = self._asked.get(key)
        if last is None or now_s - last >= self.rebirth_interval_s:
            self._asked.pop(key, None)
            self._asked[key] = now_s
            _cap(self._asked, self.max_edge_nodes)
            out.rebirths.append(key)

    def _too_many(self, key: Key, what: str, n: int) -> str:
        return (f"sparkplug: metric limit: the {what} of edge node {key[0]}/{key[1]} makes {n} metrics"
                f" > {self.max_metrics_per_node} (sparkplug.max_metrics_per_node)")  # fmt: skip

    def _letter(self, topic: str, payload: bytes, why: str) -> DeadLetter:
        return dead_letter(topic, payload, why, self.limits)


def _cap(entries: dict[Key, V], limit: int) -> None:
    """Forget the oldest entries beyond `limit` (dicts keep insertion order)."""
    while len(entries) > limit:
        del entries[next(iter(entries))]


def gateway_id(group: str, edge_node: str) -> str:
    """The registry's gateway for an edge node: edge node ids are unique only within their group."""
    return f"{group}/{edge_node}"


def rebirth_payload(now_ms: int) -> bytes:
    return sp.encode_payload(sp.rebirth_request(now_ms))


def rebirth_topic(group: str, edge_node: str) -> str:
    return sp.edge_topic(group, MessageType.NCMD, edge_node)
