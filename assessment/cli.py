"""`plantproof assess` and `plantproof factory-tier`: the self-assessment score and the tier check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from assessment import factory, load, selfassess
from assessment.errors import AssessmentError
from infra.cli import fail

JsonOpt = typer.Option(False, "--json", "-j", help="machine-readable output")
AnswersArg = typer.Argument(..., help="answer sheet YAML (see configs/assessment/example.yaml)")
AssessmentOpt = typer.Option(..., "--assessment", help="self-assessment answer sheet YAML")
DeclarationOpt = typer.Option(..., "--declaration", help="factory declaration YAML (configs/assessment/)")
ScenariosOpt = typer.Option(load.SHIPPED_SCENARIOS, "--scenarios", help="scenario catalogue YAML")
TIER_NAMES = {t.id: t.name_zh for t in factory.TIERS}


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _tier_text(tier: str | None) -> str:
    return "none" if tier is None else f"{tier} ({TIER_NAMES[tier]})"


def _print_assessment(sheet: load.AnswerSheet, result: selfassess.Assessment) -> None:
    typer.echo(f"{sheet.enterprise}: digital-transformation self-assessment, Jiangsu 2025 edition")
    typer.echo(f"answers {sheet.path}; rules {selfassess.SOURCE}")
    for r in result.rows:
        ind, a = r.indicator, r.answer
        name = f"{ind.number:>2} {ind.name_zh} ({ind.name_en})"
        if isinstance(a, selfassess.NotApplicable):
            typer.echo(f"  {name}: not applicable (不涉及此环节)")
            continue
        assert r.band is not None
        where = f"level {r.band.level}, {r.band.fit_text} {r.band.text}"
        if isinstance(a, selfassess.AmountAnswer):
            amounts = (
                f"{selfassess.number_text(a.investment_total)} 万元 since 2014, "
                f"{selfassess.number_text(a.investment_2024)} 万元 in 2024"
            )
            where = f"declared, source {a.source}; {amounts}; falls in {where}"
        typer.echo(f"  {name}: {selfassess.number_text(a.score)}  [{where}]")
    typer.echo(f"score: {result.formula}")
    bar = ", ".join(f"{t} > {above}" for t, above in selfassess.SELF_EVALUATION_THRESHOLDS)
    typer.echo(
        f"eligible to self-assess for: {_tier_text(result.eligible)}  ({bar}; attachment 4, lines 1401-1414)"
    )


def assess(answers: Path = AnswersArg, as_json: bool = JsonOpt) -> None:
    """Score a self-assessment answer sheet and name the factory tier it makes the enterprise eligible for."""
    try:
        sheet, result = load.assess(answers)
    except AssessmentError as exc:
        raise fail(str(exc), as_json) from None
    if as_json:
        _echo_json(
            {"answers": sheet.path, "enterprise": sheet.enterprise, "assessed_on": sheet.assessed_on}
            | result.to_json()
        )
        return
    _print_assessment(sheet, result)


def factory_tier(
    assessment: Path = AssessmentOpt,
    declaration: Path = DeclarationOpt,
    scenarios: Path = ScenariosOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Every condition of the four smart-factory tiers, met / not met / declared."""
    try:
        sheet, result = load.assess(assessment)
        catalogue = load.load_scenarios(scenarios)
        decl = load.load_declaration(declaration, catalogue)
    except AssessmentError as exc:
        raise fail(str(exc), as_json) from None
    out = factory.evaluate(result, decl, catalogue)
    if as_json:
        _echo_json({"assessment": sheet.path, "declaration": str(declaration)} | out)
        return
    typer.echo(f"{decl.factory}: smart-factory tiers, Jiangsu 2025 edition ({factory.SOURCE})")
    typer.echo(
        f"self-assessment {sheet.path}: score {selfassess.number_text(result.score)}; "
        f"eligible to self-assess for {_tier_text(result.eligible)}"
    )
    for tier, t in out["tiers"].items():
        typer.echo(f"\n{tier} ({t['name_zh']}): {t['verdict']}   [{t['source']}]")
        for r in t["conditions"]:
            status = r["status"] + (
                "" if r["status"] != "declared" else " (meets)" if r["met"] else " (short)"
            )
            value, required = (
                ", ".join(x) if isinstance(x, list) else x for x in (r["value"], r["required"])
            )
            source = (
                f"  source: {r['source']}" if r["status"] == "declared" and r["source"] != r["value"] else ""
            )
            note = f"  ({r['note']})" if r["note"] else ""
            typer.echo(f"  {r['id']:<31} {status:<16} {value or '-'}  [required {required}]{source}{note}")
    typer.echo(f"\nhighest tier met: {_tier_text(out['highest_tier_met'])}")


def register(root: typer.Typer) -> None:
    """Mount the self-assessment and factory-tier commands on the root app."""
    root.command("assess")(assess)
    root.command("factory-tier")(factory_tier)
