"""The model catalog: pure models against known answers, the invocation ledger, and the CLI."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import psycopg
import pytest
from typer.testing import CliRunner

from collector.kpi.claims import Period
from collector.migrate import migrate
from collector.models import spc
from collector.models.catalog import CATALOG, get
from collector.models.errors import ModelError
from collector.models.ledger import invoke, is_internal
from plantproof.cli import app as root_app
from tests.kpi.helpers import copy_readings, register_device
from wire.states import STATE_CODES

DAY = dt.date(2026, 2, 2)
T0 = (DAY - dt.date(1970, 1, 1)).days * 86_400 * 10**9
MIN = 60 * 10**9


def test_catalog_has_at_least_twelve_described_models_in_several_categories() -> None:
    assert len(CATALOG) >= 12
    assert len({m.category for m in CATALOG.values()}) >= 5
    for m in CATALOG.values():
        d = m.describe()
        assert d["name"] and d["category"] and d["version"] and d["inputs"] and d["description"]
    with pytest.raises(ModelError, match="unknown model"):
        get("crystal_ball")


def test_spc_capability_western_electric_and_ewma_on_known_series() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(10.0, 0.5, 20_000)
    cap = spc.capability(x, lsl=8.0, usl=13.0)
    assert cap["cp"] == pytest.approx(5 / 3, rel=0.02)  # (13 − 8) / (6 · 0.5)
    assert cap["cpk"] == pytest.approx(4 / 3, rel=0.02)  # (10 − 8) / (3 · 0.5)
    # rule 1: one point beyond 3σ; rule 4: eight in a row above the centre
    series = np.array([0.1, -0.2, 3.5, 0.0, 0.5, 0.4, 0.3, 0.6, 0.2, 0.7, 0.1, 0.9, -0.5])
    we = spc.western_electric(series, center=0.0, sigma=1.0)
    assert we["rule1"] == 1 and we["rule4"] >= 1 and we["rule2"] == 0
    # EWMA: silent on the in-control part, alarms soon after a 1.5σ shift at index 500
    y = rng.normal(0.0, 1.0, 1000)
    y[500:] += 1.5
    ew = spc.ewma_alarms(y, lam=0.2, width=3.0, train=300)
    assert 500 <= ew["first_alarm_index"] < 540
    with pytest.raises(ValueError):
        spc.capability(x, lsl=2.0, usl=1.0)


@pytest.fixture()
def one_machine(pg_dsn: str) -> str:
    """One CNC machine over one day: running except 12:00–13:00 unplanned, 1 part per running minute."""
    migrate(pg_dsn)
    t = T0 + np.arange(1440, dtype=np.int64) * MIN
    minute = np.arange(1440)
    stopped = (minute >= 720) & (minute < 780)
    state = np.where(stopped, STATE_CODES["unplanned_stop"], STATE_CODES["running"]).astype(np.float64)
    parts = np.cumsum(~stopped).astype(np.float64) + float(2**32 - 100)  # wraps early in the day
    parts = np.mod(parts, 2.0**32)
    temp = np.random.default_rng(1).normal(50.0, 1.0, 1440)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        ids = register_device(conn, "cnc-1", site="s1")
        for name, v in (
            ("state", state),
            ("parts_total", parts),
            ("parts_good", parts),
            ("spindle_temp", temp),
        ):
            copy_readings(conn, np.full(1440, ids[name]), t, v)
    return pg_dsn


def _ledger(dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT model, version, caller, internal, scope, ok, error, duration_ms"
            " FROM model_invocations ORDER BY id"
        ).fetchall()


def test_invocations_compute_and_are_recorded_with_internal_flag(one_machine: str) -> None:
    w = Period(start=DAY, end=DAY)
    a = invoke(one_machine, "availability", device="s1/cnc-1", window=w, caller="mes-dashboard")
    assert a.ok and a.result["availability"] == pytest.approx(23 / 24, abs=1e-3)
    m = invoke(one_machine, "mtbf", device="cnc-1", window=w, caller="internal:nightly")
    assert m.result["failures"] == 1 and m.result["mtbf_h"] == pytest.approx(23.0, abs=0.01)
    c = invoke(one_machine, "counter_reconciliation", device="cnc-1", window=w, caller="demo")
    assert c.result["produced_wraps"] == 1 and c.result["produced"] == pytest.approx(
        1379
    )  # first sample is the reference
    s = invoke(one_machine, "spc_capability", device="cnc-1", window=w, caller="self-test",
               point="spindle_temp", params={"lsl": 44.0, "usl": 56.0})  # fmt: skip
    assert s.ok and s.result["cp"] == pytest.approx(2.0, rel=0.1)
    bad = invoke(one_machine, "spc_capability", device="cnc-1", window=w, caller="mes-dashboard")
    assert not bad.ok and "analog point" in (bad.error or "")
    with pytest.raises(ModelError):
        invoke(one_machine, "nope", device="cnc-1", window=w, caller="x")
    rows = _ledger(one_machine)
    assert [(r[0], r[2], r[3], r[5]) for r in rows] == [
        ("availability", "mes-dashboard", False, True),
        ("mtbf", "internal:nightly", True, True),
        ("counter_reconciliation", "demo", True, True),
        ("spc_capability", "self-test", True, True),
        ("spc_capability", "mes-dashboard", False, False),
    ]
    assert all(r[1] == "1.0.0" and str(r[4]).endswith(("2026-02-02", "point=spindle_temp")) for r in rows)
    assert rows[-1][6] and all(float(r[7]) >= 0 for r in rows)  # type: ignore[arg-type]
    assert is_internal("internal:") and not is_internal("demo-app")


def test_models_cli_list_and_invoke(one_machine: str) -> None:
    app = root_app
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.output)) == len(CATALOG)
    args = ["models", "invoke", "quality_yield", "--device", "cnc-1", "--window", "2026-02-02"]
    out = runner.invoke(app, [*args, "--caller", "erp", "--dsn", one_machine])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["result"]["quality"] == pytest.approx(1.0)
    ew = runner.invoke(app, ["models", "invoke", "ewma_anomaly", "--device", "cnc-1", "--window",
                             "2026-02-02", "--point", "spindle_temp", "--param", "lambda=0.1",
                             "--dsn", one_machine])  # fmt: skip
    assert ew.exit_code == 0, ew.output
    bad = runner.invoke(app, [*args, "--param", "oops", "--dsn", one_machine])
    assert bad.exit_code == 2
    assert json.loads(bad.stdout) == {"error": "--param 'oops': expected KEY=NUMBER", "exit_code": 2}
    month = runner.invoke(app, ["models", "invoke", "quality_yield", "--device", "cnc-1", "-w", "2026-02",
                                "--dsn", one_machine])  # fmt: skip
    assert month.exit_code == 0, month.output
    assert json.loads(month.output)["scope"] == "cnc-1 2026-02-01:2026-02-28"
    missing = runner.invoke(app, ["models", "invoke", "oee", "--device", "ghost", "--window",
                                  "2026-02-02", "--dsn", one_machine])  # fmt: skip
    assert missing.exit_code == 1 and "not found" in missing.output
    assert [r[2] for r in _ledger(one_machine)] == ["erp", "cli", "cli", "cli"]
