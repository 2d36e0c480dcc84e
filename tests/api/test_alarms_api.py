"""Alarms in the API on a real PostgreSQL: tenant scope, acknowledgement in the audit log, /metrics,
and the evaluator storing what it raises and clears."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import psycopg
import yaml
from typer.testing import CliRunner

from api.alarm_config import AlarmConfig
from api.alarm_metrics import AlarmMetrics
from api.monitoring import Evaluator
from api.settings import ApiSettings
from infra.cli import EXIT_ERROR
from plantproof.cli import app
from tests.api.world import World, client

V1 = "/api/v1"


async def test_each_tenant_lists_its_alarms_and_the_platforms(world: World, http: httpx.AsyncClient) -> None:
    alpha = (await http.get(f"{V1}/alarms", headers=world.auth("alpha", "auditor"))).json()
    assert {a["id"] for a in alpha} == {world.alarms["site-a"], world.alarms["platform"]}
    beta = (await http.get(f"{V1}/alarms?state=active", headers=world.auth("beta", "operator"))).json()
    assert {a["id"] for a in beta} == {world.alarms["site-b"], world.alarms["platform"]}
    assert (await http.get(f"{V1}/alarms?state=cleared", headers=world.auth("beta", "admin"))).json() == []
    mine = await http.get(f"{V1}/alarms/{world.alarms['site-a']}", headers=world.auth("alpha", "auditor"))
    assert (
        mine.status_code == 200
        and mine.json()["subject"] == "site-a/gw-a"
        and mine.json()["cleared_at"] is None
    )
    theirs = await http.get(f"{V1}/alarms/{world.alarms['site-a']}", headers=world.auth("beta", "admin"))
    assert theirs.status_code == 404
    none = await http.get(f"{V1}/alarms/999999", headers=world.auth("alpha", "admin"))
    assert none.status_code == 404
    bad = await http.get(f"{V1}/alarms?state=loud", headers=world.auth("alpha", "admin"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "state"]


def _acks(dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT token_id, role, method, path, status, detail FROM audit_log"
            " WHERE method = 'POST' ORDER BY id"
        ).fetchall()


async def test_acknowledging_is_an_operator_action_in_the_audit_log(
    world: World, http: httpx.AsyncClient
) -> None:
    alarm = world.alarms["site-a"]
    url = f"{V1}/alarms/{alarm}/ack"
    refused = await http.post(url, headers=world.auth("alpha", "auditor"))
    assert refused.status_code == 403
    other = await http.post(url, headers=world.auth("beta", "operator"))
    assert other.status_code == 404  # another tenant's alarm does not exist
    done = await http.post(url, json={"note": "crew on the way"}, headers=world.auth("alpha", "operator"))
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["acked_by"] == world.token_ids["alpha", "operator"] and body["ack_note"] == "crew on the way"
    assert body["acked_at"] is not None and body["cleared_at"] is None  # still raised
    again = await http.post(url, headers=world.auth("alpha", "admin"))
    assert again.status_code == 409
    long = await http.post(url, json={"note": "x" * 501}, headers=world.auth("alpha", "admin"))
    assert long.status_code == 422 and long.json()["detail"][0]["loc"] == ["body", "note"]
    path = f"/api/v1/alarms/{alarm}/ack"
    assert _acks(world.dsn) == [
        (world.token_ids["alpha", "auditor"], "auditor", "POST", path, 403,
         "role auditor may not use this route"),
        (world.token_ids["beta", "operator"], "operator", "POST", path, 404, f"no alarm {alarm}"),
        (world.token_ids["alpha", "operator"], "operator", "POST", path, 200,
         f"acknowledged alarm {alarm} (gateway_offline site-a/gw-a)"),
        (world.token_ids["alpha", "admin"], "admin", "POST", path, 409, "acknowledged already"),
    ]  # fmt: skip


QUIET = {"device_offline": {"enabled": False}, "ingest_lag": {"enabled": False}}  # the seed's history


def _sql(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


async def test_the_evaluator_raises_clears_stores_and_exports(world: World) -> None:
    config = AlarmConfig.model_validate({"rules": {"gateway_offline": {"delay_s": 60}, **QUIET}})
    metrics = AlarmMetrics()
    _sql(
        world.dsn,
        "UPDATE gateways SET status = 'online', last_seen = now()",
        "INSERT INTO alarms (rule, subject, severity, message, raised_at, cleared_at) VALUES"
        " ('disk_free', '/old', 'critical', '', now() - interval '400 d', now() - interval '366 d'),"
        " ('disk_free', '/recent', 'critical', '', now() - interval '400 d', now() - interval '364 d')",
    )
    async with client(ApiSettings(dsn=world.dsn)) as (http, app):
        evaluator = Evaluator(config, app.state.service.pool, metrics)
        first = await evaluator.evaluate_once()
        assert first.raised == ()  # the world's alarms no longer hold
        kept = [
            a["subject"] for a in (await http.get(f"{V1}/alarms", headers=world.auth("beta", "admin"))).json()
        ]
        assert "/recent" in kept and "/old" not in kept  # cleared over keep_cleared_days ago: deleted
        assert first.cleared == (
            ("broker_dropped", "broker"),
            ("gateway_offline", "site-a/gw-a"),
            ("gateway_offline", "site-b/gw-b"),
        )
        _sql(
            world.dsn,
            "UPDATE gateways SET status = 'offline' WHERE gw = 'gw-b'",
            "UPDATE gateways SET last_seen = now() - interval '61 seconds' WHERE gw = 'gw-a'",
        )
        second = await evaluator.evaluate_once()
        assert [f.key for f in second.raised] == [
            ("gateway_offline", "site-a/gw-a"),
            ("gateway_offline", "site-b/gw-b"),
        ]
        assert "no birth, heartbeat or data for 61 s" in second.raised[0].message
        assert "went offline" in second.raised[1].message and second.cleared == ()
        assert (await evaluator.evaluate_once()).raised == ()  # raised once
        _sql(world.dsn, "UPDATE gateways SET last_seen = now() WHERE gw = 'gw-a'")
        assert (await evaluator.evaluate_once()).cleared == (("gateway_offline", "site-a/gw-a"),)
        listed = (await http.get(f"{V1}/alarms", headers=world.auth("alpha", "admin"))).json()
        app.state.alarm_metrics = metrics
        text = (await http.get("/metrics")).text
        await evaluator.stop()
    newest = listed[0]
    assert newest["subject"] == "site-a/gw-a" and newest["raised_at"] < newest["cleared_at"]
    assert {a["subject"] for a in listed} == {"site-a/gw-a", "broker", "/recent"}  # never site-b's
    assert 'plantproof_alarms_active{rule="gateway_offline",severity="critical"} 1.0' in text
    assert 'plantproof_alarms_active{rule="broker_dropped",severity="warning"} 0.0' in text
    assert 'plantproof_alarms_raised_total{rule="gateway_offline",severity="critical"} 2.0' in text
    assert 'plantproof_alarms_cleared_total{rule="gateway_offline",severity="critical"} 3.0' in text
    with psycopg.connect(world.dsn) as conn:
        rows = conn.execute(
            "SELECT subject, count(*), count(*) FILTER (WHERE cleared_at IS NULL) FROM alarms"
            " WHERE rule = 'gateway_offline' GROUP BY subject ORDER BY subject"
        ).fetchall()
    assert rows == [("site-a/gw-a", 2, 0), ("site-b/gw-b", 2, 1)]


async def test_the_service_runs_the_evaluator_from_its_alarm_file(world: World, tmp_path: Path) -> None:
    path = tmp_path / "alarms.yaml"
    path.write_text(
        yaml.safe_dump({"interval_s": 0.2, "rules": {"gateway_offline": {"delay_s": 60}, **QUIET}})
    )
    _sql(world.dsn, "UPDATE gateways SET status = 'offline' WHERE gw = 'gw-a'")
    async with client(ApiSettings(dsn=world.dsn, alarms=path)) as (http, app):
        assert app.state.evaluator is not None
        for _ in range(100):
            text = (await http.get("/metrics")).text
            if "plantproof_alarm_evaluations_total 2.0" in text:
                break
            await asyncio.sleep(0.05)
        assert "plantproof_alarm_evaluations_total 2.0" in text
        active = (await http.get(f"{V1}/alarms?state=active", headers=world.auth("alpha", "admin"))).json()
    # the alarm the world left active carries on (gw-a is still offline); the broker's cleared
    assert [a["id"] for a in active] == [world.alarms["site-a"]]


def test_api_run_refuses_a_bad_alarm_file_naming_its_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "alarms.yaml").write_text("rules:\n  disk_free:\n    below_ratio: 2\n")
    config = tmp_path / "api.yaml"
    config.write_text("alarms: alarms.yaml\n")
    result = CliRunner().invoke(app, ["api", "run", "-c", str(config)])
    assert result.exit_code == EXIT_ERROR
    assert f"{tmp_path.resolve() / 'alarms.yaml'}:3: " in result.output
    assert "(field rules.disk_free.below_ratio)" in result.output


async def test_a_platform_alarm_acknowledged_by_one_tenant_names_nobody_to_another(
    world: World, http: httpx.AsyncClient
) -> None:
    url = f"{V1}/alarms/{world.alarms['platform']}"
    done = await http.post(
        f"{url}/ack", json={"note": "beta's broker crew"}, headers=world.auth("beta", "admin")
    )
    assert done.status_code == 200 and done.json()["acked_by"] == world.token_ids["beta", "admin"]
    seen_by_beta = (await http.get(url, headers=world.auth("beta", "auditor"))).json()
    assert seen_by_beta["acked_by"] == world.token_ids["beta", "admin"]
    assert seen_by_beta["ack_note"] == "beta's broker crew"
    seen_by_alpha = (await http.get(url, headers=world.auth("alpha", "auditor"))).json()
    assert seen_by_alpha["acked_at"] == seen_by_beta["acked_at"] is not None
    assert seen_by_alpha["acked_by"] is None and seen_by_alpha["ack_note"] == ""
    listed = (await http.get(f"{V1}/alarms", headers=world.auth("alpha", "operator"))).json()
    assert "beta" not in str(listed)
    again = await http.post(f"{url}/ack", headers=world.auth("alpha", "operator"))
    assert again.status_code == 409


async def test_the_database_sources_read_what_the_rules_need(world: World) -> None:
    from api.alarm_rules import Rules
    from api.monitor_sources import read_database

    _sql(
        world.dsn,
        "INSERT INTO gateways (gw, site, backfill) VALUES ('import-x', 'site-a', true)",
        "UPDATE devices SET gw = 'import-x' WHERE dev = 'robot-a'",  # a history writer's: not watched
        "UPDATE envelopes SET received_at = sent_at",  # the seed's, received in October
        "INSERT INTO envelopes (gw, seq, kind, site, dev, received_at, sent_at, n, sha256) SELECT 'gw-a',"
        " 1000 + i, 'death', 'site-a', 'press-a', now() - i * interval '1 minute', now(), 0, 'x'"
        " FROM generate_series(1, 6) i",  # 5 within 330 s, the sixth before
        "INSERT INTO envelopes (gw, seq, kind, site, dev, received_at, sent_at, n, sha256) SELECT 'gw-b',"
        " 2000 + i, 'data', 'site-b', 'pump-b', now(), now() - i * interval '1 second', 1, 'x'"
        " FROM generate_series(1, 100) i",  # lags of 1 to 100 s
        "INSERT INTO dead_letters (topic, payload, error, received_at) SELECT 't', '', 'e',"
        " now() - i * interval '1 minute' FROM generate_series(1, 10) i",
    )
    rules = Rules.model_validate(
        {"device_flapping": {"window_s": 330}, "ingest_lag": {"window_s": 60},
         "dead_letter_rate": {"window_s": 270}}
    )  # fmt: skip
    async with client(ApiSettings(dsn=world.dsn)) as (_, app):
        db = await read_database(app.state.service.pool, rules)
    assert db is not None
    assert [g.gw for g in db.gateways] == ["gw-a", "gw-b"]
    assert [(d.site, d.dev) for d in db.devices] == [("site-a", "press-a"), ("site-b", "pump-b")]
    assert dict(db.deaths) == {("site-a", "press-a"): 5}
    assert db.ingest_lag_s is not None and abs(db.ingest_lag_s - 95.05) < 0.01  # percentile_cont
    assert db.dead_letters == 4 and db.size_bytes > 1_000_000


async def test_a_database_outage_stores_nothing_and_is_counted() -> None:
    from psycopg_pool import AsyncConnectionPool

    from api.alarm_rules import Changes
    from tests.servers import free_port

    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"  # nothing listens there
    pool = AsyncConnectionPool(dsn, min_size=1, open=False, timeout=1, kwargs={"connect_timeout": 1})
    await pool.open(wait=False)
    metrics = AlarmMetrics()
    evaluator = Evaluator(AlarmConfig(), pool, metrics)
    try:
        assert await evaluator.evaluate_once() == Changes((), ())
        assert await evaluator.evaluate_once() == Changes((), ())
    finally:
        await evaluator.stop()
        await pool.close()
    failures = metrics.registry.get_sample_value(
        "plantproof_alarm_source_failures_total", {"kind": "database"}
    )
    assert failures == 2
    assert metrics.registry.get_sample_value("plantproof_alarm_evaluation_errors_total") == 0
