"""Figures plant data cannot measure (developers, apps, subscribers, catalogue counts), as declared.

`declared.yaml`:
    documents:
      catalogue-2026-10: "Model and app catalogue, revision 2026-10 (catalogue.pdf)"
    values:
      industrial_models: {value: 12, source: catalogue-2026-10}
Each value names the document it comes from; unknown keys and missing sources are errors. An
`application:` section holds the application results table's declared rows (read by
collector.application.declared, with the same documents).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from collector.errors import CollectorError

# Every key a tier threshold or a KPI may read, with what it means.
DECLARED_KEYS: dict[str, str] = {
    "emission_factor_kg_per_kwh": "CO2 emitted per kWh of electricity used (kg/kWh), e.g. the grid factor",
    "industrial_models": "industrial (incl. mechanism) models in the catalogue",
    "mechanism_models": "industrial mechanism models in the catalogue",
    "model_categories": "categories the catalogued models fall into",
    "analysis_algorithms": "industrial data-analysis algorithms in the catalogue",
    "industrial_apps": "industrial apps offered",
    "app_categories": "categories of industrial apps",
    "decision_management_apps": "decision-support and management apps for the park",
    "subscribers": "organisations subscribing to the platform's software and apps",
    "subscriber_share_of_park": "subscribing organisations as a share of park enterprises (0-1)",
    "served_share_of_park": "park above-scale enterprises served, as a share (0-1)",
    "analysis_reports": "energy / economic-operation analysis reports from real operating data",
    "cloud_software_kinds": "kinds of cloud software deployed",
    "cloud_software_count": "cloud software deployed",
    "dev_tools": "development tools offered",
    "dev_languages": "development languages supported",
    "sdk_developers": "developers calling the SDK",
    "sdk_calls_per_month": "SDK calls per month",
    "third_party_developers": "third-party developers",
    "third_party_developer_share": "third-party developers as a share of all developers (0-1)",
    "industries_covered_by_models_apps": "industries with >= 10 models and >= 20 apps",
    "industries_with_50_enterprise_users": "industries with >= 50 enterprise users",
    "domains_covered": "domains with >= 10 mechanism models and >= 100 apps",
}


@dataclass(frozen=True, slots=True)
class DeclaredValue:
    key: str
    value: float
    source: str  # the document's title, as declared


@dataclass(frozen=True, slots=True)
class Declared:
    path: str
    values: dict[str, DeclaredValue]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "values": {k: {"value": v.value, "source": v.source} for k, v in sorted(self.values.items())},
        }


EMPTY = Declared(path="", values={})


def parse_declared(data: Any, where: str) -> Declared:
    if not isinstance(data, dict):
        raise CollectorError(f"{where}: expected a mapping with 'documents' and 'values'")
    unknown = set(data) - {"documents", "values", "application"}
    if unknown:
        raise CollectorError(f"{where}: unknown top-level field(s) {sorted(unknown)}")
    documents = data.get("documents") or {}
    values = data.get("values") or {}
    if not isinstance(documents, dict) or not isinstance(values, dict):
        raise CollectorError(f"{where}: 'documents' and 'values' must be mappings")
    out: dict[str, DeclaredValue] = {}
    for key, entry in values.items():
        field = f"{where}: values.{key}"
        if key not in DECLARED_KEYS:
            raise CollectorError(f"{field}: unknown key (known: {', '.join(sorted(DECLARED_KEYS))})")
        if not isinstance(entry, dict) or "value" not in entry or "source" not in entry:
            raise CollectorError(f"{field}: expected {{value: <number>, source: <document id>}}")
        value = entry["value"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CollectorError(f"{field}.value: {value!r} is not a number")
        source = str(entry["source"])
        if source not in documents:
            raise CollectorError(f"{field}.source: document {source!r} is not listed under 'documents'")
        out[key] = DeclaredValue(key, float(value), f"{source}: {documents[source]}")
    return Declared(path=where, values=out)


def load_declared(path: str | Path | None) -> Declared:
    if path is None:
        return EMPTY
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CollectorError(f"{p}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CollectorError(f"{p}: invalid YAML: {exc}") from exc
    return parse_declared(data, str(p))


def declared_from_json(data: dict[str, Any]) -> Declared:
    """Back from Declared.to_json (the evidence bundle)."""
    values = {
        k: DeclaredValue(k, float(v["value"]), str(v["source"])) for k, v in data.get("values", {}).items()
    }
    return Declared(path=str(data.get("path", "")), values=values)
