"""The layering contract of DESIGN §1 on the real tree, and proof on small fake trees that it bites."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layering_check import Finding, check

ROOT = Path(__file__).resolve().parent.parent
# Modules known to be pure: losing the file or the marker must fail, not silently shrink the check.
REQUIRED_PURE = (
    "wire/envelope.py",
    "wire/topics.py",
    "wire/states.py",
    "devicemodel/devicetype.py",
    "devicemodel/addresses.py",
    "devicemodel/births.py",
    "devicemodel/states.py",
    "adapters/modbus/address.py",
    "adapters/modbus/codec.py",
    "adapters/modbus/planner.py",
    "simulators/scenario.py",
    "simulators/faults.py",
    "simulators/generate.py",
    "simulators/plant.py",
    "simulators/truth.py",
    "collector/kpi/timemodel.py",
    "collector/kpi/engine.py",
    "collector/kpi/counters.py",
    "collector/models/spc.py",
    "collector/kpi/stats.py",
    "collector/figures/compute.py",
    "collector/figures/window.py",
    "collector/figures/model.py",
    "collector/figures/members.py",
    "collector/figures/rows.py",
    "assessment/selfassess.py",
    "assessment/factory.py",
    "api/alarm_rules.py",
)
KINDS = ["unknown-package", "import", "reach", "dynamic", "purity", "required-pure"]


@pytest.fixture(scope="module")
def real_findings() -> list[Finding]:
    return check(ROOT, REQUIRED_PURE)


@pytest.mark.parametrize("kind", KINDS)
def test_the_tree_keeps_the_contract(kind: str, real_findings: list[Finding]) -> None:
    assert [f.message for f in real_findings if f.kind == kind] == []


# A small tree that keeps every rule: pure modules, relative imports, a marked plugin loader, a
# typing-only import, a package of the table that does not exist yet.
CLEAN = {
    "wire/__init__.py": "# layering: pure\nfrom wire.envelope import encode\n",
    "wire/errors.py": '"""Errors."""\n\n# layering: pure\n\nclass WireError(Exception): ...\n',
    "wire/envelope.py": "# layering: pure\nimport re\nfrom .errors import WireError\ndef encode(): ...\n",
    "infra/__init__.py": "",
    "infra/settings.py": "import os\nimport yaml\n",
    "adapters/__init__.py": "",
    "adapters/registry.py": (
        "# layering: dynamic-imports plugins are named in the gateway config\n"
        "import importlib\nfrom infra import settings\n"
        "def load(name):\n    return importlib.import_module(name)\n"
    ),
    "gateway/__init__.py": "",
    "gateway/spool.py": "import os\nfrom adapters import registry\nimport devicemodel.points\n",
    "collector/__init__.py": "",
    "collector/db.py": "import psycopg\nfrom wire import envelope\n",
    "collector/kpi/__init__.py": "",
    "collector/kpi/counters.py": "# layering: pure\nimport numpy as np\n",
    "collector/kpi/engine.py": (
        "# layering: pure\nfrom typing import TYPE_CHECKING\nfrom collector.kpi import counters\n"
        "from . import counters as c2\nfrom ..kpi.counters import np\nimport wire\n"
        "if TYPE_CHECKING:\n    from collector.db import Row\n"
    ),
    "plantproof/__init__.py": "",
    "plantproof/cli.py": (
        "import gateway.spool\nimport collector.db\nimport importlib\nimportlib.import_module('wire')\n"
    ),
    "tests/__init__.py": "",
    "tests/test_x.py": "import gateway.spool\nimport collector.db\n",
    "bench/__init__.py": "import gateway\n",
}
REQUIRED = ("wire/envelope.py", "collector/kpi/engine.py")


def tree(tmp_path: Path, changes: dict[str, str | None]) -> Path:
    files: dict[str, str | None] = {**CLEAN, **changes}
    for rel, text in files.items():
        if text is not None:
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(text)
    return tmp_path


def findings(tmp_path: Path, changes: dict[str, str | None]) -> list[tuple[str, str]]:
    return [(f.kind, f.message) for f in check(tree(tmp_path, changes), REQUIRED)]


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    assert findings(tmp_path, {}) == []


def test_a_plain_forbidden_import_fails(tmp_path: Path) -> None:
    found = findings(tmp_path, {"collector/api.py": "from gateway.spool import Spool\n"})
    assert found == [
        ("import", "collector/api.py:1 imports gateway.spool; collector may import devicemodel, infra, wire")
    ]


def test_a_relative_import_is_resolved(tmp_path: Path) -> None:
    found = findings(tmp_path, {"collector/kpi/engine.py": "# layering: pure\nfrom ..db import Row\n"})
    assert [k for k, _ in found] == ["purity"]
    assert "imports collector.db, which is not marked pure" in found[0][1] and "psycopg" in found[0][1]


def test_a_literal_dynamic_import_is_an_import(tmp_path: Path) -> None:
    found = findings(
        tmp_path, {"collector/src.py": "import importlib\nimportlib.import_module('gateway.spool')\n"}
    )
    assert [k for k, _ in found] == ["import"] and "collector/src.py:2 imports gateway.spool" in found[0][1]
    found = findings(tmp_path, {"collector/src.py": "x = __import__('gateway')\n"})
    assert [k for k, _ in found] == ["import"]


@pytest.mark.parametrize(
    "code",
    [
        "import importlib\nname = 'gateway.spool'\nimportlib.import_module(name)\n",
        "from importlib import import_module\nimport_module('gate' + 'way')\n",
        "import importlib.util\nspec = importlib.util.spec_from_file_location('m', '/x.py')\n",
        "import pkgutil\nfor m in pkgutil.iter_modules(['.']): ...\n",
        "from importlib import import_module as load\nload(name)\n",
        "from importlib.metadata import entry_points\nentry_points(group='plantproof.adapters')\n",
        "# layering: dynamic-imports\nimport importlib\nimportlib.import_module(x)\n",  # no reason given
    ],
)
def test_an_unnamed_dynamic_import_needs_a_marker(tmp_path: Path, code: str) -> None:
    assert [k for k, _ in findings(tmp_path, {"collector/src.py": code})] == ["dynamic"]


@pytest.mark.parametrize("init", ["", None], ids=["package", "namespace-package"])
def test_laundering_through_a_new_package_fails(tmp_path: Path, init: str | None) -> None:
    found = findings(
        tmp_path,
        {
            "shim/__init__.py": init,
            "shim/bridge.py": "from gateway.spool import Spool\n",
            "collector/ingest.py": "from shim import bridge\n",
        },
    )
    assert ("unknown-package", "top-level package 'shim' has no entry in ALLOWED_IMPORTS") in found
    assert (
        "import",
        "collector/ingest.py:1 imports shim.bridge; collector may import devicemodel, infra, wire",
    ) in found
    chain = "collector reaches gateway through others: collector.ingest -> shim.bridge -> gateway.spool"
    assert ("reach", chain) in found


def test_laundering_through_an_allowed_package_fails(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        {"wire/helper.py": "import gateway.spool\n", "collector/ingest.py": "from wire.helper import x\n"},
    )
    assert ("import", "wire/helper.py:1 imports gateway.spool; wire may import nothing of ours") in found
    assert (
        "reach",
        "collector reaches gateway through others: collector.ingest -> wire.helper -> gateway.spool",
    ) in found


@pytest.mark.parametrize("target", ["tests.helpers", "bench.load", "tasks"])
def test_importing_what_is_not_a_package_of_the_product_fails(tmp_path: Path, target: str) -> None:
    found = findings(tmp_path, {"gateway/run.py": f"import {target}\n", "tasks.py": ""})
    assert [k for k, _ in found] == ["import"] and f"imports {target};" in found[0][1]


def test_open_in_a_pure_module_fails(tmp_path: Path) -> None:
    found = findings(
        tmp_path, {"wire/envelope.py": "# layering: pure\ndef f(p):\n    return open(p).read()\n"}
    )
    assert found == [("purity", "wire/envelope.py:3 is pure but uses open()")]


@pytest.mark.parametrize(
    "code", ["async def f(): ...\n", "def f():\n    import asyncio\n", "import logging\n"]
)
def test_async_and_io_imports_in_a_pure_module_fail(tmp_path: Path, code: str) -> None:
    found = findings(tmp_path, {"wire/envelope.py": "# layering: pure\n" + code})
    assert [k for k, _ in found] == ["purity"]


def test_a_pure_module_reaching_psycopg_through_ours_fails(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        {
            "collector/kpi/claims.py": "from collector import db\n",
            "collector/kpi/engine.py": "# layering: pure\nfrom collector.kpi.claims import Claim\n",
        },
    )
    why = "collector.kpi.claims -> collector.db uses import psycopg (collector/db.py:1)"
    msg = (
        f"collector/kpi/engine.py:2 is pure but imports collector.kpi.claims, which is not marked pure: {why}"
    )
    assert found == [("purity", msg)]


def test_a_renamed_pure_module_fails(tmp_path: Path) -> None:
    found = findings(
        tmp_path, {"collector/kpi/engine.py": None, "collector/kpi/engine2.py": "# layering: pure\n"}
    )
    assert found == [
        (
            "required-pure",
            "collector/kpi/engine.py must be pure but does not exist (renamed? update REQUIRED_PURE)",
        )
    ]


def test_a_lost_or_misplaced_pure_marker_fails(tmp_path: Path) -> None:
    lost = findings(tmp_path, {"wire/envelope.py": "import re\n"})
    late = findings(tmp_path, {"wire/envelope.py": "X = 1\n# layering: pure\n"})
    marker = ("required-pure", "wire/envelope.py has lost its `# layering: pure` marker")
    assert marker in lost and marker in late
