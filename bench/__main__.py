"""Run every benchmark in its own process and print one table of the headline figures.

    python -m bench [--only NAME] [--full] [--timeout SECONDS]

Each module runs as `python -m bench.<name> <quick args>`; its output is streamed as it comes and
its `BENCH-RESULT {json}` lines (see bench/report.py) are collected into the final table. The quick
arguments keep the whole run to a few minutes on two cores; `--full` runs each module at its own
defaults instead. Exit status is 1 if a module fails, times out or reports no result.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.report import fmt, parse

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Module:
    name: str
    quick: tuple[str, ...]
    scale: str  # what the quick arguments run, printed before the module's output
    timeout: float  # seconds for the quick run; a hung module must not hold up the others
    # Modules not yet calling bench.report.emit: no result lines is stated, not a failure.
    results_optional: bool = False


MODULES = (
    Module(
        "bench_adapters",
        ("--opcua-items", "5000", "--seconds", "5"),
        "1,000 Modbus points @ 100 ms, 5,000 OPC UA items @ 1 s, 5 s windows",
        90,
    ),
    Module(
        "bench_gateway", ("--seconds", "5"), "40 devices, 5 s paced at 20,000 points/s + 5 s flat out", 90
    ),
    Module(
        "bench_ingest",
        ("--points", "500000"),
        "500,000 points in 100-sample envelopes",
        120,
        results_optional=True,
    ),
    Module(
        "bench_ack",
        ("--points", "200000"),
        "gateway to database, 200,000 points, with and without end-to-end acknowledgement",
        150,
    ),
    Module(
        "bench_import",
        ("--mb", "50", "--small-mb", "5"),
        "historian CSVs of 5 MB and 50 MB imported; the same files COPYed into a bare table",
        300,
    ),
    Module(
        "bench_storage",
        ("--hours", "2"),
        "2 h of the demo plant at 1 s imported; bytes per stored point against a bare heap row",
        120,
    ),
    Module(
        "bench_api",
        ("--devices", "30000", "--days", "7", "--requests", "10"),
        "API and console on a 30,000-device registry, a week of readings; raw SQL as the ceiling",
        240,
    ),
    Module(
        "bench_scale",
        ("--claim-devices", "100", "--fleet-devices", "1000", "--fleet-days", "7", "--requests", "10"),
        "claim over 100 devices x 1 year; figures, evidence and fleet page on 1,000 devices x 7 days",
        240,
    ),
    Module("bench_kpi", (), "1,000 devices x 10,000 state events (10 M), computation only", 90),
    Module(
        "bench_quality",
        ("--points", "300"),
        "300 analog points x one week at 1/min, every data-quality rule, computation only",
        90,
    ),
    Module(
        "bench_simulators",
        ("--weeks", "2", "--scale-hours", "0.1"),
        "50 devices x 2 weeks to CSV and MQTT; 3,000 and 30,000 devices x 0.1 h streamed",
        180,
    ),
    Module(
        "bench_sparkplug",
        ("--messages", "300"),
        "300 messages x 100 samples, Sparkplug B DDATA against JSON v1: encode, decode, decode + store",
        120,
    ),
    Module(
        "bench_kafka",
        ("--messages", "5000", "--s3-messages", "1000"),
        "5,000 envelopes through the embedded Kafka-protocol broker (memory), 1,000 with S3 storage",
        300,
    ),
    Module(
        "bench_kafka_path",
        ("--points", "100000"),
        "100,000 points: collector from Kafka vs from MQTT; bridge vs a bare producer",
        180,
    ),
)


@dataclass
class Outcome:
    module: Module
    args: tuple[str, ...]
    returncode: int | None = None
    timed_out: bool = False
    wall: float = 0.0
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """'ok', or why the module has no trustworthy result."""
        if self.timed_out:
            return f"TIMED OUT after {self.wall:.0f} s"
        if self.returncode != 0:
            return f"FAILED (exit {self.returncode})"
        if not self.results:
            if self.module.results_optional:
                return "no machine-readable result"
            return "FAILED (no BENCH-RESULT lines)"
        return "ok"

    @property
    def failed(self) -> bool:
        return self.status not in ("ok", "no machine-readable result")


def run_module(module: Module, args: tuple[str, ...], timeout: float) -> Outcome:
    """Run one module, echoing its output line by line; interrupt it (then kill it) on timeout."""
    cmd = [sys.executable, "-m", f"bench.{module.name}", *args]
    out = Outcome(module, args)
    print(f"\n=== {module.name}: {module.scale if args == module.quick else 'module defaults'}", flush=True)
    print(f"    $ python -m bench.{module.name} {' '.join(args)}".rstrip(), flush=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )

    def echo() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            rec = parse(line.rstrip("\n"))
            if rec is not None:
                out.results.append(rec)

    # A reader thread, so that a server left running by the module (holding the pipe open) cannot
    # keep the runner waiting for end-of-file.
    reader = threading.Thread(target=echo, name=f"echo-{module.name}", daemon=True)
    reader.start()
    try:
        out.returncode = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        # SIGINT first so the module's finally blocks stop the servers it started.
        print(f"=== {module.name}: no exit after {timeout:.0f} s, interrupting", flush=True)
        out.timed_out = True
        proc.send_signal(signal.SIGINT)
        try:
            out.returncode = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out.returncode = proc.wait()
    finally:
        if proc.poll() is None:  # the runner itself was interrupted: do not leave the module behind
            proc.kill()
            proc.wait()
    reader.join(10)
    if reader.is_alive():
        print(f"=== {module.name}: a child process still holds its output open; not waiting", flush=True)
    out.wall = time.monotonic() - started
    print(f"=== {module.name}: {out.status}, {out.wall:.1f} s", flush=True)
    return out


def _ratio(r: float) -> str:
    if r >= 10:
        return f"{r:,.1f}"
    return f"{r:.3f}" if r >= 0.1 else f"{r:.2g}"


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def print_table(outcomes: Sequence[Outcome], wall: float, load_before: str, load_after: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped into a log: do not wrap at 80 columns
        console = Console(width=170)
    table = Table(title="plantproof benchmarks")
    for col in ("benchmark", "figure", "value", "ceiling", "ratio", "target"):
        table.add_column(col, justify="right" if col in ("value", "ratio") else "left")
    for o in outcomes:
        name = f"{o.module.name}\n[dim]{o.wall:.0f} s[/dim]"
        if o.status != "ok":
            style = "yellow" if not o.failed else "bold red"
            table.add_row(name, f"[{style}]{o.status}[/{style}]", "", "", "", "", end_section=not o.results)
        for i, r in enumerate(o.results):
            ceiling = (
                "-" if r.get("ceiling") is None else f"{r.get('ceiling_label', '')}: {fmt(r['ceiling'])}"
            )
            ratio = "-" if r.get("ratio") is None else _ratio(r["ratio"])
            table.add_row(
                name if i == 0 and o.status == "ok" else "",
                escape(str(r.get("figure", "?"))),
                escape(f"{fmt(r.get('value'))} {r.get('unit', '')}"),
                escape(ceiling),
                ratio,
                escape(str(r.get("target", ""))),
                end_section=i == len(o.results) - 1,
            )
    console.print()
    console.print(table)
    console.print("ratio = value / ceiling, the ceiling measured in the same run on this machine")
    for o in outcomes:
        scale = o.module.scale if o.args == o.module.quick else "module defaults"
        console.print(f"  {o.module.name}: {scale} ({o.wall:.0f} s)")
    console.print(f"wall {wall:.0f} s; load average before {load_before}, after {load_after}")
    for o in outcomes:
        if o.status == "no machine-readable result":
            console.print(
                f"[yellow]{o.module.name}: ran (exit 0) but printed no BENCH-RESULT lines; its figures "
                "are only in its output above.[/yellow]"
            )


def main(argv: Sequence[str] | None = None) -> int:
    names = [m.name for m in MODULES]
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", action="append", metavar="NAME", help=f"one of {', '.join(names)}")
    parser.add_argument("--full", action="store_true", help="each module at its own default size")
    parser.add_argument(
        "--timeout", type=float, help="seconds per module (default: each module's own; 3600 with --full)"
    )
    args = parser.parse_args(argv)
    selected = list(MODULES)
    if args.only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in args.only}
        unknown = wanted - set(names)
        if unknown:
            parser.error(f"unknown benchmark {', '.join(sorted(unknown))}; choose from {', '.join(names)}")
        selected = [m for m in MODULES if m.name in wanted]
    load_before = _load()
    began = time.monotonic()
    outcomes: list[Outcome] = []
    for module in selected:
        timeout = args.timeout or (3600.0 if args.full else module.timeout)
        outcomes.append(run_module(module, () if args.full else module.quick, timeout))
    wall = time.monotonic() - began
    print_table(outcomes, wall, load_before, _load())
    failed = [o.module.name for o in outcomes if o.failed]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
