"""Import rules of DESIGN §1: a package may import only what the rules allow; pure modules do no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"infra", "devicemodel", "adapters", "wire", "gateway", "collector", "simulators"} | {
    "assessment",
    "plantproof",
}
ALLOWED: dict[str, set[str]] = {
    "infra": set(),
    "wire": set(),
    "devicemodel": {"infra", "wire"},
    "adapters": {"infra", "devicemodel"},
    "gateway": {"infra", "devicemodel", "adapters", "wire"},
    "collector": {"infra", "devicemodel", "wire"},
    "simulators": {"infra", "devicemodel", "adapters", "wire"},
    # adapters.yamlload: errors that name file, line and field; devicemodel: the config root
    "assessment": {"infra", "devicemodel", "adapters"},
    "plantproof": OURS,
}
# Modules that must stay pure: no I/O, no asyncio, no database or network clients.
PURE_MODULES = [
    "wire/envelope.py",
    "wire/topics.py",
    "wire/states.py",
    "devicemodel/addresses.py",
    "devicemodel/births.py",
    "devicemodel/states.py",
    "adapters/modbus/codec.py",
    "adapters/modbus/planner.py",
    "simulators/plant.py",
    "simulators/truth.py",
    "collector/kpi/timemodel.py",
    "collector/kpi/engine.py",
    "collector/kpi/counters.py",
    "collector/models/spc.py",
    "collector/kpi/stats.py",
    "collector/figures/compute.py",
    "collector/figures/window.py",
    "assessment/selfassess.py",
    "assessment/factory.py",
]
IMPURE = {
    "asyncio",
    "socket",
    "psycopg",
    "psycopg_pool",
    "paho",
    "asyncua",
    "pymodbus",
    "sqlite3",
    "subprocess",
    "requests",
    "urllib",
    "http",
    "serial",
    "aiokafka",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in OURS and top != package and top not in ALLOWED[package]:
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_follow_the_rules(package: str) -> None:
    assert violations(package) == []


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_do_no_io(module: str) -> None:
    path = ROOT / module
    if not path.exists():
        pytest.skip(f"{module} does not exist yet")
    bad = sorted(n for n in imported_modules(path) if n.split(".")[0] in IMPURE)
    assert bad == []


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    # The rule check itself must be able to fail: collector importing gateway is a violation.
    fake = tmp_path / "x.py"
    fake.write_text("import gateway.spool\nfrom wire import decode\n")
    tops = {n.split(".")[0] for n in imported_modules(fake)}
    assert "gateway" in tops and "gateway" not in ALLOWED["collector"]
