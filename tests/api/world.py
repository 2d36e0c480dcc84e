"""Two tenants on a migrated database, each owning one site with its devices and readings (test helper)."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from psycopg.types.json import Jsonb

from api.app import create_app
from api.settings import ApiSettings
from api.store import ROLES, create_tenant, create_token
from collector.kpi.claimfile import parse_claims
from collector.migrate import migrate
from infra.yamlconfig import parse_yaml
from tests.figures.seed import SeedDevice, days, seed
from tests.servers import free_port

OCT = date(2026, 10, 1)
# alpha: press-a connected at the default rule (20 of 31 days), robot-a on 5 days only; beta: pump-b.
DEVICES = (
    SeedDevice("press-a", "press", "C34", "discrete", {"temp": ("analog", days(OCT, 20), 0)},
               site="site-a", gw="gw-a"),
    SeedDevice("robot-a", "robot", "C34", "discrete", {"speed": ("analog", days(OCT, 5), 0)},
               site="site-a", gw="gw-a"),
    SeedDevice("pump-b", "pump", "C25", "process", {"flow": ("analog", days(OCT, 25), 0)},
               site="site-b", gw="gw-b"),
)  # fmt: skip


@dataclass(frozen=True)
class World:
    dsn: str
    tokens: dict[tuple[str, str], str]  # (tenant, role) -> token
    token_ids: dict[tuple[str, str], int]
    evidence_dir: Path | None = None
    alarms: dict[str, int] = field(default_factory=dict)  # site-a | site-b | platform -> alarm id

    def settings(self, **overrides: Any) -> ApiSettings:
        where = {}
        if self.evidence_dir is not None:
            where = {"evidence_dir": self.evidence_dir, "evidence_key": self.evidence_dir / "key.pem"}
        return ApiSettings(dsn=self.dsn, **where, **overrides)

    def auth(self, tenant: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[tenant, role]}"}


# press-a was born on the 1st, died on the 21st and was born again on the 22nd (received times).
EVENTS = (
    ("birth", "2026-10-01T00:00:00Z"),
    ("death", "2026-10-21T00:00:00Z"),
    ("birth", "2026-10-22T00:00:00Z"),
)


# A refused message of each tenant's, and one whose topic names no site (no tenant's).
LETTERS = (
    ("pp/v1/site-a/gw-a/press-a/data", b'{"v":1,"seq":"x"}' + b"A" * 5000, "seq: expected an integer"),
    ("spBv1.0/site-b/DDATA/gw-b/pump-b", b"\x00\xff", "not a Sparkplug payload"),
    ("garbage", b"?", "not a plantproof topic"),
)


def _events(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        for topic, payload, error in LETTERS:
            conn.execute(
                "INSERT INTO dead_letters (topic, payload, error, received_at)"
                " VALUES (%s, %s, %s, '2026-10-15T12:00:00Z')",
                (topic, payload, error),
            )
        for seq, (kind, at) in enumerate(EVENTS, 10**12):  # beyond the seed's data envelopes
            conn.execute(
                "INSERT INTO envelopes (gw, seq, kind, site, dev, received_at, sent_at, n, sha256)"
                " VALUES ('gw-a', %s, %s, 'site-a', 'press-a', %s, %s, 0, %s)",
                (seq, kind, at, at, f"{seq:064x}"),
            )


# A claim of alpha's, stored as the API stores one (scope narrowed to alpha's sites).
CLAIMS = """
periods:
  baseline: {start: 2026-10-01, end: 2026-10-15}
  reporting: {start: 2026-10-16, end: 2026-10-31}
claims:
  - {id: press-downtime, title: Press downtime -20 %, kpi: unplanned_downtime, change_pct: -20,
     scope: {type: press}, gates: {min_days: 7}}
"""


def _claims(dsn: str, tenant: str, text: str) -> None:
    with psycopg.connect(dsn) as conn:
        tid, sites = conn.execute(
            "SELECT t.id, array_agg(s.site) FROM tenants t JOIN tenant_sites s ON s.tenant = t.id"
            " WHERE t.name = %s GROUP BY t.id",
            (tenant,),
        ).fetchone() or (None, None)
        for c in parse_claims(parse_yaml(text, "claims"), sites=sites):
            conn.execute(
                "INSERT INTO api_claims (tenant, claim_id, claim) VALUES (%s, %s, %s)",
                (tid, c.id, Jsonb(c.model_dump(mode="json"))),
            )


BUNDLE_ID = "0123456789abcdef0123456789abcdef"


def _bundle(dsn: str, tenant: str, folder: Path) -> None:
    """A stored bundle row and its zip (the files stored uncompressed, so its bytes read as text)."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT id FROM tenants WHERE name = %s", (tenant,)).fetchone()
        assert found is not None
        scope = {"tenant": tenant, "sites": ["site-a"]}
        conn.execute(
            "INSERT INTO api_evidence (id, tenant, window_text, scope, fingerprint, bytes)"
            " VALUES (%s, %s, '2026-10', %s, 'ed25519:test', 1)",
            (BUNDLE_ID, found[0], Jsonb(scope)),
        )
    (folder / str(found[0])).mkdir(parents=True)
    with zipfile.ZipFile(folder / str(found[0]) / f"{BUNDLE_ID}.zip", "w", zipfile.ZIP_STORED) as z:
        z.writestr("evidence.json", json.dumps({"scope": scope}))


def build(dsn: str, evidence_dir: Path | None = None) -> World:
    migrate(dsn)
    seed(dsn, DEVICES)
    _events(dsn)
    create_tenant(dsn, "alpha", ["site-a"])
    create_tenant(dsn, "beta", ["site-b"])
    tokens, ids = {}, {}
    for tenant in ("alpha", "beta"):
        for role in ROLES:
            new = create_token(dsn, tenant, role, label=f"{tenant} {role}")
            tokens[tenant, role], ids[tenant, role] = new.token, new.id
    _claims(dsn, "alpha", CLAIMS)
    if evidence_dir is not None:
        _bundle(dsn, "alpha", evidence_dir)
    return World(dsn, tokens, ids, evidence_dir, _alarms(dsn))


def _alarms(dsn: str) -> dict[str, int]:
    """An active alarm of each tenant's gateway and one of the platform's own (no site)."""
    rows = (
        ("site-a", "gateway_offline", "site-a/gw-a", "critical", "gateway site-a/gw-a went offline"),
        ("site-b", "gateway_offline", "site-b/gw-b", "critical", "gateway site-b/gw-b went offline"),
        (None, "broker_dropped", "broker", "warning", "the broker dropped 3 messages"),
    )
    out = {}
    with psycopg.connect(dsn) as conn:
        for site, rule, subject, severity, message in rows:
            row = conn.execute(
                "INSERT INTO alarms (rule, subject, site, severity, message, value, raised_at)"
                " VALUES (%s, %s, %s, %s, %s, 1, '2026-11-02T10:00:00Z') RETURNING id",
                (rule, subject, site, severity, message),
            ).fetchone()
            assert row is not None
            out[site or "platform"] = int(row[0])
    return out


@asynccontextmanager
async def client(
    settings: ApiSettings, address: str = "127.0.0.1"
) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    """The app with its lifespan running (pool open), and an in-process client from `address`."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            yield http, app


@contextmanager
def served(settings: ApiSettings) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread of this process; its base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start in 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
