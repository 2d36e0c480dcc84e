"""Store: ledger + binary COPY; redelivery stores nothing twice; registry from births."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg

import wire
from collector.decode import Message
from collector.store import Store
from tests.collector.conftest import birth, data, temps, topic


def _msg(kind: str, env: wire.Envelope, gw: str = "gw1", dev: str = "m1") -> Message:
    return Message(topic(kind, gw, dev), wire.encode(env))


def _count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_batch_stores_rows_once_and_redelivery_is_a_no_op(db: str) -> None:
    now = time.time_ns()
    samples = [
        ("temp", now - 3000, 21.5, 0),
        ("state", now - 2000, "running", 0),
        ("parts", now - 1000, 4294967295, 0),
        ("door", now - 500, True, 0),
        ("temp", now - 400, None, 2),
        ("program", now - 300, "O1234", 0),
    ]
    batch = [_msg("birth", birth(seq=0)), _msg("data", data("gw1", "m1", 1, samples))]
    store = Store(db)
    first = store.write(batch)
    assert (first.envelopes_new, first.rows, first.text_rows, first.duplicates) == (2, 5, 1, 0)
    assert first.dead_letters == []
    again = store.write(batch)
    assert (again.envelopes_new, again.rows, again.duplicates) == (0, 0, 2)
    fresh = Store(db)  # a restarted process: empty cache, same outcome
    assert fresh.write(batch).rows == 0
    with psycopg.connect(db) as conn:
        got = conn.execute(
            "SELECT p.name, r.value, r.quality FROM readings r JOIN points p USING (point_id) ORDER BY r.time"
        ).fetchall()
        assert got == [
            ("temp", 21.5, 0),
            ("state", float(wire.STATE_CODES["running"]), 0),
            ("parts", 4294967295.0, 0),
            ("door", 1.0, 0),
            ("temp", None, 2),
        ]
        assert conn.execute("SELECT value FROM readings_text").fetchall() == [("O1234",)]
        dev = conn.execute(
            "SELECT type, industry, sector, simulated, managed, area, line, online FROM devices"
        ).fetchone()
        assert dev == ("cnc_machine", "C34", "discrete", True, True, "A", "L1", True)
        ledger = conn.execute("SELECT kind, n, sha256, source FROM envelopes ORDER BY seq").fetchall()
        assert [(k, n, s) for k, n, _, s in ledger] == [("birth", 5, "mqtt"), ("data", 6, "mqtt")]
        assert ledger[1][2] == wire.digest(wire.decode(batch[1].payload))


def test_birth_resent_is_idempotent_and_death_marks_offline(db: str) -> None:
    store = Store(db)
    b = birth(seq=0)
    store.write([_msg("birth", b)])
    store.write([_msg("birth", b)])
    store.write([_msg("birth", birth(seq=5))])  # a later birth with the same points
    assert _count(db, "SELECT count(*) FROM devices") == 1
    assert _count(db, "SELECT count(*) FROM points") == len(b.points)
    store.write([_msg("death", wire.Death("gw1", "m1", 6, time.time_ns(), "lost"))])
    assert _count(db, "SELECT count(*) FROM devices WHERE online") == 0
    store.write([Message("pp/v1/s1/backfill-plant/$status", wire.STATUS_OFFLINE)])
    with psycopg.connect(db) as conn:
        assert conn.execute(
            "SELECT status, backfill FROM gateways WHERE gw = 'backfill-plant'"
        ).fetchone() == (
            "offline",
            True,
        )


def test_partitions_are_created_for_old_months(plain_db: str) -> None:
    db = plain_db
    store = Store(db)
    store.write([_msg("birth", birth())])
    old = int(datetime(2024, 2, 29, 23, 59, tzinfo=UTC).timestamp() * 1e9)
    res = store.write([_msg("data", data("gw1", "m1", 1, temps(10, old, 60 * 1_000_000_000)))])
    assert res.rows == 10 and not res.dead_letters
    assert _count(db, "SELECT count(*) FROM readings_202402") == 1
    assert _count(db, "SELECT count(*) FROM readings_202403") == 9
    assert _count(db, "SELECT count(*) FROM readings_default") == 0


def test_seq_reuse_with_other_content_is_a_dead_letter(db: str) -> None:
    store = Store(db)
    store.write([_msg("birth", birth()), _msg("data", data("gw1", "m1", 1, temps(3)))])
    res = store.write([_msg("data", data("gw1", "m1", 1, temps(4)))])
    assert res.rows == 0
    assert [d.error.split(":")[0] for d in res.dead_letters] == ["seq reuse"]
    assert _count(db, "SELECT count(*) FROM dead_letters WHERE error LIKE 'seq reuse%'") == 1


def test_ingest_never_records_management_traffic_and_dead_letters_unsolicited_answers(db: str) -> None:
    store = Store(db)
    now = time.time_ns()
    with psycopg.connect(db) as conn:  # what the platform's client registers before sending
        conn.execute(
            "INSERT INTO management_ops (request_id, site, gw, dev, op, sent_at) VALUES"
            " ('asked', 's1', 'gw1', 'm1', 'ping', now()), ('other', 's1', 'gw1', 'm2', 'ping', now()),"
            " ('expired', 's1', 'gw1', 'm1', 'ping', now() - interval '1 min')"
        )
        conn.execute(
            "UPDATE management_ops SET deadline = now() - interval '30 s' WHERE request_id = 'expired'"
        )
    pong = {"pong": True, "read": {"point": "temp", "raw": 1.0, "quality": 0, "ts": now}}
    res = store.write(
        [
            _msg("cmd", wire.Command("asked", "m1", "ping", now)),  # seen on the broker: ignored
            _msg("cmd/res", wire.CommandResult("asked", "gw1", "m1", True, now, pong)),  # the sender's
            _msg("cmd/res", wire.CommandResult("never", "gw1", "m1", True, now, pong)),
            _msg("cmd/res", wire.CommandResult("other", "gw1", "m1", True, now, pong)),
            _msg("cmd/res", wire.CommandResult("expired", "gw1", "m1", True, now, pong)),
        ]
    )
    reasons = sorted(d.error.split(":")[0] for d in res.dead_letters)
    assert reasons == ["forged cmd/res", "late cmd/res", "unsolicited cmd/res"]
    assert all(d.error.endswith("kept here, never counted") for d in res.dead_letters)
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT request_id, answered_at, ok FROM management_ops ORDER BY 1").fetchall()
    # nothing was recorded as answered by ingest, nothing was added
    assert rows == [("asked", None, None), ("expired", None, None), ("other", None, None)]


def test_status_codes_of_bad_and_uncertain_samples_are_kept(db: str) -> None:
    """Both v1 forms in one envelope: plain samples, and bad/uncertain ones with a status code."""
    now = time.time_ns() // 1000 * 1000
    sensor_failure, last_usable, unknown_node = 0x808C0000, 0x408F0000, 0x80340000
    samples = [
        ("temp", now - 3000, 21.5, 0),
        ("temp", now - 2000, None, 2, sensor_failure),
        ("temp", now - 1000, 21.7, 1, last_usable),
        ("program", now - 900, None, 2, unknown_node),
        ("state", now - 500, "running", 0),
    ]
    envelope = wire.decode(wire.encode(data("gw1", "m1", 1, samples)))  # through the wire, as received
    batch = [_msg("birth", birth(seq=0)), _msg("data", envelope)]
    result = Store(db).write(batch)
    assert result.dead_letters == [] and (result.rows, result.text_rows) == (5, 0)
    assert Store(db).write(batch).rows == 0  # redelivered: nothing twice
    with psycopg.connect(db) as conn:
        got = conn.execute(
            "SELECT p.name, s.time, s.status_code FROM reading_status s JOIN points p USING (point_id)"
            " ORDER BY s.time"
        ).fetchall()
        joined = conn.execute(
            "SELECT r.value, r.quality, s.status_code FROM readings r"
            " JOIN reading_status s USING (point_id, time) ORDER BY r.time"
        ).fetchall()
    assert [(n, c) for n, _, c in got] == [
        ("temp", sensor_failure),
        ("temp", last_usable),
        ("program", unknown_node),
    ]
    assert got[0][1] == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=(now - 2000) // 1000)
    assert joined == [(None, 2, sensor_failure), (21.7, 1, last_usable), (None, 2, unknown_node)]
