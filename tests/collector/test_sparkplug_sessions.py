"""The Sparkplug host's sessions across a restart: what each batch saves, what a restarted host reads
with it, the bounds (collector.sparkplug, collector.sparkplug_sessions: pure), and the round trip
through PostgreSQL (collector.sparkplug_state)."""

from __future__ import annotations

import hashlib
import logging

import psycopg
import pytest

from collector import sparkplug_state
from collector.decode import Limits, Message, reason_of
from collector.sparkplug import Host, Outcome
from collector.sparkplug_metrics import Table
from collector.sparkplug_sessions import BadSavedSession, Restored, Saved, decode_tables, encode_tables
from tests.collector.sparkplugutil import Edge
from wire import sparkplug as sp
from wire.sparkplug import DataType, MessageType, Metric, Payload

TEMP = Metric(DataType.DOUBLE, 20.0, name="temp", alias=1)
COUNT = Metric(DataType.UINT32, 7, name="count", alias=2)


def feed(host: Host, *messages: tuple[str, bytes]) -> Outcome:
    return host.interpret([Message(t, p) for t, p in messages], 0.0)


def bare_ddata(edge: Edge, device: str, *values: tuple[int, object]) -> tuple[str, bytes]:
    """DDATA by alias only and without datatypes on the wire: readable only with the DBIRTH's table."""
    seq = edge.seq = sp.next_seq(edge.seq)
    metrics = tuple(Metric(DataType.DOUBLE, v, alias=a) for a, v in values)
    payload = sp.encode_payload(
        Payload(timestamp=1_700_000_000_000, metrics=metrics, seq=seq), with_datatypes=False
    )
    return sp.edge_topic(edge.group, MessageType.DDATA, edge.node, device), payload


def restored(saved: Saved, *messages: tuple[str, bytes]) -> Restored:
    """What the store gives back for `saved`, the ledger holding `messages` (the NBIRTH first)."""
    digests = [hashlib.sha256(p).hexdigest() for _, p in messages]
    stored = frozenset((sp.peek(p)[1] or 0, d) for (_, p), d in zip(messages, digests, strict=True))
    assert saved.tables is not None
    return Restored(
        saved.group, saved.edge_node, saved.bdseq, saved.seq, dict(saved.tables), stored, digests[0]
    )


def test_each_batch_saves_the_sessions_it_changed() -> None:
    host, edge = Host(Limits()), Edge("g", "n", bdseq=4)
    out = feed(host, edge.nbirth(), edge.dbirth("m", [TEMP, COUNT]))
    assert [(s.bdseq, s.seq, s.alive) for s in out.saved] == [(4, 1, True)]
    tables = out.saved[0].tables
    assert tables is not None and set(tables) == {"n", "m"}
    assert tables["m"].by_alias == {1: ("temp", DataType.DOUBLE), 2: ("count", DataType.UINT32)}
    out = feed(host, bare_ddata(edge, "m", (1, 21.0)))
    assert [(s.seq, s.tables) for s in out.saved] == [(2, None)]  # DATA: the last seq only
    out = feed(host, edge.ddeath("m"))
    assert out.saved[0].tables is not None and set(out.saved[0].tables) == {"n"}
    assert feed(host, ("spBv1.0/g/NCMD/n", b"")).saved == []  # nothing changed
    out = feed(host, edge.ndeath())
    assert [(s.bdseq, s.alive, s.if_bdseq) for s in out.saved] == [(4, False, False)]


