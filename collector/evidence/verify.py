"""`evidence verify`: signature and digests, and (given database access) every figure recomputed.

A bundle is *verified* only against a public key the auditor trusts (`--pubkey`, compared as a
key, whatever the PEM file's comments or line endings). Without one, the best a bundle can be is
*consistent*: it agrees with its own key, which anyone who altered it could have re-signed with, so
the result names that key's fingerprint and is never reported as verified.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from collector.errors import CollectorError
from collector.evidence import bundle, quality_section, signing
from collector.figures.compute import Parameters
from collector.figures.declared import declared_from_json
from collector.figures.tenant import Tenant
from collector.figures.tiers import evaluate
from collector.figures.window import parse_window

_LINE = re.compile(r"^([0-9a-f]{64})  ([A-Za-z0-9][A-Za-z0-9._-]*)$")
MAX_DIFFS = 50  # per section; the first differences name what changed, the rest add nothing


@dataclass(frozen=True, slots=True)
class Problem:
    where: str  # a bundle file, or "figure <path>", "tier <path>", "claim <id>"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(slots=True)
class Verification:
    bundle: Path
    problems: list[Problem] = field(default_factory=list)
    files_checked: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    key_source: str = ""
    recomputed: bool = False
    trusted: bool = False  # the signature was checked against a key the caller trusts

    @property
    def ok(self) -> bool:
        """Internally consistent: no file, signature or recomputation problem."""
        return not self.problems

    @property
    def verified(self) -> bool:
        """Consistent and signed by the trusted key."""
        return self.ok and self.trusted

    @property
    def status(self) -> str:
        """'verified', 'untrusted' (consistent, but signed by a key nobody vouched for) or 'failed'."""
        return "failed" if not self.ok else "verified" if self.trusted else "untrusted"

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": str(self.bundle),
            "status": self.status,
            "verified": self.verified,
            "trusted_key": self.trusted,
            "ok": self.ok,
            "problems": [{"where": p.where, "message": p.message} for p in self.problems],
            "files_checked": self.files_checked,
            "fingerprint": self.fingerprint,
            "key_source": self.key_source,
            "recomputed": self.recomputed,
        }


def diff(bundled: Any, fresh: Any, path: str, out: list[tuple[str, str]]) -> None:
    """Differences between two JSON values, as (path, description)."""
    if len(out) >= MAX_DIFFS:
        return
    if isinstance(bundled, dict) and isinstance(fresh, dict):
        for key in sorted(set(bundled) | set(fresh), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in fresh:
                out.append((sub, "in the bundle, not in the database"))
            elif key not in bundled:
                out.append((sub, "in the database, not in the bundle"))
            else:
                diff(bundled[key], fresh[key], sub, out)
    elif isinstance(bundled, list) and isinstance(fresh, list):
        if len(bundled) != len(fresh):
            out.append((path, f"{len(bundled)} entries in the bundle, {len(fresh)} in the database"))
        for i, (a, b) in enumerate(zip(bundled, fresh, strict=False)):
            diff(a, b, f"{path}[{i}]", out)
    elif bundled != fresh:
        out.append((path, f"bundle {json.dumps(bundled)}, database {json.dumps(fresh)}"))


def _check_files(result: Verification, root: Path) -> bytes | None:
    manifest_path = root / bundle.MANIFEST
    if not manifest_path.is_file():
        result.problems.append(Problem(bundle.MANIFEST, "missing"))
        return None
    manifest = manifest_path.read_bytes()
    listed: set[str] = set()
    for n, line in enumerate(manifest.decode("utf-8", errors="replace").split("\n"), 1):
        if not line and n == manifest.count(b"\n") + 1:
            continue  # after the final newline
        match = _LINE.match(line)
        if not match:
            result.problems.append(Problem(bundle.MANIFEST, f"line {n} is not '<sha256>  <file>'"))
            continue
        expected, name = match.groups()
        listed.add(name)
        path = root / name
        if not path.is_file():
            result.problems.append(Problem(name, "listed in the manifest but missing"))
        elif bundle.digest(path) != expected:
            result.problems.append(Problem(name, "SHA-256 differs from the manifest (file altered)"))
        else:
            result.files_checked.append(name)
    for path in sorted(root.iterdir()):
        if path.name not in listed | {bundle.MANIFEST, bundle.SIGNATURE}:
            result.problems.append(Problem(path.name, "not listed in the manifest"))
    return manifest


def _check_signature(result: Verification, root: Path, manifest: bytes, pubkey: Path | None) -> None:
    bundled_pem = (root / bundle.PUBKEY).read_bytes() if (root / bundle.PUBKEY).is_file() else None
    try:
        if pubkey is not None:
            key = signing.load_public(pubkey.read_bytes(), str(pubkey))
            result.key_source = f"trusted key {pubkey}"
            if bundled_pem is not None:
                try:
                    bundled = signing.load_public(bundled_pem, bundle.PUBKEY)
                except CollectorError as exc:
                    result.problems.append(Problem(bundle.PUBKEY, str(exc)))
                else:
                    if not signing.same_key(bundled, key):
                        result.problems.append(
                            Problem(
                                bundle.PUBKEY,
                                f"the bundle's key {signing.fingerprint(bundled)} is not the trusted key"
                                f" {signing.fingerprint(key)}",
                            )
                        )
        elif bundled_pem is not None:
            key = signing.load_public(bundled_pem, bundle.PUBKEY)
            result.key_source = f"{bundle.PUBKEY} in the bundle, not trusted (pass --pubkey)"
        else:
            result.problems.append(Problem(bundle.PUBKEY, "missing, and no --pubkey given"))
            return
    except (CollectorError, OSError) as exc:
        result.problems.append(Problem(bundle.PUBKEY if pubkey is None else str(pubkey), str(exc)))
        return
    result.fingerprint = signing.fingerprint(key)
    sig_path = root / bundle.SIGNATURE
    if not sig_path.is_file():
        result.problems.append(Problem(bundle.SIGNATURE, "missing"))
        return
    signature = sig_path.read_bytes()
    if len(signature) != 64 or not signing.verify(key, manifest, signature):
        result.problems.append(
            Problem(
                f"{bundle.MANIFEST}, {bundle.SIGNATURE}",
                "the Ed25519 signature does not verify over the manifest (one of them was altered,"
                " or the bundle was signed by another key)",
            )
        )
    elif pubkey is not None:
        result.trusted = True


def _recompute(
    result: Verification, root: Path, evidence: dict[str, Any], dsn: str, tenant: Tenant | None
) -> None:
    p = evidence["parameters"]
    as_of = datetime.fromisoformat(p["as_of"])
    params = Parameters(
        window=parse_window(p["window"], as_of),
        as_of=as_of,
        min_active_days_ratio=float(p["min_active_days_ratio"]),
        include_simulated=bool(p["include_simulated"]),
    )
    figures, _ = bundle.figures_of(dsn, params, tenant)
    found: list[tuple[str, str]] = []
    diff(evidence["figures"], figures.to_json(), "", found)
    result.problems += [Problem(f"figure {path}", msg) for path, msg in found]
    found = []
    diff(evidence["tiers"], evaluate(figures, declared_from_json(evidence["declared"])), "", found)
    result.problems += [Problem(f"tier {path}", msg) for path, msg in found]
    devices = (root / bundle.DEVICES).read_text(encoding="utf-8") if (root / bundle.DEVICES).is_file() else ""
    if devices != bundle.devices_csv(figures):
        result.problems.append(
            Problem(bundle.DEVICES, "differs from the devices recomputed from the database")
        )
    if "quality" in evidence:  # bundles made before the assessment existed carry none
        found = []
        diff(evidence["quality"], quality_section.build(dsn, params, tenant), "", found)
        result.problems += [Problem(f"quality {path}", msg) for path, msg in found]
    claims = evidence.get("claims") or {}
    if claims.get("included"):
        fresh = {c.get("id"): c for c in bundle.claim_results(dsn, root / bundle.CLAIMS, tenant)}
        for old in claims.get("results", []):
            found = []
            diff(old, fresh.get(old.get("id"), {}), "", found)
            result.problems += [Problem(f"claim {old.get('id')} {path}", msg) for path, msg in found]
    application = evidence.get("application") or {}
    if application.get("included"):
        from collector.application.measure import recompute_part

        found = []
        recomputed = recompute_part(dsn, application)
        diff({k: application.get(k) for k in recomputed}, recomputed, "", found)
        result.problems += [Problem(f"application {path}", msg) for path, msg in found]
    result.recomputed = True


def verify_bundle(
    root: Path, *, pubkey: Path | None = None, recompute_dsn: str | None = None, tenant: Tenant | None = None
) -> Verification:
    """Check a bundle; every problem names the file, figure, tier or claim it concerns.

    A bundle that names a tenant (`scope`) is recomputed over that tenant's sites. Given `tenant`
    (the caller's), only a bundle of that same tenant and sites is recomputed, and over them only.
    """
    result = Verification(bundle=root)
    if not root.is_dir():
        result.problems.append(Problem(str(root), "not a directory"))
        return result
    manifest = _check_files(result, root)
    if manifest is not None:
        _check_signature(result, root, manifest, pubkey)
    if recompute_dsn is None:
        return result
    try:
        evidence = json.loads((root / bundle.EVIDENCE).read_text(encoding="utf-8"))
        if evidence.get("schema") != bundle.SCHEMA:
            raise CollectorError(f"schema {evidence.get('schema')!r}, expected {bundle.SCHEMA}")
    except (OSError, ValueError, CollectorError) as exc:
        result.problems.append(Problem(bundle.EVIDENCE, f"cannot be read for recomputation: {exc}"))
        return result
    try:
        scope = evidence.get("scope")
        named = Tenant.from_json(scope) if scope is not None else None
    except (KeyError, TypeError, AttributeError):
        result.problems.append(Problem(bundle.EVIDENCE, "scope is not a tenant and its sites"))
        return result
    if tenant is not None and named != tenant:
        whose = f"tenant {named.name} (sites {', '.join(named.sites)})" if named else "the whole platform"
        result.problems.append(Problem("scope", f"the bundle covers {whose}, not tenant {tenant.name}"))
        return result
    try:
        _recompute(result, root, evidence, recompute_dsn, named)
    except (CollectorError, KeyError, TypeError, ValueError) as exc:
        result.problems.append(Problem("recompute", f"failed: {exc}"))
    return result
