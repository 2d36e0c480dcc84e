"""`plantproof assess` and `plantproof factory-tier` as mounted on the root command."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from plantproof.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "configs" / "assessment"


def test_assess_prints_score_and_eligible_tier() -> None:
    result = CliRunner().invoke(app, ["assess", str(EXAMPLES / "example-not-applicable.yaml")])
    assert result.exit_code == 0, result.output
    assert "score: 500 / 800 × 100 = 62.5 (8 applicable indicators × 100)" in result.output
    assert "eligible to self-assess for: basic (基础级)" in result.output
    assert result.output.count("not applicable (不涉及此环节)") == 2


def test_assess_json() -> None:
    result = CliRunner().invoke(app, ["assess", str(EXAMPLES / "example.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["score"], data["score_exact"], data["full_marks"], data["eligible_tier"]) == (
        70.5,
        "141/2",
        1000,
        "advanced",
    )
    assert [r["status"] for r in data["indicators"]].count("declared") == 1


def test_assess_bad_sheet_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    text = (EXAMPLES / "example.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("{indicator: 9, level: 5, score: 78}", "{indicator: 9, level: 4, score: 78}"))
    result = CliRunner().invoke(app, ["assess", str(bad)])
    assert result.exit_code == 2
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "{indicator: 9," in ln)
    assert f"{bad}:{line}: indicator 9 (数据要素): score 78 is outside level 4" in result.output


def test_factory_tier_json() -> None:
    args = ["factory-tier", "--assessment", str(EXAMPLES / "example.yaml")]
    args += ["--declaration", str(EXAMPLES / "factory.yaml"), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["highest_tier_met"] == "advanced" and data["eligible_tier"] == "advanced"
    verdicts = {t: v["verdict"] for t, v in data["tiers"].items()}
    assert verdicts == {
        "basic": "met (relies on declared values)",
        "advanced": "met (relies on declared values)",
        "excellence": "not met",
        "leading": "not met",
    }
