"""Address models: each protocol registers how a point names its place on a device.

A point in a device-type YAML carries one mapping per protocol under the protocol's name
(`modbus: {table: holding, address: 3}`, `opcua: {node: "nsu=...;s=..."}`). The device model does not
know these shapes: a protocol registers a pydantic model (with a `protocol` class variable naming the
section) and, optionally, hooks that check a point's address against the point (`check_point`) or
all the addresses of a device type together (`check_device`). Hooks raise ValueError.

Protocols register when their adapter package is imported; `set_discovery` lets the adapter registry
be asked to import them all before a checked load.
"""

# layering: pure

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    from devicemodel.devicetype import DeviceType, PointSpec


class AddressModel(Protocol):
    """What a registered address model is: a pydantic model class naming its YAML section."""

    protocol: ClassVar[str]


PointCheck = Callable[["PointSpec", Any], None]
DeviceCheck = Callable[["DeviceType"], None]


@dataclass(frozen=True, slots=True)
class AddressKind:
    section: str
    model: type[BaseModel]
    check_point: PointCheck | None = None
    check_device: DeviceCheck | None = None


_KINDS: dict[str, AddressKind] = {}
_pending: list[Callable[[], object]] = []  # discovery hooks not run yet (each runs once)


def register(
    model: type[BaseModel], *, check_point: PointCheck | None = None, check_device: DeviceCheck | None = None
) -> None:
    """Register `model` for the point section named by its `protocol` class variable."""
    section = getattr(model, "protocol", None)
    if not isinstance(section, str) or not section.isidentifier():
        raise TypeError(f"{model.__name__} needs a `protocol` class variable naming its YAML section")
    _KINDS[section] = AddressKind(section, model, check_point, check_device)


def unregister(section: str) -> None:
    _KINDS.pop(section, None)


def get(section: str) -> AddressKind | None:
    return _KINDS.get(section)


def sections() -> list[str]:
    return sorted(_KINDS)


def kinds() -> list[AddressKind]:
    return [_KINDS[s] for s in sorted(_KINDS)]


def set_discovery(discover: Callable[[], object]) -> None:
    """Install what makes every protocol register (the adapter registry's `discover`)."""
    if discover not in _pending:
        _pending.append(discover)


def ensure_discovered() -> None:
    """Run the discovery hooks not run yet (a checked load needs every protocol registered)."""
    while _pending:
        _pending.pop(0)()
