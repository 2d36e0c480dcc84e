"""Evidence bundle: export, signature and digests, tamper detection, recomputation."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from collector.errors import CollectorError
from collector.evidence import bundle, signing
from collector.evidence.verify import verify_bundle
from collector.figures.compute import Parameters
from collector.figures.declared import load_declared
from collector.figures.window import parse_window
from collector.migrate import migrate
from tests.figures.truth import seed_truth

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.fixture()
def exported(pg_dsn: str, tmp_path: Path) -> tuple[str, Path, Path]:
    migrate(pg_dsn)
    seed_truth(pg_dsn)
    key = tmp_path / "keys" / "evidence.pem"
    out = tmp_path / "bundle"
    params = Parameters(parse_window("2026-10", AS_OF), AS_OF)
    declared = load_declared(ROOT / "configs" / "declared.yaml")
    bundle.export(pg_dsn, params, out, declared=declared, key_path=key, now=AS_OF)
    return pg_dsn, out, key


def test_export_contents_and_clean_verify(exported: tuple[str, Path, Path]) -> None:
    dsn, out, key = exported
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            bundle.EVIDENCE,
            bundle.DEVICES,
            bundle.QUERIES,
            bundle.REPORT,
            bundle.PUBKEY,
            bundle.MANIFEST,
            bundle.SIGNATURE,
        ]
    )
    assert key.stat().st_mode & 0o777 == 0o600
    ev = json.loads((out / bundle.EVIDENCE).read_text())
    assert ev["schema"] == bundle.SCHEMA and ev["storage"] in {"postgresql", "timescaledb"}
    assert ev["software"]["version"] and ev["generated_at"] == AS_OF.isoformat()
    assert ev["parameters"]["window"] == "2026-10" and ev["parameters"]["include_simulated"] is False
    assert ev["headline"]["connected_equipment"] == 4 and ev["claims"]["included"] is False
    assert "valid_reading" in ev["definitions"] and "setpoint" in ev["definitions"]["valid_reading"]
    assert set(ev["tiers"]) == {"enterprise", "industry", "regional", "cross_industry"}
    assert "password" not in json.dumps(ev["database"])
    lines = (out / bundle.DEVICES).read_text().splitlines()
    assert lines[0].startswith("device_id,device,type") and len(lines) == 1 + 8  # 6 plant + 2 simulated
    assert "plant1/boiler-e" in (out / bundle.DEVICES).read_text()
    html = (out / bundle.REPORT).read_text()
    assert "<svg" in html and "<script" not in html and "<link" not in html and " src=" not in html
    assert "2026-10-01T00:00:00+00:00" in (out / bundle.QUERIES).read_text()

    result = verify_bundle(out)
    assert result.ok and not result.verified and result.status == "untrusted", result.problems
    assert result.fingerprint == signing.fingerprint(signing.load_or_create_key(key).public_key())
    pub = out.parent / "trusted.pem"
    # the same key, written differently: compared as a key, not as bytes
    pub.write_bytes(
        b"# the operator's key\r\n" + signing.public_pem(signing.load_or_create_key(key)) + b"# end\n"
    )
    trusted = verify_bundle(out, pubkey=pub)
    assert trusted.verified and trusted.status == "verified", trusted.problems

    recomputed = verify_bundle(out, recompute_dsn=dsn)
    assert recomputed.ok and recomputed.recomputed, recomputed.problems


def test_one_changed_byte_in_any_file_fails_and_names_it(
    exported: tuple[str, Path, Path], tmp_path: Path
) -> None:
    _, out, _ = exported
    for name in sorted(p.name for p in out.iterdir()):
        copy = tmp_path / f"t-{name}"
        shutil.copytree(out, copy)
        data = bytearray((copy / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (copy / name).write_bytes(bytes(data))
        result = verify_bundle(copy)
        assert not result.ok, name
        assert any(name in p.where for p in result.problems), (name, result.problems)
    # an added file is named too
    extra = tmp_path / "extra"
    shutil.copytree(out, extra)
    (extra / "notes.txt").write_text("x")
    assert [p.where for p in verify_bundle(extra).problems] == ["notes.txt"]


def test_other_key_fails(exported: tuple[str, Path, Path], tmp_path: Path) -> None:
    _, out, _ = exported
    other = tmp_path / "other.pub"
    other.write_bytes(signing.public_pem(signing.load_or_create_key(tmp_path / "other.pem")))
    result = verify_bundle(out, pubkey=other)
    assert not result.ok
    wheres = {p.where for p in result.problems}
    assert bundle.PUBKEY in wheres and f"{bundle.MANIFEST}, {bundle.SIGNATURE}" in wheres


def test_recompute_after_deleting_readings_names_the_figure(exported: tuple[str, Path, Path]) -> None:
    dsn, out, _ = exported
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "DELETE FROM readings WHERE point_id IN (SELECT point_id FROM points"
            " JOIN devices USING (device_id) WHERE dev = 'press-b') AND time >= '2026-10-20'"
        )
    result = verify_bundle(out, recompute_dsn=dsn)
    assert not result.ok
    wheres = [p.where for p in result.problems]
    assert "figure connected_equipment.default.value" in wheres
    assert "tier enterprise.thresholds[0].value" in wheres  # E1 reads the connected-equipment figure
    assert bundle.DEVICES in wheres
    # the file checks still pass: only the data changed
    assert not any(w in {bundle.MANIFEST, bundle.EVIDENCE} for w in wheres)


def test_export_refuses_non_empty_dir_and_reuses_key(
    exported: tuple[str, Path, Path], tmp_path: Path
) -> None:
    dsn, out, key = exported
    params = Parameters(parse_window("2026-10", AS_OF), AS_OF)
    with pytest.raises(CollectorError, match="not empty"):
        bundle.export(dsn, params, out, declared=load_declared(None), key_path=key)
    second = bundle.export(dsn, params, tmp_path / "b2", declared=load_declared(None), key_path=key)
    assert (tmp_path / "b2" / bundle.PUBKEY).read_bytes() == (out / bundle.PUBKEY).read_bytes()
    assert second.fingerprint.startswith("sha256:")
