"""Device state codes to canonical states: one rule for every reader of state points (the gateway's
edge, the historian import, the simulators' own read-back)."""

# layering: pure

from collections.abc import Mapping
from typing import Final, NamedTuple

from wire.states import CanonicalState

# A code the device type's map lacks reads as this state (and, where quality applies, uncertain).
UNMAPPED_STATE: Final[CanonicalState] = "unknown_stop"


class Mapped(NamedTuple):
    state: str
    mapped: bool  # False: the code is not in the map and `state` is UNMAPPED_STATE


def canonical_state(code: int, mapping: Mapping[int, str] | None) -> Mapped:
    """The canonical state a device code maps to; UNMAPPED_STATE for a code the map lacks."""
    state = (mapping or {}).get(code)
    return Mapped(UNMAPPED_STATE, False) if state is None else Mapped(state, True)
