"""Device ownership and the ledger's edges: a refused message is a dead letter and changes nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
from typer.testing import CliRunner

import wire
from collector.cli import app
from collector.decode import Message
from collector.store import Store
from tests.collector.conftest import INFO, POINTS, birth, data, temps, topic


def _msg(kind: str, env: wire.Envelope, gw: str = "gw-a", dev: str = "m1") -> Message:
    return Message(topic(kind, gw, dev), wire.encode(env))


def _rows(dsn: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, args).fetchall()


def _registry(dsn: str) -> tuple[list[tuple[Any, ...]], ...]:
    return (
        _rows(dsn, "SELECT gw, site FROM gateways ORDER BY gw"),
        _rows(dsn, "SELECT site, dev, gw, type, simulated, managed, area, line FROM devices ORDER BY dev"),
        _rows(dsn, "SELECT device_id, name, kind, dtype FROM points ORDER BY point_id"),
    )


def test_another_gateways_birth_data_and_death_are_refused_until_an_operator_moves_the_device(
    db: str,
) -> None:
    store = Store(db)
    store.write([_msg("birth", birth("gw-a", "m1", 0)), _msg("data", data("gw-a", "m1", 1, temps(3)))])
    before = _registry(db)
    other = wire.DeviceInfo("press", "C33", "process", simulated=False)
    takeover = wire.Birth("gw-b", "m1", 0, time.time_ns(), other, [wire.PointInfo("x", "analog", "float64")])
    res = store.write(
        [
            _msg("birth", takeover, gw="gw-b"),
            _msg("data", data("gw-b", "m1", 1, temps(5)), gw="gw-b"),
            _msg("death", wire.Death("gw-b", "m1", 2, time.time_ns(), "forged"), gw="gw-b"),
        ]
    )
    assert [d.error for d in res.dead_letters] == ["device 'm1' at site 's1' is owned by gw-a"] * 3
    assert sorted((d.gw, d.seq) for d in res.dead_letters) == [("gw-b", 0), ("gw-b", 1), ("gw-b", 2)]
    assert _registry(db) == before, "a refused birth changes nothing, not even the gateways table"
    assert _rows(db, "SELECT count(*), bool_and(online) FROM devices") == [(1, True)]
    assert _rows(db, "SELECT count(*) FROM readings") == [(3,)]

    result = CliRunner().invoke(
        app,
        ["move-device", "--dsn", db, "--site", "s1", "--device", "m1", "--to", "gw-b", "--reason", "rewired"],
    )
    assert result.exit_code == 0, result.output
    assert "owner gw-a -> gw-b" in result.output
    assert _rows(db, "SELECT from_gw, to_gw, reason FROM device_moves") == [("gw-a", "gw-b", "rewired")]
    # the running store's cache still says gw-a: the first envelope from gw-b refreshes it
    moved = store.write([_msg("data", data("gw-b", "m1", 3, temps(4)), gw="gw-b")])
    assert moved.rows == 4 and not moved.dead_letters
    stale = store.write([_msg("data", data("gw-a", "m1", 4, temps(2)))])
    assert [d.error for d in stale.dead_letters] == ["device 'm1' at site 's1' is owned by gw-b"]
    unknown = CliRunner().invoke(
        app, ["move-device", "--dsn", db, "--site", "s1", "--device", "nope", "--to", "gw-b"]
    )
    assert unknown.exit_code == 1 and "no device 'nope'" in unknown.output


def test_history_writers_describe_a_device_without_owning_it(db: str) -> None:
    store = Store(db)
    store.write([_msg("birth", birth("backfill-plant", "m1", 0), gw="backfill-plant")])
    assert _rows(db, "SELECT gw FROM devices") == [("backfill-plant",)]
    # the first live gateway to announce it owns it; history still flows in beside it
    live = store.write([_msg("birth", birth("gw-a", "m1", 0))])
    assert not live.dead_letters
    history = store.write(
        [
            _msg("birth", birth("backfill-plant", "m1", 1), gw="backfill-plant"),
            _msg("data", data("backfill-plant", "m1", 2, temps(3)), gw="backfill-plant"),
        ]
    )
    assert not history.dead_letters and history.rows == 3
    assert _rows(db, "SELECT gw FROM devices") == [("gw-a",)]
    late = store.write([_msg("birth", birth("gw-b", "m1", 0), gw="gw-b")])
    assert [d.error for d in late.dead_letters] == ["device 'm1' at site 's1' is owned by gw-a"]


def test_one_seq_with_two_contents_in_one_batch_keeps_the_first_and_dead_letters_the_second(db: str) -> None:
    store = Store(db)
    first, second = data("gw-a", "m1", 1, temps(3)), data("gw-a", "m1", 1, temps(7))
    res = store.write(
        [_msg("birth", birth("gw-a")), _msg("data", first), _msg("data", second), _msg("data", first)]
    )
    assert (res.rows, res.duplicates, res.seq_reuse) == (3, 1, 1)
    [letter] = res.dead_letters
    assert letter.error.startswith("seq reuse within one batch: (gw-a, 1)")
    stored = _rows(db, "SELECT topic, payload, gw, seq FROM dead_letters")
    assert stored == [(topic("data", "gw-a"), wire.encode(second), "gw-a", 1)], "topic and payload kept"


def test_seq_reuse_across_batches_keeps_topic_and_payload_and_a_reused_birth_changes_nothing(db: str) -> None:
    store = Store(db)
    store.write([_msg("birth", birth("gw-a", "m1", 0)), _msg("data", data("gw-a", "m1", 1, temps(3)))])
    before = _registry(db)
    reused_data = data("gw-a", "m1", 1, temps(4))
    other_points = [wire.PointInfo("only", "analog", "float64")]
    reused_birth = wire.Birth("gw-a", "m1", 0, time.time_ns(), INFO, other_points)
    res = store.write([_msg("data", reused_data), _msg("birth", reused_birth)])
    assert res.seq_reuse == 2 and res.rows == 0
    assert _registry(db) == before
    letters = _rows(db, "SELECT topic, payload, gw, seq, error FROM dead_letters ORDER BY seq")
    assert [(t, p, g, s) for t, p, g, s, _ in letters] == [
        (topic("birth", "gw-a"), wire.encode(reused_birth), "gw-a", 0),
        (topic("data", "gw-a"), wire.encode(reused_data), "gw-a", 1),
    ]
    assert all(e.startswith("seq reuse: (gw-a, ") for *_, e in letters)


def test_a_redelivered_old_birth_does_not_undo_a_newer_one(db: str) -> None:
    store = Store(db)
    old = birth("gw-a", "m1", 0, points=POINTS[:1])
    store.write([_msg("birth", old), _msg("birth", birth("gw-a", "m1", 1))])
    store.write([_msg("birth", old)])  # e.g. resent after a broker crash
    res = store.write([_msg("data", data("gw-a", "m1", 2, [("door", time.time_ns(), True, 0)]))])
    assert res.rows == 1 and not res.dead_letters and res.duplicates == 0


def test_birth_and_death_sent_are_range_checked(db: str) -> None:
    store = Store(db)
    res = store.write(
        [
            _msg("birth", wire.Birth("gw-a", "m1", 0, 1, INFO, POINTS)),
            _msg("birth", wire.Birth("gw-a", "m2", 1, 2**63 - 1, INFO, POINTS), dev="m2"),
            _msg("death", wire.Death("gw-a", "m1", 2, 1, "")),
        ]
    )
    assert len(res.dead_letters) == 3
    assert all(d.error.startswith("$.sent: ") and "outside the window" in d.error for d in res.dead_letters)
    assert _rows(db, "SELECT count(*) FROM devices") == [(0,)]
    assert _rows(db, "SELECT count(*) FROM gateways") == [(0,)]


def test_an_invalid_envelope_names_its_seq_only_on_its_own_gateways_topic(db: str) -> None:
    store = Store(db)
    good_shape = json.loads(wire.encode(data("gw-a", "m1", 7, temps(1))))
    good_shape["samples"][0][3] = 9  # quality 9: invalid
    forged = dict(good_shape, gw="gw-b")
    res = store.write(
        [
            Message(topic("data", "gw-a"), json.dumps(good_shape).encode()),
            Message(topic("data", "gw-a"), json.dumps(forged).encode()),
            Message(topic("data", "gw-a"), b"{" * 5000),
        ]
    )
    assert [(d.gw, d.seq) for d in res.dead_letters] == [("gw-a", 7), (None, None), (None, None)]
    assert res.dead_letters[0].error.startswith("invalid envelope at $.samples[0][3]")
