"""Adapters register themselves here: a protocol is one module that calls `register` on import."""

# layering: dynamic-imports built-in protocols load on first lookup, by module name from _BUILTIN

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from adapters.base import Connection, DeviceInstance
from adapters.errors import ConfigError


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    protocol: str
    endpoint_model: type[BaseModel]
    factory: Callable[[DeviceInstance], Connection]


_ADAPTERS: dict[str, AdapterInfo] = {}
# Built-in protocols, imported on first lookup so that importing adapters stays cheap.
_BUILTIN = {"modbus": "adapters.modbus", "opcua": "adapters.opcua"}


def register(
    protocol: str, endpoint_model: type[BaseModel], factory: Callable[[DeviceInstance], Connection]
) -> None:
    _ADAPTERS[protocol] = AdapterInfo(protocol, endpoint_model, factory)


def get(protocol: str) -> AdapterInfo:
    if protocol not in _ADAPTERS and protocol in _BUILTIN:
        importlib.import_module(_BUILTIN[protocol])
    try:
        return _ADAPTERS[protocol]
    except KeyError:
        known = sorted(set(_ADAPTERS) | set(_BUILTIN))
        raise ConfigError(f"unknown protocol {protocol!r}; known: {', '.join(known)}") from None


def protocols() -> list[str]:
    return sorted(set(_ADAPTERS) | set(_BUILTIN))
