"""`plantproof demo`, the main job, run as a user runs it: figures and verdicts match the simulator's
truth, the evidence bundle it writes verifies, and every README command marked to run on the demo
works on its data as printed."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- runs on the demo: tests/test_demo.py -->"


def _rows(output: str, title: str) -> list[list[str]]:
    """Cells of the rich table whose title contains `title` (continuation lines dropped)."""
    block = output[output.index(title) :]
    rows = []
    for line in block.splitlines()[1:]:
        if line.startswith("└"):
            break
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if cells[1]:
                rows.append(cells)
    return rows


def _number(text: str) -> float:
    match = re.search(r"[-+]?\d[\d,]*\.?\d*", text)
    assert match, text
    return float(match.group().replace(",", ""))


def readme_commands(readme: str) -> list[tuple[str, int]]:
    """(command line, expected exit status) of every sh block that follows the marker."""
    out = []
    for block in readme.split(MARKER)[1:]:
        body = block.split("```sh\n", 1)[1].split("```", 1)[0]
        for line in body.splitlines():
            if line.strip():
                status = re.search(r"#.*exit status (\d)", line)
                out.append((line, int(status.group(1)) if status else 0))
    return out


class Demo:
    """`plantproof demo --keep` in the background, its output collected line by line."""

    def __init__(self, out: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plantproof", "demo", "--keep", "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text, re.MULTILINE)
            if found:
                return found
            if self.proc.poll() is not None:
                time.sleep(0.5)  # the reader may still be draining
                found = re.search(pattern, self.text, re.MULTILINE)
                if found:
                    return found
                raise AssertionError(f"the demo exited ({self.proc.returncode}):\n{self.text[-4000:]}")
            time.sleep(0.5)
        raise AssertionError(f"no {pattern!r} after {timeout}s:\n{self.text[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.reader.join(10)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    running = Demo(tmp_path_factory.mktemp("demo") / "demo-output")
    try:
        running.wait_for(r"^export PLANTPROOF_COLLECTOR_MQTT__URL=", 600)
        yield running
    finally:
        running.stop()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_matches_ground_truth_and_its_bundle_verifies(demo: Demo) -> None:
    check_figures_and_claims(demo.text)


def check_figures_and_claims(text: str) -> None:
    """The demo's printed figures and claim estimates equal the simulator's truth; its bundle verifies."""
    assert "SIMULATED DATA" in text
    figures = _rows(text, "platform figures")
    compared = [r for r in figures if r[3] not in ("—", "")]
    assert len(compared) >= 6
    for figure, headline, simulated, truth in compared:
        assert headline == "0", figure  # simulated devices never reach a headline figure
        assert simulated == truth, figure
    claims = _rows(text, "claims: baseline")
    assert len(claims) == 4
    for claim, _claimed, measured, _interval, truth, verdict in claims:
        assert abs(_number(measured) - _number(truth)) < 0.05, claim
        assert verdict in ("verified", "refuted", "inconclusive")
    assert any(r[5] == "verified" for r in claims) and any(r[5] == "refuted" for r in claims), claims

    evidence = re.search(r"^evidence: (.+)$", text, re.MULTILINE)
    assert evidence, text[-2000:]
    bundle = Path(evidence.group(1)).parent
    trusted = bundle.parent / "keys" / "evidence-ed25519.pub.pem"
    done = subprocess.run(
        [sys.executable, "-m", "plantproof", "evidence", "verify", str(bundle), "--pubkey", str(trusted)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: verified with the trusted key" in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_demo_serves_the_console_and_api_with_a_token_per_role(demo: Demo) -> None:
    url = demo.wait_for(r"^console and API: (http://\S+)/ ", 10).group(1)
    tokens = {m.group(1): m.group(2) for m in re.finditer(r"^  demo (\w+) token: (\S+)$", demo.text, re.M)}
    assert set(tokens) == {"admin", "operator", "auditor"}
    with httpx.Client(base_url=url, timeout=30) as http:
        signed_in = http.post("/console/signin", data={"token": tokens["operator"]})
        assert signed_in.status_code == 303
        fleet = http.get("/console/?lang=en")
        assert fleet.status_code == 200 and "cnc-01" in fleet.text
    auditor = {"Authorization": f"Bearer {tokens['auditor']}"}
    figures = httpx.get(f"{url}/api/v1/figures", headers=auditor, timeout=60)
    assert figures.status_code == 200 and figures.json()["scope"]["tenant"] == "demo"
    assert httpx.get(f"{url}/api/v1/devices", headers=auditor, timeout=30).status_code == 403


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_readme_command_runs_on_the_demo_data_as_printed(demo: Demo, tmp_path: Path) -> None:
    dsn = demo.wait_for(r"^export PLANTPROOF_COLLECTOR_DSN='(.+)'$", 10).group(1)
    mqtt = demo.wait_for(r"^export PLANTPROOF_COLLECTOR_MQTT__URL='(.+)'$", 10).group(1)
    commands = readme_commands((ROOT / "README.md").read_text())
    assert len(commands) >= 15 and any(
        c.startswith("plantproof verify configs/claims/demo.yaml") for c, _ in commands
    )
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    env = {
        **os.environ,
        "PLANTPROOF_COLLECTOR_DSN": dsn,
        "PLANTPROOF_COLLECTOR_MQTT__URL": mqtt,
        "PLANTPROOF_COLLECTOR_EVIDENCE__KEY": str(tmp_path / "operator-key.pem"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    assert shutil.which("plantproof", path=env["PATH"]), "the plantproof command is not installed"
    outputs: dict[str, str] = {}
    for line, status in commands:
        done = subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600
        )
        assert done.returncode == status, (
            f"{line}\nexit {done.returncode}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
        outputs[line.split("#")[0].strip()] = done.stdout + done.stderr
    verdicts = re.findall(
        r"^(VERIFIED|REFUTED|INCONCLUSIVE) ", outputs["plantproof verify configs/claims/demo.yaml"], re.M
    )
    assert len(verdicts) == 4 and set(verdicts) != {"INCONCLUSIVE"}, verdicts  # the dates agree with the data
    imported = next(v for k, v in outputs.items() if k.startswith("plantproof collector import"))
    assert "stored         0 readings" in imported and "conflicts      0" in imported, imported
    pinged = outputs["plantproof manage ping cnc-01"]
    assert "device reached" in pinged, pinged
    assert "untrusted key sha256:" in outputs["plantproof evidence verify bundle/"]


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, ...); None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")  # a zombie has stopped already


def _started_by(root: int, mark: str) -> dict[int, str]:
    """pid → command line of every live descendant of `root` (by parent pid), and of every process
    whose environment carries `mark`: pg_ctl detaches the postmaster, so it is no descendant."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and fields[0] not in ("Z", "X"):
            parents[int(entry.name)] = int(fields[1])
    found: dict[int, str] = {}
    for pid in parents:
        ancestor, marked = pid, False
        while ancestor > 1 and ancestor != root:
            ancestor = parents.get(ancestor, 0)
        try:
            marked = mark.encode() in Path(f"/proc/{pid}/environ").read_bytes()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if pid != root and (ancestor == root or marked):
            found[pid] = cmdline
    return found


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the processes")
def test_sigterm_stops_every_process_the_demo_started(tmp_path: Path) -> None:
    mark = f"PLANTPROOF_TEST_DEMO_MARK={uuid.uuid4().hex}"
    demo = Demo(tmp_path / "demo-output", env=dict([mark.split("=")]))
    started: dict[int, str] = {}
    try:
        # up: both simulators, the collector, the gateway, the broker and the database all run
        wanted = ("sim modbus", "sim opcua", "collector run", "gateway run", "mosquitto", "postgres")
        deadline = time.monotonic() + 300
        while not all(any(w in c for c in started.values()) for w in wanted):
            assert demo.proc.poll() is None, f"the demo exited ({demo.proc.returncode}):\n{demo.text[-4000:]}"
            assert time.monotonic() < deadline, f"not all of {wanted} started: {started}\n{demo.text[-4000:]}"
            time.sleep(1)
            started.update(_started_by(demo.proc.pid, mark))
        time.sleep(3)  # the gateway is connected and the backfill under way
        started.update(_started_by(demo.proc.pid, mark))
        demo.proc.send_signal(signal.SIGTERM)
        demo.proc.wait(90)
        deadline = time.monotonic() + 30
        while (left := {p: c for p, c in started.items() if _alive(p)}) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert left == {}, f"still running after SIGTERM: {left}\n{demo.text[-2000:]}"
        assert "interrupted (SIGTERM): stopping the stack" in demo.text
    finally:
        for pid in [p for p in started if _alive(p)]:  # a failed run must not leave them behind
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        demo.stop()
