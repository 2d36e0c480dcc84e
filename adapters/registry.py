"""Adapters register themselves here: a protocol is one subpackage of `adapters` (or a package named
by an entry point of group `plantproof.adapters`) that calls `register` on import.

`discover` imports them all; nothing lists the protocols by hand.
"""

# layering: dynamic-imports plugin discovery

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

from pydantic import BaseModel

import adapters
from adapters.base import Connection, DeviceInstance
from adapters.errors import ConfigError
from devicemodel import addresses

ENTRY_POINT_GROUP = "plantproof.adapters"


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    protocol: str
    endpoint_model: type[BaseModel]
    factory: Callable[[DeviceInstance], Connection]
    address_model: type[BaseModel]


_ADAPTERS: dict[str, AdapterInfo] = {}
_seen: set[str] = set()  # packages `discover` has imported (or found broken) already


def register(
    protocol: str,
    endpoint_model: type[BaseModel],
    factory: Callable[[DeviceInstance], Connection],
    address_model: type[BaseModel],
) -> None:
    """Register a protocol; its address model must already be registered with the device model."""
    if getattr(address_model, "protocol", None) != protocol:
        raise TypeError(f"{address_model.__name__}.protocol must be {protocol!r}")
    if addresses.get(protocol) is None:
        addresses.register(address_model)
    _ADAPTERS[protocol] = AdapterInfo(protocol, endpoint_model, factory, address_model)


def _import(name: str) -> None:
    if name in _seen:
        return
    _seen.add(name)
    importlib.import_module(name)


def discover() -> list[str]:
    """Import every adapter package (subpackages of `adapters`, then entry points); the protocols."""
    for module in pkgutil.iter_modules(adapters.__path__, prefix="adapters."):
        if module.ispkg:
            _import(module.name)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        _import(entry.value.split(":")[0])
    return sorted(_ADAPTERS)


def get(protocol: str) -> AdapterInfo:
    if protocol not in _ADAPTERS:
        discover()
    try:
        return _ADAPTERS[protocol]
    except KeyError:
        raise ConfigError(f"unknown protocol {protocol!r}; known: {', '.join(sorted(_ADAPTERS))}") from None


def protocols() -> list[str]:
    return discover()


addresses.set_discovery(discover)
