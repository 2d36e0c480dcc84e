"""A bundle with KPI claims: results included, claims file signed with it, recomputed on verify."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from collector.evidence import bundle
from collector.evidence.verify import verify_bundle
from collector.figures.compute import Parameters
from collector.figures.declared import load_declared
from collector.figures.window import parse_window
from collector.migrate import migrate
from tests.figures.truth import seed_truth

AS_OF = datetime(2026, 11, 21, tzinfo=UTC)
CLAIMS = """\
periods:
  baseline: {start: 2026-09-01, end: 2026-09-30}
  reporting: {start: 2026-10-01, end: 2026-10-31}
claims:
  - {id: ud-boiler, title: Unplanned downtime -20 %, kpi: unplanned_downtime,
     scope: {devices: [plant1/boiler-e]}, change_pct: -20, source: sample}
"""


def test_bundle_with_claims_recomputes(pg_dsn: str, tmp_path: Path) -> None:
    migrate(pg_dsn)
    seed_truth(pg_dsn)
    claims = tmp_path / "claims.yaml"
    claims.write_text(CLAIMS)
    out = tmp_path / "bundle"
    params = Parameters(parse_window("2026-10", AS_OF), AS_OF)
    bundle.export(
        pg_dsn, params, out, declared=load_declared(None), claims_path=claims, key_path=tmp_path / "k.pem"
    )
    ev = json.loads((out / bundle.EVIDENCE).read_text())
    assert ev["claims"]["included"] and ev["claims"]["file"] == bundle.CLAIMS
    (result,) = ev["claims"]["results"]
    # no state data in the baseline: the coverage gate fails, and the bundle says so
    assert result["id"] == "ud-boiler" and result["verdict"] == "inconclusive"
    assert (out / bundle.CLAIMS).read_text() == CLAIMS
    assert "ud-boiler" in (out / bundle.REPORT).read_text()
    checked = verify_bundle(out, recompute_dsn=pg_dsn)
    assert checked.ok and checked.recomputed, checked.problems
