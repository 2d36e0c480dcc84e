"""Figures against a hand-built truth on a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from collector.errors import CollectorError
from collector.figures import queries
from collector.figures.compute import Parameters, compute, rules
from collector.figures.model import DeviceMember, ManagedMember
from collector.figures.window import Window, parse_window
from collector.migrate import migrate
from tests.figures.seed import SeedDevice, seed
from tests.figures.truth import TRUTH, seed_truth

AS_OF = datetime(2026, 11, 21, tzinfo=UTC)


def test_window_parsing_and_rules() -> None:
    assert parse_window(None, AS_OF) == Window(date(2026, 10, 1), date(2026, 11, 1))
    assert parse_window("2026-12", AS_OF) == Window(date(2026, 12, 1), date(2027, 1, 1))
    w = parse_window("2026-08..2026-10", AS_OF)
    assert w.days == 92 and w.months() == ["2026-08", "2026-09", "2026-10"]
    assert parse_window("2026-10-03..2026-10-04", AS_OF).days == 2
    assert rules(Parameters(parse_window("2026-10", AS_OF), AS_OF)) == {
        "default": 16,
        "any_day": 1,
        "every_day": 31,
    }
    assert rules(Parameters(parse_window("2026-11", AS_OF), AS_OF))["default"] == 15
    assert parse_window("2026-11", AS_OF).complete_months(AS_OF) == []
    with pytest.raises(CollectorError, match="expected YYYY-MM"):
        parse_window("October", AS_OF)


def _devices(members: Iterable[DeviceMember | ManagedMember]) -> list[str]:
    return sorted(m.device for m in members)


def test_figures_match_hand_built_truth(pg_dsn: str) -> None:
    migrate(pg_dsn)
    seed_truth(pg_dsn)
    window = parse_window("2026-10", AS_OF)
    loaded = queries.load(pg_dsn, window)
    figures = compute(loaded.results, Parameters(window, AS_OF))

    assert figures.include_simulated is False
    for rule, members in TRUTH["connected"].items():
        got = figures.connected_equipment.rule(rule)
        assert _devices(got.members) == members, rule
        assert got.value == len(members)
        assert _devices(got.simulated_members) == TRUTH["connected_simulated"][rule]
        assert got.simulated == len(TRUTH["connected_simulated"][rule])
    for m in figures.connected_equipment.any_day.members:
        assert m.active_days == TRUTH["active_days"][m.device.split("/")[1]]
    boiler = figures.connected_equipment.every_day.members[0]
    assert boiler.first_seen == "2026-10-01T01:59:00+00:00"
    assert boiler.last_seen == "2026-10-31T23:59:00+00:00"
    assert boiler.messages == 31 and boiler.readings == 93  # one envelope per day, three readings

    for rule, members in TRUTH["points"].items():
        points = figures.data_collection_points.rule(rule)
        assert sorted(p.point for p in points.members) == members, rule
        assert points.simulated == TRUTH["points_simulated"][rule]

    assert list(figures.equipment_types.members) == TRUTH["types"]
    assert list(figures.industries.members) == TRUTH["industries"]
    assert figures.equipment_types.simulated_members == ("cnc_machine", "furnace")
    for breakdown, table in (
        (figures.breakdown_by_industry, "by_industry"),
        (figures.breakdown_by_sector, "by_sector"),
    ):
        share = {k: (v.connected_equipment, v.data_collection_points) for k, v in breakdown.items()}
        assert share == TRUTH[table], table
    assert figures.connected_equipment.default.by_type == {t: 1 for t in TRUTH["types"]}

    managed = figures.managed_equipment
    assert _devices(managed.members) == TRUTH["managed"] and managed.simulated == 1

    cap = figures.demonstrated_management_capacity
    assert cap is not None
    assert cap.label == "synthetic" and cap.value == 2000 and cap.success_rate == 1.0
    assert cap.date is not None and cap.date.startswith("2026-10-05")

    inv = figures.monthly_model_invocations
    assert inv.per_month == {"2026-10": TRUTH["invocations_oct"]}
    assert inv.value == TRUTH["invocations_oct"] and inv.by_model == {
        "mtbf": {"2026-10": 50},
        "oee": {"2026-10": 150},
    }

    # Simulated devices reach the headline only on request, and the output says so.
    with_sim = compute(loaded.results, Parameters(window, AS_OF, include_simulated=True))
    assert with_sim.include_simulated is True and "including simulated" in with_sim.counting
    assert with_sim.connected_equipment.default.value == 6
    assert with_sim.data_collection_points.default.value == 3
    assert with_sim.managed_equipment.value == 2
    assert with_sim.industries.members == ("C26", "C31", "C34")

    # A stricter rule shrinks the default figure exactly.
    strict = compute(loaded.results, Parameters(window, AS_OF, min_active_days_ratio=0.7))
    assert _devices(strict.connected_equipment.default.members) == ["plant1/boiler-e", "plant1/pump-c"]


def test_queries_sql_carries_window() -> None:
    window = parse_window("2026-10", AS_OF)
    for with_text in (False, True):
        text = queries.render(window, with_text)
        assert "'2026-10-01T00:00:00+00:00'::timestamptz" in text and "%(" not in text
        assert ("readings_text" in text) is with_text
        for name in queries.statements(with_text):
            assert f"-- {name}" in text


def test_string_readings_count_when_stored(pg_dsn: str) -> None:
    migrate(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        present = conn.execute("SELECT to_regclass('readings_text') IS NOT NULL").fetchone()
    if not (present and present[0]):
        pytest.skip("this schema has no readings_text table (string readings)")
    seed(pg_dsn, [SeedDevice("lbl-k", "press", "C34", "discrete", {"recipe": ("analog", [], 0)})])
    with psycopg.connect(pg_dsn) as conn:
        pid = conn.execute("SELECT point_id FROM points WHERE name = 'recipe'").fetchone()
        assert pid is not None
        for day in range(1, 21):
            ts = datetime(2026, 10, day, 9, tzinfo=UTC)
            conn.execute("INSERT INTO readings_text VALUES (%s, %s, 'R-17', 0, %s)", (ts, pid[0], day))
            bad = ts + timedelta(seconds=1)
            conn.execute("INSERT INTO readings_text VALUES (%s, %s, NULL, 2, %s)", (bad, pid[0], day))
    window = parse_window("2026-10", AS_OF)
    loaded = queries.load(pg_dsn, window)
    assert loaded.with_text
    (device,) = compute(loaded.results, Parameters(window, AS_OF)).connected_equipment.default.members
    assert device.device == "plant1/lbl-k" and device.active_days == 20 and device.readings == 20
