"""Figures output pinned byte for byte: the JSON the evidence bundle and `--json` carry, the CLI
table, the tier evaluation, report.html's figure tables and the demo's summary.

The goldens were captured from the dict-based computation before the figures became typed; a
change here changes every bundle digest. Regenerate only on purpose: PLANTPROOF_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from collector.commands.figures import print_figures
from collector.evidence.report_figures import figures_section, headline_rows
from collector.figures import queries
from collector.figures.compute import Parameters, compute
from collector.figures.declared import load_declared
from collector.figures.model import Figures
from collector.figures.rows import headline
from collector.figures.tiers import evaluate
from collector.figures.window import parse_window
from collector.migrate import migrate
from devicemodel.configroot import config_root
from plantproof.demo_plan import plan_for
from plantproof.demo_run import _print_figures
from tests.figures.truth import seed_truth

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "figures"
AS_OF = datetime(2026, 11, 21, tzinfo=UTC)
Computed = dict[str, tuple[Parameters, Any]]
VARIANTS = {
    "default": {},
    "include_simulated": {"include_simulated": True},
    "ratio_0.7": {"min_active_days_ratio": 0.7},
}


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PLANTPROOF_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden"


def _dump(value: Any) -> str:
    # no sort_keys: the key order is part of what is pinned (the CLI's --json keeps it)
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


@pytest.fixture(scope="module")
def computed(pg_server: Any) -> Computed:
    dsn = pg_server.create_database()
    migrate(dsn)
    seed_truth(dsn)
    window = parse_window("2026-10", AS_OF)
    loaded = queries.load(dsn, window)
    out = {}
    for name, kwargs in VARIANTS.items():
        params = Parameters(window, AS_OF, **kwargs)
        out[name] = (params, compute(loaded.results, params))
    return out


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_figures_json_is_byte_identical(computed: Computed, variant: str) -> None:
    figures = computed[variant][1]
    as_json = figures.to_json()
    _check(f"figures-{variant}.json", _dump(as_json))
    # a bundle's figures read back are the figures computed, and give the same JSON again
    assert Figures.from_json(as_json) == figures
    assert Figures.from_json(as_json).to_json() == as_json
    # the bundle writes sorted keys; the same value must come back from its JSON text
    assert json.loads(json.dumps(as_json, sort_keys=True)) == as_json
    _check(f"headline-{variant}.json", _dump(headline(figures)))
    declared = load_declared(config_root() / "declared.yaml")
    _check(f"tiers-{variant}.json", _dump(evaluate(figures, declared)))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cli_table_is_unchanged(computed: Computed, variant: str, capsys: pytest.CaptureFixture[str]) -> None:
    params, figures = computed[variant]
    print_figures(figures, params)
    _check(f"cli-{variant}.txt", capsys.readouterr().out)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_report_figure_tables_are_unchanged(computed: Computed, variant: str) -> None:
    params, figures = computed[variant]
    ev = json.loads(
        json.dumps({"parameters": params.to_json(), "figures": figures.to_json()}, sort_keys=True)
    )
    parts = []
    for lang in ("en", "zh"):
        parts.append(figures_section(ev, lang))
        parts.append(json.dumps(headline_rows(ev, lang), ensure_ascii=False))
    _check(f"report-{variant}.html", "\n".join(parts) + "\n")


def test_demo_summary_is_unchanged(computed: Computed, tmp_path: Path) -> None:
    plan = plan_for(datetime(2030, 1, 15, tzinfo=UTC), tmp_path, config_root())
    console = Console(file=io.StringIO(), width=120, color_system=None)
    _print_figures(console, computed["default"][1], plan)
    assert isinstance(console.file, io.StringIO)
    _check("demo-default.txt", console.file.getvalue())
