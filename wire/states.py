"""Canonical machine states (DESIGN §6) and their stable numeric codes.

The codes are part of the contract: readings of state points are stored as these numbers, so a
code, once given, never changes meaning. New states get new codes at the end.
"""

# layering: pure

from typing import Final, Literal, get_args

# The canonical states in code order (a state's code is its index); the tuple below is read from it.
CanonicalState = Literal[
    "running",
    "reduced_speed",
    "setup",
    "idle",
    "planned_stop",
    "planned_maintenance",
    "unplanned_stop",
    "corrective_maintenance",
    "minor_stop",
    "unknown_stop",
    "no_data",
]
CANONICAL_STATES: Final[tuple[CanonicalState, ...]] = get_args(CanonicalState)

STATE_CODES: Final[dict[str, int]] = {name: code for code, name in enumerate(CANONICAL_STATES)}

# ISO 22400 groupings used by the time model.
PRODUCTIVE: Final[frozenset[str]] = frozenset({"running", "reduced_speed"})
PLANNED_DOWN: Final[frozenset[str]] = frozenset({"planned_stop", "planned_maintenance"})
UNPLANNED_DOWN: Final[frozenset[str]] = frozenset(
    {"unplanned_stop", "corrective_maintenance", "minor_stop", "unknown_stop"}
)


def state_code(name: str) -> int:
    """Code of a canonical state; KeyError for anything else."""
    return STATE_CODES[name]


def state_name(code: int) -> str:
    return CANONICAL_STATES[code]
