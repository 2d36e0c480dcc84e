"""`evidence export`: figures, tiers, claims and their definitions, signed.

Files: evidence.json (with the application's results table and the scenario evidence over its
reporting period when its periods are given), devices.csv,
queries.sql, report.html, claims.yaml (when claims are given),
pubkey.pem, then MANIFEST.sha256 (SHA-256 of every other file) and MANIFEST.sha256.sig (raw
Ed25519 signature over the manifest's exact bytes).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg

from collector import db
from collector.errors import CollectorError
from collector.evidence import quality_section, signing
from collector.evidence.devices import DEVICE_COLUMNS, device_rows
from collector.evidence.report import render as render_report
from collector.figures import queries
from collector.figures.compute import DEFINITIONS, Parameters
from collector.figures.declared import Declared
from collector.figures.model import Figures
from collector.figures.rows import headline
from collector.figures.tenant import Tenant, tenant_figures
from collector.figures.tiers import evaluate
from infra.progress import ProgressFn

SCHEMA = "plantproof.evidence/1"
EVIDENCE = "evidence.json"
DEVICES = "devices.csv"
QUERIES = "queries.sql"
REPORT = "report.html"
CLAIMS = "claims.yaml"
PUBKEY = "pubkey.pem"
MANIFEST = "MANIFEST.sha256"
SIGNATURE = "MANIFEST.sha256.sig"


def software_version() -> str:
    try:
        return metadata.version("plantproof")
    except metadata.PackageNotFoundError:
        return "unknown"


def claim_results(dsn: str, claims_path: Path, tenant: Tenant | None = None) -> list[dict[str, Any]]:
    """Claim verdicts through the KPI engine (imported here: numpy is loaded only for claims); for a
    tenant, every claim's scope is narrowed to its sites."""
    from collector.kpi.claimfile import load_claims
    from collector.kpi.verify import verify_claims

    claims = load_claims(claims_path, sites=tenant.sites if tenant else None)
    results = [dict(r.to_json()) for r in verify_claims(dsn, claims)]
    simulated = simulated_devices(dsn, sorted({d for r in results for d in r.get("devices", [])}))
    for r in results:
        r["simulated_devices"] = [d for d in r.get("devices", []) if d in simulated]
    return results


def simulated_devices(dsn: str, names: list[str]) -> set[str]:
    """Which of the named plant devices ("site/dev") are registered as simulated."""
    if not names:
        return set()
    with db.connection(dsn, doing="reading the devices' simulated flags") as conn:
        rows = conn.execute(
            "SELECT site || '/' || dev FROM devices WHERE namespace = 'plant' AND simulated"
            " AND site || '/' || dev = ANY(%s)",
            (names,),
        ).fetchall()
    return {str(r[0]) for r in rows}


def database_label(dsn: str) -> dict[str, str]:
    """Where the data came from, without credentials."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return {}
    return {k: str(info[k]) for k in ("host", "port", "dbname") if info.get(k)}


def devices_csv(figures: Figures) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=DEVICE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(device_rows(figures))
    return out.getvalue()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(out: Path, names: list[str], key: Any) -> bytes:
    manifest = "".join(f"{digest(out / n)}  {n}\n" for n in sorted(names)).encode()
    (out / MANIFEST).write_bytes(manifest)
    (out / SIGNATURE).write_bytes(signing.sign(key, manifest))
    return manifest


@dataclass(frozen=True, slots=True)
class Exported:
    path: Path
    files: list[str]
    fingerprint: str


def figures_of(dsn: str, params: Parameters, tenant: Tenant | None) -> tuple[Figures, queries.Loaded]:
    """The figures of the whole registry, or of a tenant's sites."""
    if tenant is None:
        return queries.figures(dsn, params)
    loaded = queries.load(dsn, params.window)
    return tenant_figures(loaded.results, tenant.sites, params), loaded


