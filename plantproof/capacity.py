"""Capacity run: register N synthetic devices in an isolated namespace, have a simulated fleet answer
management pings for them over MQTT, and record the outcome in `capacity_runs` and `management_ops`.

The population lives in `devices.namespace = 'capacity:<run id>'` with `simulated = true`, so it can
never be counted as equipment; figures report it only as "demonstrated management capacity
(synthetic)" with its date. A run that fails half way removes its synthetic devices and gateways and
is recorded in `capacity_runs` with status 'failed' and the reason, never shown as capacity.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from collector.errors import CollectorError
from collector.management import ManagementClient, Target, percentile, record_outcomes, record_requests
from infra.progress import ProgressFn
from simulators.fleet import Fleet, FleetError, split


@dataclass(frozen=True, slots=True)
class CapacityReport:
    run_id: str
    namespace: str
    started_at: datetime
    finished_at: datetime
    devices: int
    sampled: int
    answered: int
    offline: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    notes: str

    @property
    def success_rate(self) -> float:
        return self.answered / self.sampled if self.sampled else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "namespace": self.namespace,
            "label": "synthetic",
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "devices_registered": self.devices,
            "devices_sampled": self.sampled,
            "answered": self.answered,
            "devices_offline": self.offline,
            "success_rate": self.success_rate,
            "latency_ms": {
                "p50": self.latency_p50_ms,
                "p95": self.latency_p95_ms,
                "p99": self.latency_p99_ms,
            },
            "notes": self.notes,
        }


def register(dsn: str, run_id: str, gateways: dict[str, list[str]], namespace: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as conn:
        for gw in gateways:
            conn.execute("INSERT INTO gateways (gw, site, status) VALUES (%s, %s, 'online')", (gw, run_id))
        with conn.cursor().copy(
            "COPY devices (site, dev, gw, type, industry, sector, simulated, managed, protocol, namespace,"
            " first_seen, last_seen) FROM STDIN"
        ) as copy:
            for gw, devices in gateways.items():
                for dev in devices:
                    copy.write_row(
                        (
                            run_id,
                            dev,
                            gw,
                            "synthetic",
                            "synthetic",
                            "discrete",
                            True,
                            True,
                            "mqtt",
                            namespace,
                            now,
                            now,
                        )
                    )


def run_capacity(
    dsn: str,
    mqtt_url: str,
    devices: int,
    *,
    sample: int | None = None,
    offline: int = 0,
    per_gateway: int = 1000,
    timeout: float = 30.0,
    seed: int | None = None,
    max_in_flight: int = 1000,
    progress: ProgressFn | None = None,
) -> CapacityReport:
    """Register, ping (all devices or a random sample), record; `offline` devices never answer.
    `progress` hears of the pings sent and settled (from the management client)."""
    if devices < 1:
        raise CollectorError("a capacity run needs at least one device")
    if not 0 <= offline <= devices:
        raise CollectorError(f"offline must be between 0 and {devices}")
    started = datetime.now(UTC)
    run_id = f"cap-{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    namespace = f"capacity:{run_id}"
    seed = seed if seed is not None else secrets.randbits(32)
    rng = random.Random(seed)
    names = [f"syn-{i:07d}" for i in range(devices)]
    gateways = split(names, per_gateway, f"{run_id}-gw")
    gw_of = {dev: gw for gw, devs in gateways.items() for dev in devs}
    down = set(rng.sample(names, offline))
    chosen = names if sample is None or sample >= devices else sorted(rng.sample(names, sample))
    targets = [Target(run_id, gw_of[d], d) for d in chosen]
    try:
        register(dsn, run_id, gateways, namespace)
        with (
            Fleet(mqtt_url, run_id, gateways, offline=down),
            ManagementClient(mqtt_url, max_in_flight=max_in_flight) as c,
        ):
            outcomes = c.run(
                targets,
                "ping",
                timeout=timeout,
                register=lambda r: record_requests(dsn, r, namespace),
                progress=progress,
            )
        record_outcomes(dsn, outcomes)
    except BaseException as exc:  # interrupted runs are cleaned up and labelled too
        _fail(dsn, run_id, started, devices, len(chosen), exc)
        if isinstance(exc, CollectorError | FleetError | psycopg.Error | OSError):
            raise CollectorError(
                f"capacity run {run_id} failed; its synthetic devices were removed and the run is"
                f" recorded as failed: {exc}"
            ) from exc
        raise
    finished = datetime.now(UTC)
    latencies = [o.latency_ms for o in outcomes if o.ok and o.latency_ms is not None]
    answered = sum(1 for o in outcomes if o.ok)
    sampled_offline = sum(1 for d in chosen if d in down)
    notes = (
        f"synthetic: simulated gateway fleet ({len(gateways)} gateways), op ping, timeout {timeout:g}s,"
        f" {'all devices' if len(chosen) == devices else f'random sample of {len(chosen)} (seed {seed})'},"
        f" {offline} devices offline ({sampled_offline} of them sampled)"
    )
    report = CapacityReport(
        run_id, namespace, started, finished, devices, len(chosen), answered, offline,
        percentile(latencies, 50), percentile(latencies, 95), percentile(latencies, 99), notes,
    )  # fmt: skip
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO capacity_runs (run_id, started_at, finished_at, devices, sampled, answered,"
            " latency_p50_ms, latency_p95_ms, latency_p99_ms, notes) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (run_id, started, finished, devices, len(chosen), answered, report.latency_p50_ms,
             report.latency_p95_ms, report.latency_p99_ms, notes),
        )  # fmt: skip
    return report


def _fail(dsn: str, run_id: str, started: datetime, devices: int, sampled: int, exc: BaseException) -> None:
    """Remove a failed run's synthetic population and record the run as failed, with the reason."""
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute("DELETE FROM devices WHERE namespace = %s", (f"capacity:{run_id}",))
            conn.execute("DELETE FROM gateways WHERE site = %s", (run_id,))
            conn.execute(
                "INSERT INTO capacity_runs (run_id, started_at, finished_at, devices, sampled, status, notes)"
                " VALUES (%s, %s, now(), %s, %s, 'failed', %s)",
                (run_id, started, devices, sampled, f"failed: {type(exc).__name__}: {exc}"),
            )
    except psycopg.Error:
        pass  # the database itself is what failed: nothing can be cleaned up or labelled now
