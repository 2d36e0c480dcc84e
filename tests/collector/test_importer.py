"""Historian CSV import: validation before anything is stored, streaming in batches, one value per
(point, time) whatever the files overlap, and explicit conflict policy (real PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

import wire
from collector.importer import ImportDevice, ImportFileError, import_csv
from tests.collector.conftest import INFO, POINTS
from tests.collector.mqttutil import scalar

CSV = """time,device,point,value,quality
2026-03-01T00:00:00Z,m1,temp,21.5,0
2026-03-01T00:00:01+00:00,m1,state,1,0
2026-03-01T00:00:02Z,m1,state,idle,0
2026-03-01T00:00:03Z,m1,state,42,0
1772323204000000000,m1,parts,17,0
2026-03-01T00:00:05Z,m1,door,true,0
2026-03-01T00:00:06Z,m1,temp,,2
2026-03-01T00:00:07Z,m1,program,O1234,0
2026-03-02T00:00:00Z,m2,temp,19.0,1
"""


def _devices() -> dict[str, ImportDevice]:
    return {d: ImportDevice(INFO, POINTS, {"state": {1: "running", 4: "idle"}}) for d in ("m1", "m2")}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_unmapped_codes_are_refused_with_counts_then_stored_only_as_told(db: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "hist.csv", CSV + "2026-03-01T00:00:09Z,m1,state,42,0\n")
    with pytest.raises(ImportFileError) as err:
        import_csv(db, path, "s1", "backfill-plant", _devices())
    assert "unmapped state code(s)" in str(err.value) and "m1.state code 42 ×2 (first on line 5)" in str(
        err.value
    )
    assert "nothing was stored" in str(err.value)
    assert scalar(db, "SELECT count(*) FROM envelopes") == 0

    first = import_csv(db, path, "s1", "backfill-plant", _devices(), chunk_rows=3, unmapped="unknown-stop")
    assert (first.rows_in_file, first.rows, first.text_rows, first.devices) == (10, 9, 1, 2)
    again = import_csv(db, path, "s1", "backfill-plant", _devices(), chunk_rows=3, unmapped="unknown-stop")
    assert (again.rows, again.text_rows, again.envelopes_new, again.repeats) == (0, 0, 0, 0)
    assert again.envelopes_skipped == first.envelopes_new
    assert scalar(db, "SELECT count(*) FROM readings") == 9
    with psycopg.connect(db) as conn:
        states = conn.execute(
            "SELECT r.value, r.quality FROM readings r JOIN points p USING (point_id)"
            " WHERE p.name = 'state' ORDER BY r.time"
        ).fetchall()
        codes = wire.STATE_CODES
        unknown = (codes["unknown_stop"], 1)
        assert states == [(codes["running"], 0), (codes["idle"], 0), unknown, unknown]
        sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM envelopes")}
        assert sources == {f"import:{first.sha256}"}
        assert conn.execute("SELECT backfill FROM gateways").fetchall() == [(True,)]


def test_every_problem_is_named_by_line_and_column_and_nothing_is_stored(db: str, tmp_path: Path) -> None:
    bad = (
        "2026-03-01T00:00:00Z,m9,temp,1,0\n"  # line 11: unknown device
        "2026-03-01T00:00:00Z,m1,spindle,1,0\n"  # 12: unknown point
        "2026-03-01T00:00:00Z,m1,temp\n"  # 13: a short row
        "2026-03-01T00:00:00Z,m1,temp,abc,0\n"  # 14
        "2026-03-01T00:00:00,m1,temp,1,0\n"  # 15: no time zone
        "2026-03-01T00:00:00Z,m1,temp,1,7\n"  # 16
        "2026-03-01T00:00:00Z,m1,door,maybe,0\n"  # 17
        "2026-03-01T00:00:00Z,m1,temp,1,0,extra\n"  # 18
        "2100-01-01T00:00:00Z,m1,temp,1,0\n"  # 19: beyond the accepted window
    )
    path = _write(tmp_path, "bad.csv", CSV.replace("42", "4") + bad)
    with pytest.raises(ImportFileError) as err:
        import_csv(db, path, "s1", "backfill-plant", _devices())
    text = str(err.value)
    for expected in (
        "unknown device(s): m9 ×1 (first on line 11)",
        "unknown point(s): m1.spindle ×1 (first on line 12)",
        "line 13, column 'value': 3 fields, the header has 5 (missing fields)",
        "line 14, column 'value': 'abc' is not a number",
        "line 15, column 'time': time '2026-03-01T00:00:00' has no time zone",
        "line 16, column 'quality': '7' is not 0, 1 or 2",
        "line 17, column 'value': 'maybe' is not a boolean",
        "line 18, column '-': 6 fields, the header has 5 (extra fields)",
        "line 19, column 'time': '2100-01-01T00:00:00Z' is outside the accepted window",
        "7 bad row(s)",
        "nothing was stored",
    ):
        assert expected in text, (expected, text)
    assert scalar(db, "SELECT count(*) FROM devices") == 0


# The same two days of readings, exported twice: once with ISO times, once with nanoseconds, in
# another order and overlapping by a day with a third file.
def _rows(days: range, per_day: int = 50) -> list[tuple[int, str, str, float]]:
    out = []
    for d in days:
        for i in range(per_day):
            ns = (1_772_323_200 + d * 86_400 + i * 60) * 10**9
            out.append((ns, "m1" if i % 2 else "m2", "temp", round(20 + d + i * 0.25, 2)))
    return out


def _csv(rows: list[tuple[int, str, str, float]], iso: bool) -> str:
    from datetime import UTC, datetime

    def t(ns: int) -> str:
        return datetime.fromtimestamp(ns // 10**9, UTC).isoformat() if iso else str(ns)

    return "time,device,point,value\n" + "".join(f"{t(ns)},{dev},{p},{v}\n" for ns, dev, p, v in rows)


def test_overlapping_and_reformatted_exports_store_each_reading_once(db: str, tmp_path: Path) -> None:
    a = _write(tmp_path, "a.csv", _csv(_rows(range(0, 2)), iso=True))
    b = _write(tmp_path, "b.csv", _csv(list(reversed(_rows(range(0, 2)))), iso=False))
    c = _write(tmp_path, "c.csv", _csv(_rows(range(1, 3)), iso=True))
    first = import_csv(db, a, "s1", "hist", _devices(), chunk_rows=7, batch_rows=30)
    assert (first.rows, first.repeats) == (100, 0) and first.envelopes_new > 4  # several batches
    second = import_csv(db, b, "s1", "hist", _devices(), chunk_rows=7, batch_rows=30)
    assert (second.rows, second.repeats, second.conflicts) == (0, 100, 0)
    third = import_csv(db, c, "s1", "hist", _devices(), chunk_rows=7, batch_rows=30)
    assert (third.rows, third.repeats, third.conflicts) == (50, 50, 0)
    assert scalar(db, "SELECT count(*) FROM readings") == 150
    assert scalar(db, "SELECT count(DISTINCT (point_id, time)) FROM readings") == 150


def test_a_corrected_export_is_refused_until_replace_and_the_old_values_are_kept(
    db: str, tmp_path: Path
) -> None:
    original = _rows(range(0, 1))
    corrected = [(ns, dev, p, v + 1 if i % 10 == 0 else v) for i, (ns, dev, p, v) in enumerate(original)]
    a = _write(tmp_path, "orig.csv", _csv(original, iso=True))
    b = _write(tmp_path, "fixed.csv", _csv(corrected, iso=True))
    import_csv(db, a, "s1", "hist", _devices())
    refused = import_csv(db, b, "s1", "hist", _devices())
    assert (refused.rows, refused.repeats, refused.conflicts, refused.replaced) == (0, 45, 5, 0)
    assert scalar(db, "SELECT count(*) FROM reading_conflicts WHERE resolution = 'refused'") == 5
    total = "SELECT round(sum(value)::numeric, 2) FROM readings"
    assert scalar(db, "SELECT count(*) FROM readings") == 50
    with psycopg.connect(db) as conn:
        before = conn.execute(total).fetchone()
    # the same corrected file again, now superseding: its envelopes are in the ledger, but with
    # --replace their rows are offered again
    replaced = import_csv(db, b, "s1", "hist", _devices(), policy="replace")
    assert (replaced.rows, replaced.repeats, replaced.replaced, replaced.conflicts) == (0, 45, 5, 0)
    with psycopg.connect(db) as conn:
        after = conn.execute(total).fetchone()
        kept = conn.execute(
            "SELECT count(*), sum(offered_value - stored_value) FROM reading_conflicts"
            " WHERE resolution = 'replaced'"
        ).fetchone()
    assert before is not None and after is not None and float(after[0]) == pytest.approx(float(before[0]) + 5)
    assert kept == (5, 5.0)
    assert scalar(db, "SELECT count(*) FROM readings") == 50