def test_a_restarted_host_reads_the_session_it_saved_and_knows_a_redelivery() -> None:
    before, edge = Host(Limits()), Edge("g", "n", bdseq=9)
    nbirth, dbirth, first = edge.nbirth(), edge.dbirth("m", [TEMP]), bare_ddata(edge, "m", (1, 1.5))
    out = feed(before, nbirth, dbirth, first)
    assert [i.envelope is not None for i in out.interpreted] == [False, True, True]
    after = Host(Limits())
    after.restore([restored(out.saved[0], nbirth, dbirth, first)])
    out = feed(after, nbirth, first, bare_ddata(edge, "m", (1, 2.5)))  # redelivered, then queued
    assert (out.duplicates, out.refused, out.rebirths) == (2, [], [])
    [data] = [i.envelope for i in out.interpreted]
    assert data is not None and data.samples == [("temp", 1_700_000_000_000_000_000, 2.5, 0)]  # type: ignore[union-attr]
    # more messages stored before the restart than seq numbers (256): each redelivered copy is known
    many = [bare_ddata(edge, "m", (1, float(i))) for i in range(300)]
    out = feed(after, *many)
    assert len(out.interpreted) == 300 and out.refused == []
    again = Host(Limits())
    again.restore([restored(_with(out.saved[0], after), nbirth, *many)])
    out = feed(again, *many, bare_ddata(edge, "m", (1, -1.0)))
    assert (out.duplicates, out.refused, len(out.interpreted)) == (300, [], 1)
    # without it the same DDATA cannot be read: a dead letter and a rebirth request
    out = feed(Host(Limits()), bare_ddata(edge, "m", (1, 3.5)))
    assert [reason_of(r.letter.error) for r in out.refused] == ["no_birth"] and out.rebirths == [("g", "n")]


def _with(saved: Saved, host: Host) -> Saved:
    """`saved` with the tables its host holds (a batch of DATA saves only its seq)."""
    node = host._nodes[(saved.group, saved.edge_node)]
    return Saved(saved.group, saved.edge_node, saved.bdseq, saved.seq, saved.alive, dict(node.tables))


def test_a_new_nbirth_replaces_the_session_and_an_ndeath_ends_it() -> None:
    host, edge = Host(Limits()), Edge("g", "n", bdseq=1)
    feed(host, edge.nbirth(), edge.dbirth("m", [TEMP]))
    edge.bdseq = 2
    out = feed(host, edge.nbirth())
    assert [(s.bdseq, s.seq) for s in out.saved] == [(2, 0)]
    assert out.saved[0].tables is not None and set(out.saved[0].tables) == {"n"}  # the DBIRTH is gone
    # an NDEATH the host cannot match (it restarted without the session) ends only a saved session
    # of its bdSeq
    out = feed(Host(Limits()), Edge("g", "n", bdseq=1).ndeath())
    assert [(s.bdseq, s.alive, s.if_bdseq) for s in out.saved] == [(1, False, True)]


def test_live_sessions_are_bounded_and_the_longest_dead_are_forgotten() -> None:
    host = Host(Limits(), max_edge_nodes=2)
    a, b, c = Edge("g", "a"), Edge("g", "b"), Edge("g", "c")
    feed(host, a.nbirth(), b.nbirth())
    out = feed(host, c.nbirth())
    assert [reason_of(r.letter.error) for r in out.refused] == ["sparkplug_limit"] and host.sessions == 2
    assert "sparkplug.max_edge_nodes" in out.refused[0].letter.error
    out = feed(host, a.ndeath(), c.nbirth())  # a ended: room for c
    assert host.sessions == 2 and out.refused == [] and out.forgotten == []
    feed(host, b.ndeath())
    out = feed(host, c.ndeath())  # three dead, two kept: the longest dead is forgotten
    assert out.forgotten == [("g", "a")]


def test_metrics_per_edge_node_are_bounded() -> None:
    host, edge = Host(Limits(), max_metrics_per_node=6), Edge("g", "n")
    out = feed(host, edge.nbirth(), edge.dbirth("m1", [TEMP]))  # bdSeq, Rebirth; 3 Properties/, temp
    assert out.refused == []
    out = feed(host, edge.dbirth("m2", [TEMP]), edge.ddata("m2", [Metric(DataType.DOUBLE, 1.0, alias=1)]))
    assert [reason_of(r.letter.error) for r in out.refused] == ["sparkplug_limit", "no_birth"]
    assert "makes 10 metrics > 6 (sparkplug.max_metrics_per_node)" in out.refused[0].letter.error
    # a DBIRTH again of the device already held replaces its table: within the bound
    assert feed(host, edge.dbirth("m1", [TEMP]), bare_ddata(edge, "m1", (1, 2.0))).refused == []


