"""What the registry knows of a device: its id, its owner and the points of its latest birth.

The registry caches these; decoding turns a data envelope into rows with them.
"""

# layering: pure

from __future__ import annotations

from dataclasses import dataclass, field

DeviceKey = tuple[str, str]  # (site, dev)


@dataclass(frozen=True, slots=True)
class PointRef:
    point_id: int
    kind: str
    dtype: str


@dataclass(frozen=True, slots=True)
class DevicePoints:
    """What the registry knows of a device: its id and the points of its latest birth."""

    device_id: int
    points: dict[str, PointRef]
    owner: str = ""  # the gateway that registered the device; only it may send data or births for it
    ids: dict[str, int] = field(default_factory=dict, compare=False)
    # Points whose values are plain numbers (not state, string or bool): the fast path of to_rows.
    plain: frozenset[str] = field(default=frozenset(), compare=False)

    @classmethod
    def of(cls, device_id: int, points: dict[str, PointRef], owner: str = "") -> DevicePoints:
        plain = frozenset(
            n for n, r in points.items() if r.kind != "state" and r.dtype not in ("string", "bool")
        )
        return cls(device_id, points, owner, {n: r.point_id for n, r in points.items()}, plain)
