"""`plantproof demo`: the whole system, embedded, on one machine.

PostgreSQL (TimescaleDB when installed) and Mosquitto start on free ports under `demo-output/`;
the OPC UA and Modbus simulators serve the demo plant live; a gateway reads both and publishes;
a collector ingests; six months of the same plant's history (an intervention three months in) are
backfilled. Then the platform figures, the tier table and the verdicts on the sample claims are
printed next to the simulator's ground truth, and a signed evidence bundle is written and verified.
Everything the demo shows is simulated data, and it says so.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from devicemodel.configroot import config_root
from plantproof.demo_plan import DemoPlan, claim_truth, gateway_config, plan_for
from plantproof.stack import Stack, free_port, wait_until

if TYPE_CHECKING:
    from collector.figures.model import Figures

SIMULATED = "[bold yellow]SIMULATED DATA[/] — every device below is a simulator, flagged simulated"


def run_demo(keep: bool, out: Path, interval: float, kafka: bool = False) -> None:
    """The demo itself (see `plantproof.demo` for the command)."""
    from collector.errors import CollectorError

    console = Console(width=None if Console().is_terminal else 120)
    try:
        plan = plan_for(dt.datetime.now(dt.UTC), out.resolve(), config_root())
    except CollectorError as exc:
        console.print(f"error: {exc}")
        raise SystemExit(2) from None
    stack = Stack(plan.workdir / "stack")
    if stack.workdir.exists():
        shutil.rmtree(stack.workdir)
    console.print(f"plantproof demo — {SIMULATED}")
    previous = {sig: signal.signal(sig, _interrupt) for sig in STOP_SIGNALS}
    try:
        _run(console, plan, stack, interval, kafka)
        if keep:
            _keep(console, plan, stack)
    except KeyboardInterrupt as exc:
        console.print(f"\ninterrupted{f' ({exc})' if str(exc) else ''}: stopping the stack")
    finally:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _ignore)
        for sig in STOP_SIGNALS:
            signal.signal(sig, _ignore)  # a second signal must not cut the shutdown short (it is bounded)
        try:
            stack.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


# SIGTERM (a service manager, `kill`) and SIGHUP (a closed terminal) would otherwise end Python at
# once and leave every child running: each lives in a process group of its own.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _ignore(_signum: int, _frame: object) -> None:
    pass  # a Python handler, not SIG_IGN: an ignored disposition would be inherited across exec


def _run(console: Console, plan: DemoPlan, stack: Stack, interval: float, kafka: bool) -> None:
    from collector.figures import queries
    from collector.figures.declared import load_declared
    from collector.figures.tiers import evaluate
    from collector.kpi.claimfile import load_claims
    from collector.kpi.verify import verify_claims

    with _progress(console) as progress:
        task = progress.add_task("starting PostgreSQL and Mosquitto", total=None)
        stack.start_servers()
        progress.update(task, description=f"database ready ({stack.storage}), broker at {stack.mqtt_url}")
        progress.stop_task(task)
        _start_services(stack, plan, kafka)
        what = "bridge, Kafka and two collectors" if kafka else "collector"
        task = progress.add_task(f"simulators, gateway and {what} running", total=None)
        wait_until(lambda: stack.alive_and(_live_devices(stack.dsn, plan) > 0), 60, what="first births")
        progress.stop_task(task)
        backfill = _start_backfill(stack, plan, interval)
        task = progress.add_task("backfilling six months of history", total=None)
        while backfill.is_alive():
            stack.check_alive()
            progress.update(
                task, description=f"backfilling history: {_stored(stack.dsn, plan)} envelopes stored"
            )
            backfill.join(0.5)
        if backfill.error is not None:
            raise backfill.error
        expected = backfill.counters.envelopes if backfill.counters else 0
        progress.update(task, total=expected, description=f"history backfilled: {expected:,} envelopes")
        wait_until(
            lambda: _update(progress, task, _stored(stack.dsn, plan)) >= expected,
            300,
            what="the collector to store every backfilled envelope",
        )
        progress.stop_task(task)

    api_url, tokens = _start_api(stack, plan)
    _print_live(console, stack, plan)
    _manage_live(console, stack, plan)
    params = plan.parameters()
    figures, _loaded = queries.figures(stack.dsn, params)
    _print_figures(console, figures, plan)
    declared = load_declared(config_root() / "declared.yaml")
    _print_tiers(console, evaluate(figures, declared))
    claims = load_claims(plan.claims_file)
    results = [r.to_json() for r in verify_claims(stack.dsn, claims)]
    _print_claims(console, results, plan)
    bundle = _evidence(stack, plan, declared)
    console.print(f"evidence: {bundle}", soft_wrap=True)  # one line, for scripts that look for it
    wait_until(functools.partial(_serving, stack, plan.api_port), 60, what="the platform API")
    console.print(f"console and API: {api_url}/ (stops with the demo unless --keep)", soft_wrap=True)
    for role, token in tokens.items():  # demo tokens: the demo's database goes with the demo
        console.print(f"  demo {role} token: {token}", soft_wrap=True)


def _start_api(stack: Stack, plan: DemoPlan) -> tuple[str, dict[str, str]]:
    """The platform service on the demo's database: tenant "demo" owns the demo plant's sites, one
    token per role."""
    from api.store import ROLES, create_tenant, create_token

    sql = "SELECT array_agg(DISTINCT site ORDER BY site) FROM devices WHERE namespace = 'plant'"
    sites = _query(stack.dsn, sql)
    create_tenant(stack.dsn, "demo", list(sites or []))
    tokens: dict[str, str] = {r: create_token(stack.dsn, "demo", r, label=f"demo {r}").token for r in ROLES}
    plan.api_port = free_port()
    config = stack.workdir / "api.yaml"
    config.write_text(yaml.safe_dump({"dsn": stack.dsn, "host": "127.0.0.1", "port": plan.api_port}))
    stack.spawn("api", "api", "run", "-c", str(config))
    return f"http://127.0.0.1:{plan.api_port}", tokens


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _update(progress: Progress, task: Any, value: int) -> int:
    progress.update(task, completed=value)
    return value


def _start_services(stack: Stack, plan: DemoPlan, kafka: bool) -> None:
    modbus_port, opcua_port = free_port(), free_port()
    common = ["--plant", str(plan.plant_file), "--speed", "1", "--hours", "6"]
    stack.spawn("sim-modbus", "sim", "modbus", *common, "--port", str(modbus_port))
    stack.spawn("sim-opcua", "sim", "opcua", *common, "--port", str(opcua_port))
    plan.collector_metrics_port = free_port()
    assert stack.broker is not None
    if kafka:
        from plantproof.demo_kafka import start_kafka_ingest

        start_kafka_ingest(stack, plan.collector_metrics_port)
    else:
        stack.spawn(
            "collector", "collector", "run", "--dsn", stack.dsn,
            env={
                "PLANTPROOF_COLLECTOR_MQTT__URL": stack.mqtt_url,
                "PLANTPROOF_COLLECTOR_MQTT__CLIENT_ID": "plantproof-demo-collector",
                "PLANTPROOF_COLLECTOR_METRICS_PORT": str(plan.collector_metrics_port),
            },
        )  # fmt: skip
    plan.gateway_metrics_port = free_port()
    config = gateway_config(plan, stack.mqtt_url, modbus_port, opcua_port)
    gateway_file = stack.workdir / "gateway.yaml"
    gateway_file.write_text(yaml.safe_dump(config, sort_keys=False))
    for port in (modbus_port, opcua_port):
        wait_until(functools.partial(_serving, stack, port), 60, what=f"simulator port {port}")
    stack.spawn("gateway", "gateway", "run", "-c", str(gateway_file))


def _serving(stack: Stack, port: int) -> bool:
    return stack.alive_and(_port_open(port))


def _port_open(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class _Backfill(threading.Thread):
    def __init__(self, stack: Stack, plan: DemoPlan, interval: float) -> None:
        super().__init__(name="backfill", daemon=True)
        self.stack, self.plan, self.interval = stack, plan, interval
        self.counters: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        from simulators.backfill import Shape, backfill_mqtt

        try:
            model = self.plan.model()
            self.counters = backfill_mqtt(
                model,
                self.plan.start_ns,
                self.plan.end_ns,
                self.stack.mqtt_url,
                Shape(interval_s=self.interval, heartbeat_s=300.0),
            )
        except BaseException as exc:  # reported by the main thread
            self.error = exc


def _start_backfill(stack: Stack, plan: DemoPlan, interval: float) -> _Backfill:
    thread = _Backfill(stack, plan, interval)
    thread.start()
    return thread


def _query(dsn: str, sql: str, *args: Any) -> Any:
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, args).fetchone()
    return row[0] if row else None


def _stored(dsn: str, plan: DemoPlan) -> int:
    return int(_query(dsn, "SELECT count(*) FROM envelopes WHERE gw = %s", plan.backfill_gateway) or 0)


def _live_devices(dsn: str, plan: DemoPlan) -> int:
    return int(
        _query(
            dsn, "SELECT count(DISTINCT dev) FROM envelopes WHERE gw = %s AND kind = 'birth'", plan.gateway_id
        )
        or 0
    )


def _print_live(console: Console, stack: Stack, plan: DemoPlan) -> None:
    import psycopg

    with psycopg.connect(stack.dsn) as conn:
        rows = conn.execute(
            "SELECT e.gw, count(*) FILTER (WHERE e.kind = 'data'), coalesce(sum(e.n) FILTER"
            " (WHERE e.kind = 'data'), 0), count(DISTINCT e.dev), max(e.received_at)"
            " FROM envelopes e GROUP BY e.gw ORDER BY e.gw"
        ).fetchall()
        dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
    table = Table(title="ingest status (simulated sources)")
    for column in ("gateway", "data envelopes", "samples", "devices", "last received"):
        table.add_column(column)
    for gw, envs, samples, devices, last in rows:
        table.add_row(gw, f"{envs:,}", f"{samples:,}", str(devices), str(last)[:19])
    console.print(table)
    console.print(
        f"dead letters: {dead[0] if dead else 0}; live gateway {plan.gateway_id} reads "
        f"{len(plan.modbus_devices)} devices over Modbus and {len(plan.opcua_devices)} over OPC UA"
    )


def _manage_live(console: Console, stack: Stack, plan: DemoPlan) -> None:
    """Ping every live device through its gateway; answered operations make it managed equipment."""
    from collector.figures import queries
    from collector.figures.compute import Parameters
    from collector.figures.window import parse_window
    from collector.management import Target, send

    targets = [Target(plan.plant.site, plan.gateway_id, d.id) for d in plan.plant.devices]
    outcomes = send(stack.mqtt_url, stack.dsn, targets, "ping", timeout=15.0)
    answered = [o for o in outcomes if o.ok]
    latencies = sorted(o.latency_ms for o in answered if o.latency_ms is not None)
    median = f"{latencies[len(latencies) // 2]:.0f} ms" if latencies else "—"
    console.print(
        f"management: pinged {len(targets)} live devices, {len(answered)} answered (median {median})"
    )
    month = plan.now.strftime("%Y-%m")
    params = Parameters(parse_window(month, plan.now), plan.now, 0.5, False)
    live, _ = queries.figures(stack.dsn, params)
    console.print(
        f"this month so far ({month}, partial): connected equipment any day"
        f" {live.connected_equipment.any_day.value} (simulated column"
        f" {live.connected_equipment.any_day.simulated}), managed equipment"
        f" {live.managed_equipment.value} (simulated column {live.managed_equipment.simulated})"
    )


def _print_figures(console: Console, figures: Figures, plan: DemoPlan) -> None:
    from collector.figures.rows import FIGURE_ROWS

    truth = plan.figures_truth()
    table = Table(title=f"platform figures, window {plan.window_label} — {figures.counting}")
    for column in ("figure", "headline (real devices)", "simulated column", "simulator truth"):
        table.add_column(column, justify="right" if column != "figure" else "left")
    for row in FIGURE_ROWS:
        if row.demo is None:
            continue
        simulated = "—" if row.simulated is None else str(row.simulated(figures))
        expected = truth.of(row)
        expected_text = "—" if expected is None else str(expected)
        table.add_row(row.demo, str(row.value(figures)), simulated, expected_text)
    console.print(table)


def _print_tiers(console: Console, tiers: dict[str, Any]) -> None:
    table = Table(title="tier readiness (measured on simulated devices counts as zero)")
    for column in ("tier", "verdict", "measured thresholds met", "declared"):
        table.add_column(column)
    for tier, t in tiers.items():
        rows = t["thresholds"]
        measured = [r for r in rows if r["status"] != "declared"]
        met = sum(1 for r in measured if r["status"] == "pass")
        declared = sum(1 for r in rows if r["status"] == "declared")
        table.add_row(tier, str(t["verdict"]), f"{met} of {len(measured)}", str(declared))
    console.print(table)


def _print_claims(console: Console, results: list[dict[str, Any]], plan: DemoPlan) -> None:
    table = Table(
        title=f"claims: baseline {plan.baseline_label}, reporting {plan.reporting_label} (simulated)"
    )
    # each interval is at its claim's own confidence: named in the header when they all agree
    confidences = sorted({r["confidence"] for r in results})
    interval_title = f"{confidences[0]:.0%} interval" if len(confidences) == 1 else "interval"
    for column in ("claim", "claimed", "measured", interval_title, "simulator truth", "verdict"):
        table.add_column(column)
    for r in results:
        unit = r["unit"]
        truth = claim_truth(plan, r)
        interval = "—" if r["ci_low"] is None else f"{r['ci_low']:+.1f} … {r['ci_high']:+.1f} {unit}"
        measured = "—" if r["point_estimate"] is None else f"{r['point_estimate']:+.2f} {unit}"
        expected = "—" if truth is None else f"{truth:+.2f} {unit}"
        colour = {"verified": "green", "refuted": "red"}.get(r["verdict"], "yellow")
        table.add_row(
            r["title"],
            f"{r['claimed_change']:+g} {unit}",
            measured,
            interval,
            expected,
            f"[{colour}]{r['verdict']}[/]",
        )
    console.print(table)


def _evidence(stack: Stack, plan: DemoPlan, declared: Any) -> Path:
    from collector.evidence import signing
    from collector.evidence.bundle import export
    from collector.evidence.verify import verify_bundle

    out = plan.workdir / f"evidence-{time.strftime('%Y%m%dT%H%M%S')}"
    key = plan.workdir / "keys" / "evidence-ed25519.pem"
    export(stack.dsn, plan.parameters(), out, declared=declared, claims_path=plan.claims_file, key_path=key)
    # the demo signed it, so the demo can vouch for the key; an auditor gets it from the operator
    trusted = plan.workdir / "keys" / "evidence-ed25519.pub.pem"
    trusted.write_bytes(signing.public_pem(signing.load_or_create_key(key)))
    result = verify_bundle(out, pubkey=trusted, recompute_dsn=stack.dsn)
    if not result.verified:
        raise RuntimeError(f"the evidence bundle did not verify: {result.problems}")
    return out / "report.html"


def _keep(console: Console, plan: DemoPlan, stack: Stack) -> None:
    assert stack.broker is not None
    console.print("\n[bold]the stack keeps running[/] (Ctrl-C stops it):")
    console.print(f"  DSN:        {stack.dsn}")
    console.print(f"  broker:     {stack.mqtt_url}")
    console.print(f"  collector metrics: http://127.0.0.1:{plan.collector_metrics_port}/metrics")
    console.print(f"  gateway metrics:   http://127.0.0.1:{plan.gateway_metrics_port}/metrics")
    console.print(f"  console and API:   http://127.0.0.1:{plan.api_port}/")
    console.print("  in another shell, run these two lines, then the README's commands as printed:")
    console.print(f"export PLANTPROOF_COLLECTOR_DSN='{stack.dsn}'", soft_wrap=True)
    console.print(f"export PLANTPROOF_COLLECTOR_MQTT__URL='{stack.mqtt_url}'", soft_wrap=True)
    while True:
        stack.check_alive()
        time.sleep(1)
