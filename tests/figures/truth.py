"""A hand-built plant for October 2026 (31 days; default rule: >= 16 active days) and its truth."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from tests.figures.seed import SeedDevice, days, seed

OCT = date(2026, 10, 1)
ALL_OCT = days(OCT, 31)

DEVICES = [
    # connected at the default rule: 20, 16 (exactly half rounded up), 25 and 31 active days
    SeedDevice(
        "cnc-a", "cnc_machine", "C34", "discrete", {"spindle": ("analog", days(OCT, 20), 0)}, managed=True
    ),
    SeedDevice("press-b", "press", "C34", "discrete", {"run": ("switch", days(OCT, 16, step=2), 0)}),
    SeedDevice(
        "pump-c",
        "pump",
        "C26",
        "process",
        {
            "flow": ("analog", days(OCT, 25), 0),
            "pressure": ("analog", days(OCT, 10), 0),  # a point active on 10 days only
            "target": ("setpoint", ALL_OCT, 0),  # setpoints never count
        },
    ),
    SeedDevice("robot-d", "robot", "C35", "discrete", {"state": ("state", [date(2026, 10, 7)], 0)}),
    SeedDevice(
        "boiler-e",
        "boiler",
        "C26",
        "process",
        {"temp": ("analog", ALL_OCT, 0), "state": ("state", ALL_OCT, 1)},  # uncertain state: not valid
    ),
    # 15 days: short of half of 31
    SeedDevice("agv-i", "agv", "C34", "discrete", {"speed": ("analog", days(OCT, 15), 0)}),
    # only a setpoint and bad-quality readings: never connected
    SeedDevice(
        "conv-j", "conveyor", "C34", "discrete", {"sp": ("setpoint", ALL_OCT, 0), "v": ("analog", ALL_OCT, 2)}
    ),
    # simulated
    SeedDevice(
        "sim-f", "cnc_machine", "C34", "discrete", {"spindle": ("analog", ALL_OCT, 0)}, simulated=True
    ),
    SeedDevice("sim-g", "furnace", "C31", "process", {"temp": ("analog", days(OCT, 20), 0)}, simulated=True),
    # a capacity-run population with readings: not equipment
    SeedDevice(
        "cap-h",
        "cnc_machine",
        "C34",
        "discrete",
        {"x": ("analog", ALL_OCT, 0)},
        simulated=True,
        namespace="capacity:r1",
    ),
]

TRUTH: dict[str, Any] = {
    "connected": {
        "default": ["plant1/boiler-e", "plant1/cnc-a", "plant1/press-b", "plant1/pump-c"],
        "any_day": [
            "plant1/agv-i",
            "plant1/boiler-e",
            "plant1/cnc-a",
            "plant1/press-b",
            "plant1/pump-c",
            "plant1/robot-d",
        ],
        "every_day": ["plant1/boiler-e"],
    },
    "connected_simulated": {
        "default": ["plant1/sim-f", "plant1/sim-g"],
        "any_day": ["plant1/sim-f", "plant1/sim-g"],
        "every_day": ["plant1/sim-f"],
    },
    "points": {
        "default": ["plant1/boiler-e/temp", "plant1/pump-c/flow"],
        "any_day": ["plant1/boiler-e/temp", "plant1/pump-c/flow", "plant1/pump-c/pressure"],
        "every_day": ["plant1/boiler-e/temp"],
    },
    "points_simulated": {"default": 1, "any_day": 1, "every_day": 0},
    "active_days": {"cnc-a": 20, "press-b": 16, "pump-c": 25, "robot-d": 1, "boiler-e": 31, "agv-i": 15},
    "types": ["boiler", "cnc_machine", "press", "pump"],
    "industries": ["C26", "C34"],
    "by_industry": {"C26": (2, 2), "C34": (2, 0)},
    "by_sector": {"discrete": (2, 0), "process": (2, 2)},
    "managed": ["plant1/cnc-a"],
    "invocations_oct": 200,
}


def seed_truth(dsn: str) -> None:
    seed(dsn, DEVICES)
    t0 = datetime(2026, 10, 5, 8, tzinfo=UTC)
    with psycopg.connect(dsn) as conn:
        # readings just outside the window never count
        pid = conn.execute(
            "SELECT p.point_id FROM points p JOIN devices d USING (device_id) WHERE d.dev = 'robot-d'"
        ).fetchone()
        assert pid is not None
        for ts in (datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)):
            conn.execute("INSERT INTO readings VALUES (%s, %s, 1, 0, 1)", (ts, pid[0]))
        ms = timedelta(milliseconds=1)
        sept = t0 - timedelta(days=10)
        # request, device, op, sent, answered (receive time), ok, reached, namespace
        ops = [
            ("op1", "cnc-a", "ping", t0, t0 + 40 * ms, True, True, "plant"),
            ("op2", "press-b", "ping", t0, None, None, False, "plant"),  # timed out
            ("op3", "pump-c", "ping", sept, sept + ms, True, True, "plant"),  # September
            ("op4", "sim-f", "ping", t0, t0 + ms, True, True, "plant"),
            ("op5", "cap-h", "ping", t0, t0 + ms, True, True, "capacity:r1"),
            ("op6", "agv-i", "ping", t0, t0 + 20_000 * ms, True, True, "plant"),  # after its deadline
            ("op7", "robot-d", "read_config", t0, t0 + ms, True, False, "plant"),  # the device not reached
            ("op8", "press-b", "ping", t0, t0 + ms, False, False, "plant"),  # link down: ok=false
        ]
        for rid, dev, op, sent, answered, ok, reached, ns in ops:
            conn.execute(
                "INSERT INTO management_ops (request_id, site, gw, dev, op, namespace, sent_at, deadline,"
                " answered_at, ok, reached) VALUES (%s, 'plant1', 'gw1', %s, %s, %s, %s, %s, %s, %s, %s)",
                (rid, dev, op, ns, sent, sent + timedelta(seconds=10), answered, ok, reached),
            )
        # answered before the rules of DESIGN §5 (no deadline, never proven reached): never counted
        conn.execute(
            "INSERT INTO management_ops (request_id, site, gw, dev, op, sent_at, answered_at, ok)"
            " VALUES ('old', 'plant1', 'gw1', 'pump-c', 'unknown', %s, %s, true)",
            (t0, t0),
        )
        conn.execute(
            "INSERT INTO capacity_runs (run_id, started_at, finished_at, devices, sampled, answered,"
            " latency_p50_ms, latency_p95_ms, latency_p99_ms)"
            " VALUES ('r1', %s, %s, 2000, 2000, 2000, 3, 9, 15)",
            (t0, t0 + timedelta(minutes=1)),
        )
        rows = [(t0 + timedelta(minutes=i), "oee", False, True) for i in range(150)]
        rows += [(t0 + timedelta(minutes=i), "mtbf", False, True) for i in range(50)]
        rows += [(t0, "oee", True, True)] * 30  # internal (self-test)
        rows += [(t0, "oee", False, False)] * 7  # failed
        rows += [(datetime(2026, 11, 2, tzinfo=UTC), "oee", False, True)] * 5  # next month
        conn.cursor().executemany(
            "INSERT INTO model_invocations (invoked_at, model, version, caller, internal, duration_ms, ok)"
            " VALUES (%s, %s, '1', 'api', %s, 1.0, %s)",
            rows,
        )
