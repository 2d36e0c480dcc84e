"""The table of figure rows behind every figures table: the CLI's, the demo's and report.html's.

A figure shown anywhere is one row here: its key, the i18n key of its name (`fig.<figure>`), its
unit, and how to read its value and its simulated column off `Figures`. The headline numbers
(evidence.json's `headline`) are a key table over the same attributes.
"""

# layering: pure

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from collector.figures.model import RULES, Figures

Number = int | float | None


@dataclass(frozen=True, slots=True)
class FigureRow:
    key: str  # unique; a rule figure's key names the rule unless it is the default
    figure: str  # i18n name: catalog key fig.<figure>, also the figures JSON key
    unit: str
    value: Callable[[Figures], Number]
    simulated: Callable[[Figures], int] | None  # None: the figure has no simulated column
    cli: str  # the CLI table's label; {min} is the rule's minimum active days
    rule: str | None = None  # the counting rule (compute.rules), shown as a note in report.html
    demo: str | None = None  # the demo summary's label; None: not in the demo summary
    truth: str | None = None  # the demo plan's figures_truth key, when the simulator knows it
    note: str | None = None  # i18n key of report.html's note beside the name
    glance: bool = False  # also in report.html's at-a-glance table

    def min_active_days(self, figures: Figures) -> int | None:
        return figures.connected_equipment.rule(self.rule).min_active_days if self.rule else None

    def label(self, figures: Figures) -> str:
        return self.cli.format(min=self.min_active_days(figures))


def _connected(rule: str, demo: str) -> FigureRow:
    return FigureRow(
        key="connected_equipment" + ("" if rule == "default" else f"_{rule}"),
        figure="connected_equipment",
        unit="devices",
        value=lambda f: f.connected_equipment.rule(rule).value,
        simulated=lambda f: f.connected_equipment.rule(rule).simulated,
        cli=f"connected equipment, {rule} (>= {{min}} active days)",
        rule=rule,
        demo=demo,
        truth="connected",
        glance=rule == "default",
    )


def _points(rule: str) -> FigureRow:
    return FigureRow(
        key="data_collection_points" + ("" if rule == "default" else f"_{rule}"),
        figure="data_collection_points",
        unit="points",
        value=lambda f: f.data_collection_points.rule(rule).value,
        simulated=lambda f: f.data_collection_points.rule(rule).simulated,
        cli=f"data-collection points, {rule}",
        rule=rule,
        demo="data-collection points (process)" if rule == "default" else None,
        truth="points",
        glance=rule == "default",
    )


_CONNECTED_DEMO = {
    "default": "connected equipment (≥ 50 % of days)",
    "any_day": "connected equipment, any day",
    "every_day": "connected equipment, every day",
}

FIGURE_ROWS: tuple[FigureRow, ...] = (
    *(_connected(rule, _CONNECTED_DEMO[rule]) for rule in RULES),
    *(_points(rule) for rule in RULES),
    FigureRow(
        key="equipment_types",
        figure="equipment_types",
        unit="types",
        value=lambda f: f.equipment_types.value,
        simulated=lambda f: f.equipment_types.simulated,
        cli="equipment types",
        demo="equipment types",
        truth="types",
    ),
    FigureRow(
        key="industries",
        figure="industries",
        unit="industries",
        value=lambda f: f.industries.value,
        simulated=lambda f: f.industries.simulated,
        cli="industries",
        demo="industries",
        truth="industries",
    ),
    FigureRow(
        key="managed_equipment",
        figure="managed_equipment",
        unit="devices",
        value=lambda f: f.managed_equipment.value,
        simulated=lambda f: f.managed_equipment.simulated,
        cli="managed equipment",
        demo="managed equipment",
        glance=True,
    ),
    FigureRow(
        key="monthly_model_invocations",
        figure="monthly_model_invocations",
        unit="invocations per month",
        value=lambda f: f.monthly_model_invocations.value,
        simulated=None,
        cli="monthly model invocations (avg of complete months)",
        demo="monthly model invocations (external callers)",
        note="figs.invocations_note",
        glance=True,
    ),
)


def _capacity(f: Figures) -> Number:
    cap = f.demonstrated_management_capacity
    return cap.value if cap else None


# evidence.json's headline numbers, in their published order
HEADLINE: dict[str, Callable[[Figures], Number]] = {
    "connected_equipment": lambda f: f.connected_equipment.default.value,
    "connected_equipment_any_day": lambda f: f.connected_equipment.any_day.value,
    "connected_equipment_every_day": lambda f: f.connected_equipment.every_day.value,
    "data_collection_points": lambda f: f.data_collection_points.default.value,
    "equipment_types": lambda f: f.equipment_types.value,
    "industries": lambda f: f.industries.value,
    "managed_equipment": lambda f: f.managed_equipment.value,
    "managed_equipment_types": lambda f: f.managed_equipment.types,
    "demonstrated_management_capacity_synthetic": _capacity,
    "monthly_model_invocations": lambda f: f.monthly_model_invocations.value,
}


def headline(figures: Figures) -> dict[str, Number]:
    """The headline numbers, for tables and the evidence bundle."""
    return {key: read(figures) for key, read in HEADLINE.items()}


def check_rows(rows: tuple[FigureRow, ...]) -> None:
    """Row keys are unique and every rule named is a counting rule: checked when imported."""
    keys = [r.key for r in rows]
    if len(set(keys)) != len(keys):
        raise ValueError(f"figure rows repeat a key: {sorted({k for k in keys if keys.count(k) > 1})}")
    for r in rows:
        if r.rule is not None and r.rule not in RULES:
            raise ValueError(f"figure row {r.key}: unknown rule {r.rule!r}")


check_rows(FIGURE_ROWS)
