"""Evidence bundles of a tenant: exported (figures and claims of its sites, naming it), downloaded
as a zip, and uploaded bundles verified against the service's signing key and the database.

Paths are made only from ids the service chose (the tenant's number, a random bundle id), never
from a request; an uploaded zip is unpacked only when each member is one of a bundle's own file
names at its top level, and its size is bounded twice: the upload before it is read, the unpacked
files as they are written.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import uuid
import zipfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path as FsPath
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from api.app import Service
from api.auth import Principal
from api.deps import Operating, Reading, Svc, invalid, read_body, record, refusals, window_params
from collector.evidence import bundle, signing
from collector.evidence.verify import verify_bundle
from collector.figures.tenant import Tenant

log = logging.getLogger("plantproof.api")
router = APIRouter(prefix="/api/v1", tags=["evidence"])
BundleId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
BUNDLE_FILES = frozenset({
    bundle.EVIDENCE, bundle.DEVICES, bundle.QUERIES, bundle.REPORT, bundle.CLAIMS, bundle.PUBKEY,
    bundle.MANIFEST, bundle.SIGNATURE,
})  # fmt: skip


class ExportRequest(BaseModel, extra="forbid"):
    window: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}(-\d{2})?(\.\.\d{4}-\d{2}(-\d{2})?)?$")
    claims: list[Annotated[str, Field(max_length=64)]] = Field(default=[], max_length=100)


def tenant_of(who: Principal) -> Tenant:
    return Tenant(who.tenant, who.sites)


def _inside(root: FsPath, *parts: str) -> FsPath:
    """root/parts, refused unless it stays inside root (the ids are checked already; this is the
    last word on the path)."""
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if not path.is_relative_to(base) or path == base:
        raise HTTPException(404, "no such bundle")
    return path


def _zip(folder: FsPath, target: FsPath) -> int:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.iterdir()):
            z.write(path, path.name)
    return target.stat().st_size


async def _claims_file(service: Service, who: Principal, ids: list[str], folder: FsPath) -> FsPath | None:
    """The tenant's stored claims `ids` as a claims YAML (as stored: periods filled, scope narrowed)."""
    if not ids:
        return None
    rows = await service.rows(
        "SELECT claim_id, claim FROM api_claims WHERE tenant = %(tenant)s AND claim_id = ANY(%(ids)s)",
        {"tenant": who.tenant_id, "ids": ids},
    )
    found = {r["claim_id"]: r["claim"] for r in rows}
    for i, cid in enumerate(ids):
        if cid not in found:
            raise invalid("body", ("claims", i), f"no claim {cid!r}")
    path = folder / "claims-request.yaml"
    path.write_text(yaml.safe_dump({"claims": [found[c] for c in ids]}, sort_keys=False), encoding="utf-8")
    return path


@router.post("/evidence", status_code=201)
async def export_bundle(
    who: Operating, service: Svc, request: Request, body: ExportRequest
) -> dict[str, Any]:
    """Export a signed bundle of the tenant's figures (and the named claims) for a window."""
    async with refusals(service, request, who, "evidence export"):
        params = window_params(body.window, service, where="body")
    bundle_id = uuid.uuid4().hex
    tenant_dir = service.settings.evidence_dir / str(who.tenant_id)
    tenant_dir.mkdir(parents=True, exist_ok=True)
    folder = _inside(tenant_dir, bundle_id)
    with tempfile.TemporaryDirectory(dir=tenant_dir) as scratch:
        async with refusals(service, request, who, "evidence export"):
            claims = await _claims_file(service, who, body.claims, FsPath(scratch))
        async with service.figures_slots:
            done = await asyncio.to_thread(
                bundle.export, service.settings.dsn, params, folder, declared=service.declared,
                claims_path=claims, key_path=service.settings.evidence_key, tenant=tenant_of(who),
            )  # fmt: skip
    size = await asyncio.to_thread(_zip, folder, _inside(tenant_dir, f"{bundle_id}.zip"))
    await service.rows(
        "INSERT INTO api_evidence (id, tenant, created_by, window_text, scope, fingerprint, claims, bytes)"
        " VALUES (%(id)s, %(tenant)s, %(by)s, %(window)s, %(scope)s, %(fp)s, %(claims)s, %(bytes)s)"
        " RETURNING id",
        {"id": bundle_id, "tenant": who.tenant_id, "by": who.token_id, "window": params.window.label,
         "scope": Jsonb(tenant_of(who).to_json()), "fp": done.fingerprint, "claims": body.claims,
         "bytes": size},
    )  # fmt: skip
    await record(service, request, who, 201, f"evidence {bundle_id} exported for {params.window.label}")
    await _keep_newest(service, request, who, tenant_dir)
    return {
        "id": bundle_id, "tenant": who.tenant, "window": params.window.label, "files": done.files,
        "fingerprint": done.fingerprint, "bytes": size, "download": f"/api/v1/evidence/{bundle_id}",
    }  # fmt: skip


