"""Adapters register themselves here: a protocol is one subpackage of `adapters` (or a package named
by an entry point of group `plantproof.adapters`) that calls `register` on import.

`discover` imports them all; nothing lists the protocols by hand.
"""

# layering: dynamic-imports plugin discovery (adapters subpackages and plantproof.adapters entry points)

import importlib
import pkgutil
import sys
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
_broken: dict[str, str] = {}  # package -> why it could not be imported (a missing dependency)


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


def unregister(protocol: str) -> None:
    """Forget a protocol and its address model (a plugin unloaded, or a test's fake one)."""
    _ADAPTERS.pop(protocol, None)
    addresses.unregister(protocol)


def _import(name: str) -> None:
    if name in sys.modules or name in _broken:
        return
    try:
        importlib.import_module(name)
    except ImportError as exc:  # one adapter's missing dependency must not take the others down
        _broken[name] = str(exc)


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
        broken = "".join(f"; {name} did not load: {why}" for name, why in sorted(_broken.items()))
        known = ", ".join(sorted(_ADAPTERS))
        raise ConfigError(f"unknown protocol {protocol!r}; known: {known}{broken}") from None


def protocols() -> list[str]:
    return discover()


addresses.set_discovery(discover)
