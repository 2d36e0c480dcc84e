"""Progress of long work: a bar on a terminal, plain lines on stderr otherwise, outputs unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import wire
from infra.progress import Progress, ProgressFn
from simulators.backfill import Shape, backfill_csv, envelopes
from simulators.plant import PlantModel
from simulators.plantfile import load_plant
from simulators.scenario import to_ns

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "configs" / "plants" / "test-small.yaml"
FROM, TO = "2026-03-03", "2026-03-09"  # six days: six chunks of history
LINE = re.compile(r"backfill writing: +\d+\.\d % \([\d,]+/144 h of history, [\d,]+ samples\)")


def _model() -> tuple[PlantModel, int, int]:
    t0, t1 = (to_ns(dt.datetime.fromisoformat(d)) for d in (FROM, TO))
    return PlantModel.covering(load_plant(SMALL), t0, t1), t0, t1


Call = tuple[str, int, int, str | None]


def _recorder() -> tuple[list[Call], ProgressFn]:
    calls: list[Call] = []

    def record(phase: str, done: int, total: int, detail: str | None) -> None:
        calls.append((phase, done, total, detail))

    return calls, record


def test_backfill_with_progress_writes_the_same_bytes(tmp_path: Path) -> None:
    model, t0, t1 = _model()
    shape = Shape(interval_s=300)
    calls, progress = _recorder()
    quiet = backfill_csv(model, t0, t1, tmp_path / "quiet.csv", shape)
    heard = backfill_csv(model, t0, t1, tmp_path / "heard.csv", shape, progress)
    assert (tmp_path / "quiet.csv").read_bytes() == (tmp_path / "heard.csv").read_bytes()
    assert [c[:3] for c in calls] == [("writing", 24 * i, 144) for i in range(1, 7)]
    assert calls[-1][3] == f"{quiet.samples:,} samples" and heard.samples == quiet.samples
    calls.clear()
    plain = [wire.encode(e) for _, e in envelopes(model, t0, t1, shape)]
    assert [wire.encode(e) for _, e in envelopes(model, t0, t1, shape, progress=progress)] == plain
    assert calls[-1] == ("publishing", 144, 144, f"{len(plain):,} envelopes")


def test_sim_backfill_reports_on_stderr_and_leaves_stdout_and_the_file_alone(tmp_path: Path) -> None:
    model, t0, t1 = _model()
    expected = tmp_path / "expected.csv"
    counters = backfill_csv(model, t0, t1, expected, Shape(interval_s=300))
    out = tmp_path / "h.csv"
    began = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "plantproof", "sim", "backfill", "--plant", str(SMALL), "--from", FROM,
         "--to", TO, "--interval", "300", "--csv", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    wall = time.monotonic() - began
    assert run.returncode == 0, run.stderr
    digest = hashlib.sha256
    assert digest(out.read_bytes()).hexdigest() == digest(expected.read_bytes()).hexdigest()
    assert run.stdout.startswith(f"{counters.samples} samples, 0 envelopes") and run.stdout.count("\n") == 1
    lines = run.stderr.splitlines()
    assert lines and all(LINE.fullmatch(line) for line in lines), lines
    assert lines[0].startswith("backfill writing:  16.7 % (24/144 h")  # the first chunk, at once
    assert lines[-1] == f"backfill writing: 100.0 % (144/144 h of history, {counters.samples:,} samples)"
    assert len(lines) <= 2 + wall // 5  # one line per 5 s at most, besides the first and the last


def test_a_terminal_gets_a_bar_and_no_plain_lines() -> None:
    out = io.StringIO()
    p = Progress("import", stream=out, terminal=True)
    for done in (0, 50, 100):
        p("validating", done, 100, f"{done} rows")
    p.close()
    text = out.getvalue()
    assert "import validating" in text and "100 rows" in text and "\x1b[" in text
    assert "%" not in text  # the plain line's format is not used


def test_a_stream_that_is_not_a_terminal_gets_plain_lines() -> None:
    out = io.StringIO()
    p = Progress("import", stream=out)  # terminal=None: asks the stream
    p("validating", 100, 100)
    p.close()
    assert out.getvalue() == "import validating: 100.0 % (100/100 bytes)\n"


def test_an_unknown_total_shows_the_count_and_close_writes_the_last() -> None:
    out, now = io.StringIO(), [0.0]
    p = Progress("import", unit="rows", stream=out, terminal=False, clock=lambda: now[0])
    p("counting", 5, 0, "a.csv")
    now[0] = 1.0
    p("counting", 9_000, 0)  # held back: within 5 s of the last line
    assert out.getvalue().splitlines() == ["import counting: 5 rows, a.csv"]
    p.close()
    p.close()
    assert out.getvalue().splitlines() == ["import counting: 5 rows, a.csv", "import counting: 9,000 rows"]
