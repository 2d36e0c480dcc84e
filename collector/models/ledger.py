"""The invocation ledger: every model invocation is recorded in `model_invocations`.

Internal callers (`self-test`, `demo`, anything starting `internal:`) are flagged `internal` and are
never counted in the monthly invocation figure.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import psycopg

from collector.kpi.claims import Claim, Period, Points, Scope
from collector.kpi.engine import PeriodData, Series, device_days
from collector.kpi.errors import KpiError
from collector.kpi.load import connect, copy_readings, load_period, resolve_scope
from collector.kpi.timemodel import DAY_NS, NO_DATA
from collector.models.catalog import ModelInput, Result, get
from collector.models.errors import ModelError

INTERNAL_CALLERS = frozenset({"self-test", "demo"})
INTERNAL_PREFIX = "internal:"
EPOCH = dt.date(1970, 1, 1)


def is_internal(caller: str) -> bool:
    return caller in INTERNAL_CALLERS or caller.startswith(INTERNAL_PREFIX)


@dataclass(frozen=True, slots=True)
class Invocation:
    model: str
    version: str
    caller: str
    internal: bool
    scope: str
    duration_ms: float
    ok: bool
    error: str | None
    result: Result

    def to_json(self) -> dict[str, Any]:
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.result.items()
        }
        return {
            "model": self.model,
            "version": self.version,
            "caller": self.caller,
            "internal": self.internal,
            "scope": self.scope,
            "duration_ms": round(self.duration_ms, 3),
            "ok": self.ok,
            "error": self.error,
            "result": clean,
        }


def record(conn: psycopg.Connection, inv: Invocation, at: dt.datetime | None = None) -> None:
    conn.execute(
        "INSERT INTO model_invocations"
        " (invoked_at, model, version, caller, internal, scope, duration_ms, ok, error)"
        " VALUES (coalesce(%s::timestamptz, now()), %s, %s, %s, %s, %s, %s, %s, %s)",
        (at, inv.model, inv.version, inv.caller, inv.internal, inv.scope, inv.duration_ms, inv.ok, inv.error),
    )


def cut_at_now(data: PeriodData, now_ns: int) -> tuple[PeriodData, np.ndarray]:
    """State data of a window that reaches past `now`: every device's last state ends at now (a
    no_data sample there), later samples are dropped; also the seconds of each day after now."""
    days = np.arange((data.end - data.start).days + 1, dtype=np.int64)
    day_start = data.start_ns + days * DAY_NS
    future = np.clip(day_start + DAY_NS - np.maximum(day_start, now_ns), 0, DAY_NS) / 1e9
    if now_ns >= data.end_ns:
        return data, future.astype(np.float64)
    s = data.state
    keep = s.t < now_ns
    n = len(data.devices)
    dev = np.concatenate([s.dev[keep], np.arange(n, dtype=np.int64)])
    t = np.concatenate([s.t[keep], np.full(n, now_ns, dtype=np.int64)])
    order = np.lexsort((t, dev))
    value = np.concatenate([s.value[keep], np.full(n, float(NO_DATA))])[order]
    quality = np.concatenate([s.quality[keep], np.zeros(n, dtype=np.int16)])[order]
    wrap = None if s.wrap is None else np.concatenate([s.wrap[keep], np.full(n, np.nan)])[order]
    state = Series(dev[order], t[order], value, quality, wrap)
    return replace(data, state=state), future.astype(np.float64)


def _input(
    conn: psycopg.Connection, device: str, window: Period, point: str | None, params: dict[str, float],
    now_ns: int,
) -> ModelInput:  # fmt: skip
    devices = resolve_scope(conn, Scope(devices=[device]))
    if len(devices) != 1:
        raise ModelError(f"device {device!r}: {'not found' if not devices else 'ambiguous, give site/dev'}")
    timeout = float(params.get("heartbeat_timeout_s", Claim.model_fields["heartbeat_timeout_s"].default))
    data, future = cut_at_now(load_period(conn, devices, Points(), window, timeout), now_ns)
    analog = None
    if point is not None:
        row = conn.execute(
            "SELECT point_id FROM points WHERE device_id = %s AND name = %s", (devices[0].device_id, point)
        ).fetchone()
        if row is None:
            raise ModelError(f"device {device!r} has no point {point!r}")
        start = (window.start - EPOCH).days * DAY_NS
        rows = copy_readings(conn, [int(row[0])], start, start + window.days * DAY_NS)
        ok = rows["q"] < 2
        analog = (rows["ts"][ok].astype(np.float64), rows["val"][ok].astype(np.float64))
    days = device_days(data, timeout)
    return ModelInput(data=data, days=days, analog=analog, params=params, future_s=future)


def invoke(
    dsn: str,
    name: str,
    *,
    device: str,
    window: Period,
    caller: str,
    point: str | None = None,
    params: dict[str, float] | None = None,
    now_ns: int | None = None,
) -> Invocation:
    """Runs a catalogued model on one device's telemetry over a window and records the invocation.

    A failing model is recorded with ok=false and its error, then returned (not raised).
    """
    spec = get(name)
    if not caller.strip():
        raise ModelError("caller must not be empty")
    scope = f"{device} {window.start}:{window.end}" + (f" point={point}" if point else "")
    with connect(dsn) as conn:
        began = time.perf_counter()
        result: Result = {}
        error: str | None = None
        try:
            if spec.needs_point and point is None:
                raise ModelError(f"{name} needs an analog point (--point)")
            now = time.time_ns() if now_ns is None else now_ns
            result = spec.fn(_input(conn, device, window, point, dict(params or {}), now))
        except (ModelError, KpiError, ValueError, ArithmeticError) as exc:
            error = str(exc) or type(exc).__name__
        inv = Invocation(
            model=spec.name,
            version=spec.version,
            caller=caller,
            internal=is_internal(caller),
            scope=scope,
            duration_ms=(time.perf_counter() - began) * 1000.0,
            ok=error is None,
            error=error,
            result=result,
        )
        record(conn, inv)
    return inv
