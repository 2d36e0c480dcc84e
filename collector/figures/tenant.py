"""The figures of one tenant (the platform API, its evidence bundles): over the tenant's sites only.

The figure queries read the whole registry; the rows they return name each device's site, so the
devices, points and managed devices of other sites are dropped before `compute`, and every count,
breakdown and member list is the tenant's own. Two figures are not per site and are withheld: the
model-invocation ledger names no site, and a capacity run is a synthetic, platform-wide population
(`EXCLUDED` says so in every answer).
"""

from __future__ import annotations

# layering: pure
import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from collector.figures.compute import Parameters, QueryResults, compute
from collector.figures.model import Figures, Invocations

EXCLUDED: dict[str, str] = {
    "monthly_model_invocations": "the model-invocation ledger names no site: not attributable to a tenant",
    "demonstrated_management_capacity": "a synthetic platform-wide capacity run, not a tenant's equipment",
}


def for_sites(results: QueryResults, sites: Collection[str]) -> QueryResults:
    keep = frozenset(sites)
    return QueryResults(
        devices=[d for d in results.devices if d.site in keep],
        points=[p for p in results.points if p.site in keep],
        managed=[m for m in results.managed if m.site in keep],
        capacity_runs=[],
        invocations=[],
    )


def tenant_figures(results: QueryResults, sites: Collection[str], params: Parameters) -> Figures:
    figures = compute(for_sites(results, sites), params)
    # No value rather than a zero the tenant's plant did not earn.
    withheld = Invocations(value=None, per_month={}, complete_months=(), by_model={})
    return dataclasses.replace(
        figures, monthly_model_invocations=withheld, demonstrated_management_capacity=None
    )


def scope_json(tenant: str, sites: Collection[str]) -> dict[str, Any]:
    return {"tenant": tenant, "sites": sorted(sites), "withheld": EXCLUDED}


@dataclass(frozen=True, slots=True)
class Tenant:
    """Whose figures: a tenant's name and the sites it owns."""

    name: str
    sites: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return scope_json(self.name, self.sites)

    @classmethod
    def from_json(cls, scope: dict[str, Any]) -> Tenant:
        return cls(str(scope["tenant"]), tuple(str(s) for s in scope["sites"]))
