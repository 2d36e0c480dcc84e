"""Tenants and tokens from the command line; a token's text never reaches the database."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from api.settings import ApiSettings
from collector.migrate import migrate
from plantproof.cli import app
from tests.api.world import World, client
from tests.processes import ApiProcess
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def _everything(dsn: str) -> str:
    """Every row of every table in the database, as text."""
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        out = []
        for schema, table in tables:
            query = sql.SQL("SELECT t::text FROM {}.{} t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            out += [r[0] for r in conn.execute(query).fetchall()]
    return "\n".join(out)


async def test_a_token_is_stored_only_as_its_hash(world: World) -> None:
    token = world.tokens["alpha", "auditor"]
    async with client(ApiSettings(dsn=world.dsn)) as (http, _):
        # used, refused for its role (audited with its id), and a wrong one next to it
        assert (await http.get("/api/v1/figures", headers=world.auth("alpha", "auditor"))).status_code == 200
        assert (await http.get("/api/v1/devices", headers=world.auth("alpha", "auditor"))).status_code == 403
        wrong = {"Authorization": f"Bearer {token}x"}
        assert (await http.get("/api/v1/devices", headers=wrong)).status_code == 401
    dump = _everything(world.dsn)
    assert "role auditor may not use this route" in dump  # the dump holds the audit rows
    assert token not in dump and token[:16] not in dump
    with psycopg.connect(world.dsn) as conn:
        row = conn.execute(
            "SELECT sha256 FROM api_tokens WHERE id = %s", (world.token_ids["alpha", "auditor"],)
        ).fetchone()
    assert row is not None and row[0] == hashlib.sha256(token.encode()).hexdigest()


def test_cli_creates_tenants_and_tokens_and_revokes_them(pg_dsn: str) -> None:
    migrate(pg_dsn)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        res = runner.invoke(app, ["api", *args, "--dsn", pg_dsn])
        return res.exit_code, res.stdout, res.stderr

    code, out, _ = run("tenant", "create", "acme", "--site", "plant-1", "--site", "plant-2")
    assert code == 0 and "acme" in out and "plant-1, plant-2" in out
    code, _, err = run("tenant", "create", "other", "--site", "plant-2")
    assert code == 2 and "site 'plant-2' belongs to tenant 'acme'" in err
    code, _, err = run("tenant", "create", "acme", "--site", "plant-9")
    assert code == 2 and "exists already" in err
    code, out, err = run("token", "create", "--tenant", "acme", "--role", "operator", "--label", "scada")
    token = out.strip()
    assert code == 0 and len(token) >= 43 and "\n" not in token and token not in err
    assert "role operator" in err and "shown only now" in err
    code, _, err = run("token", "create", "--tenant", "acme", "--role", "root")
    assert code == 2 and "expected one of admin, operator, auditor" in err
    code, _, err = run("token", "create", "--tenant", "nobody", "--role", "admin")
    assert code == 2 and "no tenant 'nobody'" in err
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT id, role, label, revoked_at FROM api_tokens").fetchone()
    assert row is not None and row[1:] == ("operator", "scada", None)
    code, out, _ = run("token", "list", "--tenant", "acme")
    assert code == 0 and out.splitlines()[1].split()[:3] == [str(row[0]), "acme", "operator"]
    assert out.splitlines()[1].split()[-2:] == ["-", "scada"] and token not in out
    assert run("token", "revoke", str(row[0]))[:2] == (0, f"token {row[0]} revoked\n")
    listed = run("token", "list")[1].splitlines()
    assert len(listed) == 2 and listed[1].split()[-1] == "scada" and " - " not in listed[1]
    assert run("token", "revoke", str(row[0]))[1] == f"token {row[0]} was revoked already\n"
    code, _, err = run("token", "revoke", "999")
    assert code == 2 and "no token with id 999" in err
    with psycopg.connect(pg_dsn) as conn:
        audit = conn.execute(
            "SELECT token_id, role, method, path, status, detail FROM audit_log ORDER BY id"
        ).fetchall()
    assert audit == [  # the writes that succeeded, each once; the refused ones changed nothing
        (None, None, "CLI", "plantproof api tenant create", 0, "tenant acme owns plant-1, plant-2"),
        (row[0], "operator", "CLI", "plantproof api token create", 0, "label 'scada'"),
        (row[0], "operator", "CLI", "plantproof api token revoke", 0, "revoked"),
    ]


def test_cli_before_migration_names_the_command_to_run(pg_dsn: str) -> None:
    res = CliRunner().invoke(app, ["api", "tenant", "create", "acme", "--site", "s", "--dsn", pg_dsn])
    assert res.exit_code == 2 and "plantproof collector migrate" in res.stderr


def test_api_run_serves_the_api_over_http(world: World, tmp_path: Path) -> None:
    api = ApiProcess(world.dsn, free_port(), tmp_path)
    try:
        api.start_and_wait(30)
        spec = httpx.get(f"{api.base}/api/v1/openapi.json", timeout=10)
        assert spec.status_code == 200 and "/api/v1/devices/{site}/{device}" in spec.json()["paths"]
        res = httpx.get(f"{api.base}/api/v1/devices", headers=world.auth("beta", "operator"), timeout=10)
        assert res.status_code == 200 and [d["device"] for d in res.json()] == ["pump-b"]
        assert httpx.get(f"{api.base}/api/v1/devices", timeout=10).status_code == 401
    finally:
        api.stop()


def test_settings_name_the_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "api.yaml"
    config.write_text("dsn: postgresql://x@127.0.0.1/db\nport: 99999\n")
    res = CliRunner().invoke(app, ["api", "run", "-c", str(config)])
    assert res.exit_code == 2 and f"{config}:2" in res.stderr and "port" in res.stderr


def test_the_shipped_config_loads_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.settings import ApiLimits, load_settings
    from infra.yamlconfig import ConfigFileError

    shipped = load_settings(ROOT / "configs" / "api.yaml")
    assert shipped.limits == ApiLimits() and shipped.port == 8080 and shipped.declared is None
    monkeypatch.setenv("PLANTPROOF_API_LIMITS__AUTH_FAILURES", "3")
    assert load_settings(ROOT / "configs" / "api.yaml").limits.auth_failures == 3
    monkeypatch.setenv("PLANTPROOF_API_LIMITS_AUTH_FAILURES", "3")
    with pytest.raises(ConfigFileError, match="use PLANTPROOF_API_LIMITS__AUTH_FAILURES"):
        load_settings(ROOT / "configs" / "api.yaml")