def test_tables_round_trip_and_a_damaged_one_is_named() -> None:
    tables = {
        "n": Table([Metric(DataType.BOOLEAN, False, name="Node Control/Rebirth")]),
        "m": Table([TEMP, COUNT]),
    }
    back = decode_tables(encode_tables(tables), "t")
    assert {d: t.entries() for d, t in back.items()} == {d: t.entries() for d, t in tables.items()}
    assert back["m"].datatypes() == tables["m"].datatypes()
    with pytest.raises(
        BadSavedSession, match=r"^t\.m\[1\]: not a metric \[name, alias, datatype\]: \['x', 1, 99\]"
    ):
        decode_tables({"m": [["temp", 1, 10], ["x", 1, 99]]}, "t")
    with pytest.raises(BadSavedSession, match=r"^t: expected an object"):
        decode_tables([], "t")


def _ledger(conn: psycopg.Connection, seq: int, kind: str, digest: str, bdseq: int = 3) -> None:
    conn.execute(
        "INSERT INTO sparkplug_messages (group_id, edge_node, bdseq, seq, timestamp_ms, sha256, message_type)"
        " VALUES ('g', 'n', %s, %s, 1, %s, %s)",
        (bdseq, seq, digest, kind),
    )


def test_sessions_saved_in_postgresql_come_back(db: str, caplog: pytest.LogCaptureFixture) -> None:
    tables = {"n": Table([]), "m": Table([TEMP, COUNT])}
    with psycopg.connect(db) as conn:
        _ledger(conn, 0, "NBIRTH", "old-birth", bdseq=2)  # an earlier session's
        _ledger(conn, 0, "NBIRTH", "birth")
        _ledger(conn, 1, "DBIRTH", "d1")
        _ledger(conn, 2, "DDATA", "d2")
        sparkplug_state.save(conn, [Saved("g", "n", 3, 1, True, tables), Saved("g", "o", 1, 0, True, {})], [])
        sparkplug_state.save(conn, [Saved("g", "n", 3, 2, True)], [])  # DATA: the tables stay
        sparkplug_state.save(conn, [Saved("g", "o", 7, -1, False, if_bdseq=True)], [])  # not its session
        live, dead = sparkplug_state.load(conn, 10, 10)
        assert dead == []
        [n] = [r for r in live if r.edge_node == "n"]
        assert (n.bdseq, n.seq, n.birth) == (3, 2, "birth")
        assert n.stored == {(0, "birth"), (1, "d1"), (2, "d2")}  # not the earlier session's
        assert sparkplug_state.load(conn, 10, 2)[0][0].stored == {(1, "d1"), (2, "d2")}  # the last 2
        assert n.tables["m"].entries() == tables["m"].entries()
        sparkplug_state.save(conn, [Saved("g", "o", 1, -1, False, if_bdseq=True)], [])
        live, dead = sparkplug_state.load(conn, 10, 10)
        assert ([r.edge_node for r in live], dead) == (["n"], [("g", "o")])
        assert sparkplug_state.load(conn, 0, 10)[0] == []  # at most the bound
        sparkplug_state.save(conn, [], [("g", "o"), ("g", "n")])  # only ended sessions are forgotten
        assert conn.execute("SELECT edge_node, alive FROM sparkplug_sessions").fetchall() == [("n", True)]
        # a session damaged by hand is not restored (its DATA will ask for a rebirth), and said so
        conn.execute("""UPDATE sparkplug_sessions SET tables = '{"m": [["temp", 1, 99]]}'""")
        with caplog.at_level(logging.ERROR):
            assert sparkplug_state.load(conn, 10, 10)[0] == []
        assert "sparkplug_sessions(g/n).tables.m[0]: not a metric" in caplog.text
