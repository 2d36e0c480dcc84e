"""Evidence through the API: a tenant's bundle exported, downloaded, and uploads verified against
the service's key and the database; oversized or escaping uploads are refused."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg

from tests.api.world import BUNDLE_ID, World, client

EVIDENCE = "/api/v1/evidence"
ZIP = {"content-type": "application/zip"}


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


async def test_a_tenants_bundle_is_exported_downloaded_and_verified(
    world: World, http: httpx.AsyncClient
) -> None:
    op = world.auth("alpha", "operator")
    made = await http.post(EVIDENCE, json={"window": "2026-10", "claims": ["press-downtime"]}, headers=op)
    assert made.status_code == 201, made.text
    bundle = made.json()
    assert bundle["tenant"] == "alpha" and "claims.yaml" in bundle["files"]
    listed = (await http.get(EVIDENCE, headers=world.auth("alpha", "auditor"))).json()
    assert bundle["id"] in [b["id"] for b in listed]
    assert (await http.get(EVIDENCE, headers=world.auth("beta", "auditor"))).json() == []
    res = await http.get(f"{EVIDENCE}/{bundle['id']}", headers=world.auth("alpha", "auditor"))
    assert res.status_code == 200 and res.headers["content-type"] == "application/zip"
    assert f"plantproof-evidence-alpha-{bundle['id']}.zip" in res.headers["content-disposition"]
    files = _files(res.content)
    evidence = json.loads(files["evidence.json"])
    assert evidence["scope"]["tenant"] == "alpha" and evidence["scope"]["sites"] == ["site-a"]
    members = evidence["figures"]["connected_equipment"]["any_day"]["members"]
    assert [m["device"] for m in members] == ["site-a/press-a", "site-a/robot-a"]  # nothing of beta's
    assert [c["devices"] for c in evidence["claims"]["results"]] == [["site-a/press-a"]]
    assert (
        await http.get(f"{EVIDENCE}/{bundle['id']}", headers=world.auth("beta", "admin"))
    ).status_code == 404

    checked = await http.post(
        f"{EVIDENCE}/verify", content=res.content, headers={**ZIP, **world.auth("alpha", "auditor")}
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "verified" and checked.json()["recomputed"], checked.json()["problems"]
    # one figure altered and re-zipped: the digest no longer matches
    altered = dict(
        files, **{"evidence.json": files["evidence.json"].replace(b'"site-a/robot-a"', b'"site-a/robot-x"')}
    )
    failed = (await http.post(f"{EVIDENCE}/verify", content=_zip(altered), headers={**ZIP, **op})).json()
    assert failed["status"] == "failed" and any(p["where"] == "evidence.json" for p in failed["problems"])
    # beta's token cannot have alpha's bundle recomputed over beta's plant, nor learn alpha's figures
    theirs = (
        await http.post(
            f"{EVIDENCE}/verify", content=res.content, headers={**ZIP, **world.auth("beta", "auditor")}
        )
    ).json()
    assert theirs["status"] == "failed" and not theirs["recomputed"]
    assert [p["where"] for p in theirs["problems"]] == ["scope"] and "not tenant beta" in theirs["problems"][
        0
    ]["message"]
    with psycopg.connect(world.dsn) as conn:
        rows = conn.execute(
            "SELECT role, path, status, detail FROM audit_log WHERE method = 'POST' ORDER BY id"
        ).fetchall()
    assert [r[:3] for r in rows] == [
        ("operator", EVIDENCE, 201), ("auditor", f"{EVIDENCE}/verify", 200),
        ("operator", f"{EVIDENCE}/verify", 200), ("auditor", f"{EVIDENCE}/verify", 200),
    ]  # fmt: skip
    assert rows[0][3] == f"evidence {bundle['id']} exported for 2026-10"
    assert [r[3] for r in rows[1:]] == [
        f"evidence upload verified: {s}" for s in ("verified", "failed", "failed")
    ]
    assert (await http.post(EVIDENCE, json={}, headers=world.auth("alpha", "auditor"))).status_code == 403


async def test_export_refuses_bad_input_naming_the_field(world: World, http: httpx.AsyncClient) -> None:
    op = world.auth("alpha", "operator")
    cases = {
        json.dumps({"window": "2026-13"}): ["body", "window"],
        json.dumps({"window": "2020-01..2026-12"}): ["body", "window"],
        json.dumps({"claims": ["press-downtime", "nothing"]}): ["body", "claims", 1],
        json.dumps({"colour": "red"}): ["body", "colour"],
    }
    for body, loc in cases.items():
        res = await http.post(EVIDENCE, content=body, headers={**op, "content-type": "application/json"})
        assert res.status_code == 422 and res.json()["detail"][0]["loc"] == loc, (body, res.text)
    # beta's claims of the same id are not alpha's
    res = await http.post(
        EVIDENCE, json={"claims": ["press-downtime"]}, headers=world.auth("beta", "operator")
    )
    assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["body", "claims", 0]
    for bad in ("..%2F..%2Fetc", "0123", "G" * 32):
        assert (await http.get(f"{EVIDENCE}/{bad}", headers=op)).status_code in (404, 422), bad


async def test_uploads_are_bounded_and_cannot_escape_their_directory(world: World, tmp_path: Path) -> None:
    assert world.evidence_dir is not None
    settings = world.settings(limits={"max_upload_bytes": 4096, "max_unpacked_bytes": 8192})
    auth = {**ZIP, **world.auth("alpha", "auditor")}
    async with client(settings) as (http, _):
        big = b"x" * 5000
        res = await http.post(f"{EVIDENCE}/verify", content=big, headers=auth)
        assert res.status_code == 413 and "4096" in res.text

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b"x" * 1000

        assert (await http.post(f"{EVIDENCE}/verify", content=chunks(), headers=auth)).status_code == 413
        bomb = _zip({"evidence.json": b"0" * 100_000})  # small packed, too big unpacked
        assert len(bomb) < 4096
        assert (await http.post(f"{EVIDENCE}/verify", content=bomb, headers=auth)).status_code == 413
        for name in ("../escaped.json", "/tmp/escaped.json", "sub/evidence.json", "notes.txt"):
            res = await http.post(f"{EVIDENCE}/verify", content=_zip({name: b"{}"}), headers=auth)
            assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["body", name], res.text
        res = await http.post(f"{EVIDENCE}/verify", content=b"not a zip", headers=auth)
        assert res.status_code == 422 and "not a zip" in res.text
        empty = (await http.post(f"{EVIDENCE}/verify", content=_zip({}), headers=auth)).json()
        assert empty["status"] == "failed" and empty["problems"][0]["where"] == "MANIFEST.sha256"
    with psycopg.connect(world.dsn) as conn:
        statuses = [
            r[0] for r in conn.execute("SELECT status FROM audit_log WHERE method = 'POST' ORDER BY id")
        ]
    assert statuses == [
        413,
        413,
        413,
        422,
        422,
        422,
        422,
        422,
        200,
    ]  # each refusal audited, then the verification
    left = _tree(tmp_path)
    assert not any(p.name == "escaped.json" for p in left), left
    assert [p for p in left if "uploads" in p.parts] == [world.evidence_dir / "uploads"]  # cleaned away


def _tree(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


def test_a_tenants_bundle_assesses_the_data_quality_of_its_sites_only(world: World) -> None:
    from datetime import UTC, datetime

    from collector.evidence import quality_section
    from collector.figures.compute import Parameters
    from collector.figures.tenant import Tenant
    from collector.figures.window import parse_window

    now = datetime.now(UTC)  # the seeded devices were registered now: this month assesses them
    params = Parameters(parse_window(now.strftime("%Y-%m"), now), now)
    everyone = quality_section.build(world.dsn, params)
    alpha = quality_section.build(world.dsn, params, Tenant("alpha", ("site-a",)))
    assert [s["site"] for s in everyone["sites"]] == ["site-a", "site-b"]
    assert [s["site"] for s in alpha["sites"]] == ["site-a"]


async def test_past_the_bound_the_oldest_bundle_goes(world: World) -> None:
    assert world.evidence_dir is not None
    op = world.auth("alpha", "operator")
    async with client(world.settings(limits={"max_bundles_per_tenant": 1})) as (http, _):
        made = (await http.post(EVIDENCE, json={"window": "2026-10"}, headers=op)).json()
        listed = (await http.get(EVIDENCE, headers=op)).json()
        metrics = (await http.get("/metrics")).text
    assert [b["id"] for b in listed] == [made["id"]]  # the seeded older bundle is gone, files and all
    zips = sorted(p.name for p in (world.evidence_dir).rglob("*.zip"))
    assert zips == [f"{made['id']}.zip"]
    assert "plantproof_api_evidence_bundles_removed_total 1.0" in metrics
    with psycopg.connect(world.dsn) as conn:
        details = [
            r[0] for r in conn.execute("SELECT detail FROM audit_log WHERE method = 'POST' ORDER BY id")
        ]
    assert details[-1] == f"evidence {BUNDLE_ID} removed: the oldest past the bound"