def build_evidence(
    dsn: str,
    params: Parameters,
    declared: Declared,
    claims_path: Path | None,
    now: datetime,
    step: Callable[[str], None] = lambda _: None,
    tenant: Tenant | None = None,
    application: tuple[Any, Any] | None = None,  # (Periods, Application): the results table's inputs
) -> tuple[dict[str, Any], Figures, queries.Loaded]:
    """evidence.json's content, and the figures and query results it were built from; for a tenant,
    over its sites only, and the document names it (`scope`)."""
    step("computing figures")
    figures, loaded = figures_of(dsn, params, tenant)
    claims: dict[str, Any] = {"included": False, "file": None, "results": []}
    if claims_path is not None:
        step("verifying claims")
        claims = {"included": True, "file": CLAIMS, "results": claim_results(dsn, claims_path, tenant)}
    scope = {"scope": tenant.to_json()} if tenant is not None else {}
    table: dict[str, Any] = {}
    if application is not None:
        from collector.application.measure import evidence_part  # numpy, as for claims

        step("computing the application table")
        got = evidence_part(dsn, *application)
        simulated = sorted(simulated_devices(dsn, got["table"]["devices"]))
        table = {"application": got | {"simulated_devices": simulated}}
    return (
        {
            **scope,
            "schema": SCHEMA,
            "software": {"name": "plantproof", "version": software_version()},
            "generated_at": now.astimezone(UTC).isoformat(),
            "storage": loaded.storage,
            "string_readings_included": loaded.with_text,
            "database": database_label(dsn),
            "parameters": params.to_json(),
            "definitions": DEFINITIONS,
            "headline": headline(figures),
            "figures": figures.to_json(),
            "declared": declared.to_json(),
            "tiers": evaluate(figures, declared),
            "claims": claims,
            "quality": quality_section.build(dsn, params, tenant),
        }
        | table,
        figures,
        loaded,
    )


def export(
    dsn: str,
    params: Parameters,
    out: Path,
    *,
    declared: Declared,
    claims_path: Path | None = None,
    key_path: Path = signing.DEFAULT_KEY_PATH,
    now: datetime | None = None,
    progress: ProgressFn | None = None,
    tenant: Tenant | None = None,
    application: tuple[Any, Any] | None = None,
) -> Exported:
    """Write a signed bundle into `out` (created; must be empty if it exists). `progress` hears of
    each step begun (figures, claims, report, signature) and of the end."""
    now = now or datetime.now(UTC)
    key = signing.load_or_create_key(key_path)
    if out.exists() and any(out.iterdir()):
        raise CollectorError(f"{out}: output directory is not empty")
    steps = 3 + (claims_path is not None) + (application is not None)
    done = 0

    def step(what: str) -> None:
        nonlocal done
        if progress is not None:
            progress("exporting", done, steps, what)
        done += 1

    evidence, figures, loaded = build_evidence(
        dsn, params, declared, claims_path, now, step, tenant, application
    )
    fp = signing.fingerprint(key.public_key())
    out.mkdir(parents=True, exist_ok=True)
    evidence_text = json.dumps(evidence, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    step("rendering the report")
    files = {
        EVIDENCE: evidence_text,
        DEVICES: devices_csv(figures),
        QUERIES: queries.render(params.window, loaded.with_text),
        # from the JSON as written (key order and all), exactly as `rendered_report` reads it back
        REPORT: render_report(json.loads(evidence_text), fp),
    }
    step("writing and signing")
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    (out / PUBKEY).write_bytes(signing.public_pem(key))
    names = [*files, PUBKEY]
    if claims_path is not None:
        shutil.copyfile(claims_path, out / CLAIMS)
        names.append(CLAIMS)
    write_manifest(out, names, key)
    if progress is not None:
        progress("exporting", steps, steps, "signed")
    return Exported(out, sorted([*names, MANIFEST, SIGNATURE]), fp)


def rendered_report(root: Path) -> str:
    """report.html as this software renders the bundle's own evidence.json and pubkey.pem."""
    path = root / EVIDENCE
    try:
        evidence = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CollectorError(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(evidence, dict) or evidence.get("schema") != SCHEMA:
        raise CollectorError(f"{path}: not a {SCHEMA} document")
    fp = None
    if (root / PUBKEY).is_file():
        fp = signing.fingerprint(signing.load_public((root / PUBKEY).read_bytes(), str(root / PUBKEY)))
    try:
        return render_report(evidence, fp)
    except (KeyError, TypeError, ValueError) as exc:
        raise CollectorError(f"{path}: cannot be rendered ({type(exc).__name__}: {exc})") from exc
