"""Historian CSV import: same validation, registry and ledger; re-import stores nothing."""

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


def test_import_maps_states_and_reimport_stores_nothing(db: str, tmp_path: Path) -> None:
    path = tmp_path / "hist.csv"
    path.write_text(CSV)
    first = import_csv(db, path, "s1", "backfill-plant", _devices(), chunk_rows=3)
    assert (first.rows, first.text_rows, first.devices) == (8, 1, 2)
    again = import_csv(db, path, "s1", "backfill-plant", _devices(), chunk_rows=3)
    assert (again.rows, again.text_rows, again.envelopes_new) == (0, 0, 0)
    assert again.envelopes_skipped == first.envelopes_new
    assert scalar(db, "SELECT count(*) FROM readings") == 8
    with psycopg.connect(db) as conn:
        states = conn.execute(
            "SELECT r.value, r.quality FROM readings r JOIN points p USING (point_id)"
            " WHERE p.name = 'state' ORDER BY r.time"
        ).fetchall()
        codes = wire.STATE_CODES
        assert states == [(codes["running"], 0), (codes["idle"], 0), (codes["unknown_stop"], 1)]
        sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM envelopes")}
        assert sources == {f"import:{first.sha256}"}
        assert conn.execute("SELECT backfill FROM gateways").fetchall() == [(True,)]


def test_unknown_devices_and_points_are_listed_and_nothing_is_stored(db: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(CSV + "2026-03-01T00:00:00Z,m9,temp,1,0\n2026-03-01T00:00:00Z,m1,spindle,1,0\n")
    with pytest.raises(ImportFileError) as err:
        import_csv(db, path, "s1", "backfill-plant", _devices())
    text = str(err.value)
    assert "'m9' (line 11)" in text and "m1.spindle (line 12)" in text and "nothing was stored" in text
    assert scalar(db, "SELECT count(*) FROM envelopes") == 0


def test_a_value_the_validation_rejects_stores_nothing_of_the_file(db: str, tmp_path: Path) -> None:
    path = tmp_path / "future.csv"
    path.write_text(CSV + "2100-01-01T00:00:00Z,m1,temp,1,0\n")
    with pytest.raises(ImportFileError, match="outside the window"):
        import_csv(db, path, "s1", "backfill-plant", _devices())
    assert scalar(db, "SELECT count(*) FROM readings") == 0
    assert scalar(db, "SELECT count(*) FROM devices") == 0
    path.write_text(CSV + "2999-01-01T00:00:00Z,m1,temp,1,0\n")
    with pytest.raises(ImportFileError, match=r"line 11: time .* outside the representable range"):
        import_csv(db, path, "s1", "backfill-plant", _devices())
