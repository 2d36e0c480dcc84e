"""Points' quality summed into devices and sites, the four dimension shares and the site score (pure).

Each dimension of a device or a site is the ratio of its points' summed counts (so points weigh by
their readings); the score is 100 × the mean of the dimensions that are defined (a dimension with
nothing to divide by — no reading received — is left out of the mean, and says so: null).
"""

# layering: pure

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from collector.quality.assess import LATENCY_EDGES, PointQuality, percentile
from collector.quality.rules import PointRules

DIMENSIONS = ("completeness", "validity", "timeliness", "uniqueness")
FORMULA = (
    "score = 100 × mean(completeness, validity, timeliness, uniqueness), each dimension a share in"
    " [0, 1] summed over the points' readings: completeness = received / expected; validity = valid /"
    " received; timeliness = timely / received; uniqueness = received / (received + conflicts);"
    " a dimension without readings to judge is left out of the mean"
)
DEFINITIONS = {
    "completeness": "received / expected readings; a silence longer than the heartbeat timeout H holds"
    " ceil(d / c) - 1 missing readings, c the point's cadence (median spacing, at most H)",
    "validity": "readings of good quality, inside the declared range, changing no faster than"
    " max_rate_per_s, not in a run of one value longer than stuck_after_s, and (counters) without"
    " a back-step or an implausible increment, over readings received",
    "timeliness": "readings not stored more than late_after_s (5 s) after a newer reading of the point"
    " and, with a latency limit, stored within it of their source time, over readings received",
    "uniqueness": "readings over readings plus offers of another value at a stored (point, time)"
    " (refused or replaced); repeats of the stored value are dropped and counted, not penalised",
}
COUNTS = (
    "received", "expected", "good", "uncertain", "bad", "out_of_range", "too_fast", "stuck",
    "back_steps", "implausible_increments", "invalid", "late", "over_latency", "untimely", "conflicts",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PointResult:
    dev: str
    name: str
    rules: PointRules
    quality: PointQuality


@dataclass(frozen=True, slots=True)
class Duplicates:
    """From the ledger: the samples a device's new data envelopes offered and what became of them."""

    offered: int = 0
    stored: int = 0
    refused: int = 0
    replaced: int = 0

    @property
    def repeats(self) -> int:
        # every offer not stored now is a repeat, a refused conflict, or a reading replaced later
        return max(self.offered - self.stored - self.refused - self.replaced, 0)

    def to_json(self) -> dict[str, int]:
        return {
            "samples_offered": self.offered,
            "repeats_dropped": self.repeats,
            "conflicts_refused": self.refused,
            "conflicts_replaced": self.replaced,
        }


@dataclass(slots=True)
class Tally:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    latency: np.ndarray = field(default_factory=lambda: np.zeros(len(LATENCY_EDGES), dtype=np.int64))

    def add(self, q: PointQuality) -> None:
        for k in COUNTS:
            self.counts[k] += int(getattr(q, k))
        self.latency += q.latency

    def dimensions(self) -> dict[str, float | None]:
        c = self.counts
        received = c["received"]
        return {
            "completeness": _share(received, c["expected"]),
            "validity": _share(received - c["invalid"], received),
            "timeliness": _share(received - c["untimely"], received),
            "uniqueness": _share(received, received + c["conflicts"]),
        }

    def to_json(self) -> dict[str, Any]:
        dims = self.dimensions()
        return {
            "score": score(dims),
            "dimensions": dims,
            "counts": dict(self.counts),
            "quality_shares": {
                k: _share(self.counts[k], self.counts["received"]) for k in ("good", "uncertain", "bad")
            },
            "latency_s": {f"p{p}": percentile(self.latency, p / 100) for p in (50, 95, 99)},
        }


def _share(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


def score(dims: dict[str, float | None]) -> float | None:
    defined = [v for v in dims.values() if v is not None]
    return round(100 * sum(defined) / len(defined), 2) if defined else None


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat().replace("+00:00", "Z")


def point_json(p: PointResult) -> dict[str, Any]:
    q = p.quality
    tally = Tally()
    tally.add(q)
    findings = {
        "gaps": [[_iso(a), _iso(b)] for a, b in q.gaps],
        "stuck_runs": [[_iso(a), _iso(b)] for a, b in q.stuck_runs],
        "counter_discontinuities": [_iso(x) for x in q.discontinuities],
        "out_of_range": [_iso(x) for x in q.out_of_range_at],
        "too_fast": [_iso(x) for x in q.too_fast_at],
    }
    return {
        "point": p.name,
        "kind": p.rules.kind,
        "rules": p.rules.to_json(),
        "cadence_s": q.cadence_s,
        **tally.to_json(),
        "findings": {k: v for k, v in findings.items() if v},
    }


def affected(points: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, list[str]]:
    """Per dimension, the points (`dev/point`) whose share is below 1, worst first."""
    out: dict[str, list[str]] = {}
    for dim in DIMENSIONS:
        below = [(v, name) for name, p in points if (v := p["dimensions"][dim]) is not None and v < 1]
        out[dim] = [name for _, name in sorted(below)]
    return out


def site_json(
    site: str, types: dict[str, str], points: Sequence[PointResult], duplicates: dict[str, Duplicates]
) -> dict[str, Any]:
    """One site's assessment: the site, each device (in name order) and each of its points."""
    site_tally = Tally()
    devices: list[dict[str, Any]] = []
    named: list[tuple[str, dict[str, Any]]] = []
    for dev in sorted({p.dev for p in points} | set(duplicates)):
        tally = Tally()
        rows = []
        for p in sorted((p for p in points if p.dev == dev), key=lambda p: p.name):
            tally.add(p.quality)
            row = point_json(p)
            rows.append(row)
            named.append((f"{dev}/{p.name}", row))
        devices.append(
            {
                "device": dev,
                "type": types.get(dev),
                **tally.to_json(),
                "duplicates": duplicates.get(dev, Duplicates()).to_json(),
                "points": rows,
            }
        )
    for p in points:
        site_tally.add(p.quality)
    per_device = [d.to_json() for d in duplicates.values()]
    return {
        "site": site,
        **site_tally.to_json(),
        "duplicates": {k: sum(d[k] for d in per_device) for k in Duplicates().to_json()},
        "affected_points": affected(named),
        "devices": devices,
    }
