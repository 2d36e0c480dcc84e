"""The reporting commands end to end: figures, tiers, evidence export / verify / pubkey."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from collector.evidence import bundle, signing
from collector.migrate import migrate
from plantproof.cli import app
from tests.figures.truth import seed_truth

ROOT = Path(__file__).resolve().parents[2]


def test_reporting_commands(pg_dsn: str, tmp_path: Path) -> None:
    migrate(pg_dsn)
    seed_truth(pg_dsn)
    runner = CliRunner()
    key = str(tmp_path / "key.pem")

    res = runner.invoke(app, ["figures", "--window", "2026-10", "--dsn", pg_dsn, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["figures"]["connected_equipment"]["default"]["value"] == 4
    assert data["parameters"]["include_simulated"] is False and "valid_reading" in data["definitions"]

    res = runner.invoke(app, ["figures", "--window", "2026-10", "--dsn", pg_dsn, "--include-simulated"])
    assert res.exit_code == 0, res.output
    assert "including simulated devices" in res.output and "plant1/sim-f (simulated)" in res.output
    assert "demonstrated management capacity (synthetic): 2,000" in res.output

    declared = str(ROOT / "configs" / "declared.yaml")
    res = runner.invoke(app, ["tiers", "--window", "2026-10", "--dsn", pg_dsn, "--declared", declared])
    assert res.exit_code == 0, res.output
    assert "enterprise: not met" in res.output and "declared (meets)" in res.output
    res = runner.invoke(app, ["tiers", "--window", "2026-10", "--dsn", pg_dsn, "--json"])
    assert {r["status"] for t in json.loads(res.output)["tiers"].values() for r in t["thresholds"]} == {
        "pass", "fail", "declared"
    }  # fmt: skip

    out = tmp_path / "bundle"
    res = runner.invoke(
        app,
        ["evidence", "export", "--window", "2026-10", "--dsn", pg_dsn, "--out", str(out), "--key", key,
         "--declared", declared],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"bundle {out}: ") and "exporting" not in res.stdout
    assert res.stderr.splitlines()[0] == "evidence exporting:   0.0 % (0/3 steps, computing figures)"
    assert res.stderr.splitlines()[-1] == "evidence exporting: 100.0 % (3/3 steps, signed)"
    res = runner.invoke(app, ["evidence", "pubkey", "--key", key])
    assert res.exit_code == 0 and res.output.startswith("-----BEGIN PUBLIC KEY-----")
    pub = tmp_path / "trusted.pem"
    pub.write_text(res.output)  # `plantproof evidence pubkey > trusted.pem`, comment line and all
    fingerprint = res.output.split("# fingerprint ")[1].strip()

    res = runner.invoke(app, ["evidence", "verify", str(out), "--recompute", "--dsn", pg_dsn, "-j"])
    assert res.exit_code == 3 and json.loads(res.output)["recomputed"], res.output
    res = runner.invoke(
        app, ["evidence", "verify", str(out), "--recompute"], env={"PLANTPROOF_COLLECTOR_DSN": ""}
    )
    assert res.exit_code == 2 and "--recompute needs --dsn" in res.output
    res = runner.invoke(
        app, ["evidence", "verify", str(out), "--recompute", "--dsn", pg_dsn, "--pubkey", str(pub)]
    )
    assert res.exit_code == 0, res.output
    assert res.output.rstrip().endswith(f"OK: verified with the trusted key {fingerprint}")

    # without a trusted key: never OK, a distinct exit status, the key named
    res = runner.invoke(app, ["evidence", "verify", str(out)])
    assert res.exit_code == 3, res.output
    assert f"internally consistent but signed by an untrusted key {fingerprint}" in res.output
    assert "OK" not in res.output
    res = runner.invoke(app, ["evidence", "verify", str(out), "--json"])
    assert res.exit_code == 3 and json.loads(res.output)["status"] == "untrusted"

    # altered and re-signed with a new key: consistent with itself, so only the key tells
    forged = tmp_path / "forged"
    shutil.copytree(out, forged)
    ev = forged / bundle.EVIDENCE
    ev.write_text(ev.read_text().replace('"connected_equipment": 4', '"connected_equipment": 400'))
    assert '"connected_equipment": 400' in ev.read_text()
    other = signing.load_or_create_key(tmp_path / "other.pem")
    (forged / bundle.PUBKEY).write_bytes(signing.public_pem(other))
    names = [p.name for p in forged.iterdir() if p.name not in (bundle.MANIFEST, bundle.SIGNATURE)]
    bundle.write_manifest(forged, sorted(names), other)
    res = runner.invoke(app, ["evidence", "verify", str(forged)])
    assert res.exit_code == 3, res.output
    assert signing.fingerprint(other.public_key()) in res.output and fingerprint not in res.output
    res = runner.invoke(app, ["evidence", "verify", str(forged), "--pubkey", str(pub)])
    assert res.exit_code == 1 and "is not the trusted key" in res.output, res.output

    report = out / "report.html"
    report.write_bytes(report.read_bytes().replace(b"Platform evidence", b"Platform evidencE"))
    res = runner.invoke(app, ["evidence", "verify", str(out)])
    assert res.exit_code == 1 and "FAIL report.html" in res.output

    res = runner.invoke(app, ["figures", "--window", "October", "--dsn", pg_dsn])
    assert res.exit_code == 2 and "expected YYYY-MM" in res.output
    res = runner.invoke(app, ["figures", "-w", "October", "--dsn", pg_dsn, "--json"])
    assert res.exit_code == 2 and json.loads(res.stdout) == {
        "error": "window 'October': expected YYYY-MM or YYYY-MM-DD",
        "exit_code": 2,
    }
