"""The results table's declared inputs: the `application:` section of declared.yaml (pure parsing).

    documents:                      # shared with the figures' declared values
      hr-2026: "Time-and-attendance export, 2026"
    values:
      emission_factor_kg_per_kwh: {value: 0.5703, source: grid-2022}   # the CO₂ row's factor
    application:
      labour_hours: {before: 41200, after: 39800, source: hr-2026}     # hours worked in each period
      claimed: {oee: 5, energy_per_unit: -8}    # change rates (%) the application states, checked
      rows:                                    # what plant data cannot measure, with its source
        nc_rate: {before: 62, after: 85, source: mes-2026}
        sales_growth: {change: 12.5, source: finance-2026}
      others:                                  # 其他个性化指标: rows of the applicant's choosing
        - {name: 换模时间（分钟）, before: 45, after: 18, source: mes-2026}

Every value names a document listed under `documents`; unknown keys are errors naming the field.
"""

# layering: pure

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from collector.application.rows import BY_KEY
from collector.errors import CollectorError

_ROW_FIELDS = frozenset({"before", "after", "change", "source"})


@dataclass(frozen=True, slots=True)
class DeclaredRow:
    before: float | None
    after: float | None
    change: float | None  # as declared; None: computed from before and after
    source: str  # "<document id>: <title>"
    name: str = ""  # for rows of the applicant's choosing

    def change_pct(self) -> float | None:
        if self.change is not None:
            return self.change
        if self.before is None or self.after is None or self.before == 0:
            return None
        return (self.after / self.before - 1.0) * 100.0


@dataclass(frozen=True, slots=True)
class Application:
    rows: dict[str, DeclaredRow] = field(default_factory=dict)
    others: list[DeclaredRow] = field(default_factory=list)
    claimed: dict[str, float] = field(default_factory=dict)  # row key -> change (%)
    labour_hours: DeclaredRow | None = None
    emission_factor: tuple[float, str] | None = None  # kg CO₂/kWh and its source

    def to_json(self) -> dict[str, Any]:
        def row(r: DeclaredRow) -> dict[str, Any]:
            out = {"before": r.before, "after": r.after, "change": r.change, "source": r.source}
            return out | ({"name": r.name} if r.name else {})

        return {
            "rows": {k: row(v) for k, v in sorted(self.rows.items())},
            "others": [row(r) for r in self.others],
            "claimed": dict(sorted(self.claimed.items())),
            "labour_hours": row(self.labour_hours) if self.labour_hours else None,
            "emission_factor": (
                {"value": self.emission_factor[0], "source": self.emission_factor[1]}
                if self.emission_factor
                else None
            ),
        }


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CollectorError(f"{where}: {value!r} is not a number")
    return float(value)


def _row(entry: Any, where: str, documents: dict[str, Any], *, named: bool = False) -> DeclaredRow:
    allowed = _ROW_FIELDS | ({"name"} if named else set())
    if not isinstance(entry, dict):
        raise CollectorError(f"{where}: expected {{before, after, change, source}}")
    unknown = set(entry) - allowed
    if unknown:
        raise CollectorError(
            f"{where}: unknown field(s) {sorted(unknown)} (known: {', '.join(sorted(allowed))})"
        )
    source = str(entry.get("source") or "")
    if source not in documents:
        raise CollectorError(f"{where}.source: document {source!r} is not listed under 'documents'")
    values = {
        k: _number(entry[k], f"{where}.{k}") if entry.get(k) is not None else None
        for k in _ROW_FIELDS - {"source"}
    }
    if values["change"] is None and (values["before"] is None or values["after"] is None):
        raise CollectorError(f"{where}: give before and after, or change")
    if named and not str(entry.get("name") or "").strip():
        raise CollectorError(f"{where}.name: missing")
    return DeclaredRow(
        values["before"],
        values["after"],
        values["change"],
        f"{source}: {documents[source]}",
        str(entry.get("name") or ""),
    )


def parse_application(data: Any, where: str) -> Application:
    """The `application:` section of a declared.yaml already read (`data` is the whole file)."""
    if data is None:
        return Application()
    if not isinstance(data, dict):
        raise CollectorError(f"{where}: expected a mapping")
    documents = data.get("documents") or {}
    section = data.get("application") or {}
    if not isinstance(section, dict) or not isinstance(documents, dict):
        raise CollectorError(f"{where}: 'application' and 'documents' must be mappings")
    unknown = set(section) - {"rows", "others", "claimed", "labour_hours"}
    if unknown:
        raise CollectorError(f"{where}: application: unknown field(s) {sorted(unknown)}")
    rows: dict[str, DeclaredRow] = {}
    for key, entry in (section.get("rows") or {}).items():
        field_at = f"{where}: application.rows.{key}"
        if key not in BY_KEY:
            raise CollectorError(f"{field_at}: unknown row (known: {', '.join(BY_KEY)})")
        rows[key] = _row(entry, field_at, documents)
    others = [
        _row(entry, f"{where}: application.others[{i}]", documents, named=True)
        for i, entry in enumerate(section.get("others") or [])
    ]
    claimed: dict[str, float] = {}
    for key, value in (section.get("claimed") or {}).items():
        field_at = f"{where}: application.claimed.{key}"
        if key not in BY_KEY or BY_KEY[key].method == "declared":
            measured = ", ".join(k for k, r in BY_KEY.items() if r.method != "declared")
            raise CollectorError(f"{field_at}: not a measured row (measured: {measured})")
        claimed[key] = _number(value, field_at)
    labour = None
    if section.get("labour_hours") is not None:
        labour = _row(section["labour_hours"], f"{where}: application.labour_hours", documents)
        if labour.before is None or labour.after is None or labour.before <= 0 or labour.after <= 0:
            raise CollectorError(
                f"{where}: application.labour_hours: before and after must be positive hours"
            )
    factor = None
    entry = (data.get("values") or {}).get("emission_factor_kg_per_kwh")
    if isinstance(entry, dict) and "value" in entry:
        source = str(entry.get("source"))
        factor = (
            _number(entry["value"], f"{where}: values.emission_factor_kg_per_kwh.value"),
            f"{source}: {documents.get(source, '')}",
        )
    return Application(rows, others, claimed, labour, factor)


def application_from_json(data: dict[str, Any]) -> Application:
    """Back from Application.to_json (an evidence bundle's table)."""

    def row(d: dict[str, Any]) -> DeclaredRow:
        return DeclaredRow(
            d.get("before"), d.get("after"), d.get("change"), str(d["source"]), str(d.get("name", ""))
        )

    factor = data.get("emission_factor")
    return Application(
        rows={k: row(v) for k, v in data.get("rows", {}).items()},
        others=[row(v) for v in data.get("others", [])],
        claimed={k: float(v) for k, v in data.get("claimed", {}).items()},
        labour_hours=row(data["labour_hours"]) if data.get("labour_hours") else None,
        emission_factor=(float(factor["value"]), str(factor["source"])) if factor else None,
    )
