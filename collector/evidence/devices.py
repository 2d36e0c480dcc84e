"""The bundle's device list: every device counted under any rule, once, with the rules it met.

devices.csv and report.html's device table are both built from these rows, so they cannot differ.
"""

from __future__ import annotations

from typing import Any

from collector.figures.model import RULES, Figures

__all__ = ["DEVICE_COLUMNS", "RULES", "device_rows"]
DEVICE_COLUMNS = (
    "device_id", "device", "type", "industry", "sector", "simulated", "active_days", "first_seen",
    "last_seen", "messages", "readings", "counted_default", "counted_any_day", "counted_every_day",
)  # fmt: skip


def device_rows(figures: Figures) -> list[dict[str, Any]]:
    """Rows in device_id order, each with counted_<rule> flags."""
    counted: dict[int, dict[str, Any]] = {}
    for rule in RULES:
        fig = figures.connected_equipment.rule(rule)
        for m in (*fig.members, *fig.simulated_members):
            row = counted.setdefault(m.device_id, {**m.to_json(), **{f"counted_{r}": False for r in RULES}})
            row[f"counted_{rule}"] = True
    return [counted[device_id] for device_id in sorted(counted)]
