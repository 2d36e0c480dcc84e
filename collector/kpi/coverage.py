"""Coverage per device for a claim: how many of each device's days count, and why the others do not.

The period figures in `collector.kpi.verify` say how much of a period is valid; this says which
devices the missing device-days belong to, so a reader can see whether one machine or the whole
line is short of data. Pure: arrays in, JSON-ready rows out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from collector.kpi.claims import Claim
from collector.kpi.engine import KPI_ROLES, DeviceDays, kpi_parts


def device_coverage(claim: Claim, dd: DeviceDays) -> list[dict[str, Any]]:
    """One row per device in scope, in scope order.

    A device-day is valid when its state data covers the gate's share of its planned time and the
    KPI's inputs are defined on it (the same rule as the period's valid share).
    """
    num, den = kpi_parts(claim, dd)
    covered = dd.timeline.coverage >= claim.gates.device_day_coverage
    defined = np.isfinite(num) & np.isfinite(den)
    valid = covered & defined
    needed = KPI_ROLES.get(claim.kpi, frozenset()) | {"state"}
    rows: list[dict[str, Any]] = []
    for i, device in enumerate(dd.devices):
        missing = sorted(role for role, devs in dd.missing.items() if role in needed and device in devs)
        rows.append(
            {
                "device": device,
                "device_days": len(dd.days),
                "valid_device_days": int(valid[i].sum()),
                "low_state_coverage": int((~covered[i]).sum()),
                "no_kpi_inputs": int((covered[i] & ~defined[i]).sum()),
                "missing_points": missing,
            }
        )
    return rows


def claim_coverage(claim: Claim, baseline: DeviceDays, reporting: DeviceDays) -> dict[str, Any]:
    """Both periods' rows, with the gates they were judged by."""
    return {
        "gates": {
            "device_day_coverage": claim.gates.device_day_coverage,
            "period_valid_share": claim.gates.period_valid_share,
        },
        "baseline": device_coverage(claim, baseline),
        "reporting": device_coverage(claim, reporting),
    }