async def _keep_newest(service: Service, request: Request, who: Principal, tenant_dir: FsPath) -> None:
    """At most limits.max_bundles_per_tenant bundles per tenant: past it, the oldest go (row and
    files), each logged, audited and counted."""
    rows = await service.rows(
        "DELETE FROM api_evidence WHERE id IN (SELECT id FROM api_evidence WHERE tenant = %(tenant)s"
        " ORDER BY created_at DESC, id OFFSET %(keep)s) RETURNING id",
        {"tenant": who.tenant_id, "keep": service.settings.limits.max_bundles_per_tenant},
    )
    for row in rows:
        old = row["id"]
        await asyncio.to_thread(shutil.rmtree, _inside(tenant_dir, old), ignore_errors=True)
        _inside(tenant_dir, f"{old}.zip").unlink(missing_ok=True)
        request.app.state.service_metrics.bundles_removed.inc()
        log.info("evidence bundle %s of tenant %s removed: more than %d kept", old, who.tenant,
                 service.settings.limits.max_bundles_per_tenant)  # fmt: skip
        await record(service, request, who, 200, f"evidence {old} removed: the oldest past the bound")


_BUNDLES = """
SELECT id, created_at, created_by, window_text AS window, scope, fingerprint, claims, bytes
FROM api_evidence
WHERE tenant = %(tenant)s AND (%(id)s::text IS NULL OR id = %(id)s) ORDER BY created_at DESC LIMIT 1000
"""


@router.get("/evidence")
async def list_bundles(who: Reading, service: Svc) -> list[dict[str, Any]]:
    """The tenant's exported bundles, newest first."""
    rows = await service.rows(_BUNDLES, {"tenant": who.tenant_id, "id": None})
    return rows


@router.get("/evidence/{bundle_id}", response_class=FileResponse)
async def download_bundle(who: Reading, service: Svc, bundle_id: BundleId) -> FileResponse:
    """The bundle as a zip named after the tenant; another tenant's bundle is 404."""
    if not await service.rows(_BUNDLES, {"tenant": who.tenant_id, "id": bundle_id}):
        raise HTTPException(404, "no such bundle")
    path = _inside(service.settings.evidence_dir / str(who.tenant_id), f"{bundle_id}.zip")
    if not path.is_file():
        raise HTTPException(404, "no such bundle")
    name = f"plantproof-evidence-{who.tenant}-{bundle_id}.zip"
    return FileResponse(path, media_type="application/zip", filename=name)


def unpack(data: bytes, folder: FsPath, max_bytes: int) -> None:
    """A bundle zip into `folder`: only a bundle's own file names, at the top level, once each, and at
    most `max_bytes` in all; 422 naming the member otherwise (413 past the size)."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except zipfile.BadZipFile:
        raise invalid("body", (), "not a zip file") from None
    with archive:
        seen: set[str] = set()
        total = 0
        for info in archive.infolist():
            name = info.filename
            if name not in BUNDLE_FILES or info.is_dir() or name in seen:
                expected = ", ".join(sorted(BUNDLE_FILES))
                raise invalid("body", (name,), f"not a bundle file (only {expected}, at the top level, once)")
            seen.add(name)
            with archive.open(info) as src, (folder / name).open("wb") as dst:
                while chunk := src.read(65536):
                    total += len(chunk)
                    if total > max_bytes:
                        raise HTTPException(413, f"bundle larger than {max_bytes} bytes unpacked")
                    dst.write(chunk)


ZIP_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("/evidence/verify", openapi_extra=ZIP_BODY)
async def verify_upload(
    who: Reading,
    service: Svc,
    request: Request,
    recompute: Annotated[bool, Query(description="recompute figures and claims from the database")] = True,
) -> dict[str, Any]:
    """Verify an uploaded bundle (a zip, as downloaded) against the service's signing key and, with
    `recompute`, against the database over the caller's tenant."""
    limits = service.settings.limits
    async with refusals(service, request, who, "evidence upload"):
        data = await read_body(request, limits.max_upload_bytes)
    uploads = service.settings.evidence_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    folder = FsPath(tempfile.mkdtemp(dir=uploads))
    try:
        async with refusals(service, request, who, "evidence upload"):
            await asyncio.to_thread(unpack, data, folder, limits.max_unpacked_bytes)
        key = await asyncio.to_thread(signing.load_or_create_key, service.settings.evidence_key)
        trusted = folder.parent / f"{folder.name}.pem"
        trusted.write_bytes(signing.public_pem(key))
        async with service.figures_slots:
            result = await asyncio.to_thread(
                verify_bundle, folder, pubkey=trusted,
                recompute_dsn=service.settings.dsn if recompute else None, tenant=tenant_of(who),
            )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        (folder.parent / f"{folder.name}.pem").unlink(missing_ok=True)
    body = result.to_json()
    body["bundle"] = "upload"  # not the scratch folder's path
    await record(service, request, who, 200, f"evidence upload verified: {result.status}")
    return {**body, "checked_at": datetime.now(UTC), "tenant": who.tenant}
