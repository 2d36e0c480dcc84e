"""Modbus TCP / RTU adapter; registers itself as protocol "modbus" on import.

The connection (and pymodbus with it) is imported on first use, so that the pure codec and planner
stay cheap to import.
"""

from adapters.base import Connection, DeviceInstance
from adapters.modbus.address import ModbusAddress
from adapters.modbus.endpoint import ModbusEndpoint
from adapters.registry import register


def connect(device: DeviceInstance) -> Connection:
    """The supervised connection of one Modbus device instance (not yet running)."""
    from adapters.modbus.client import ModbusConnection

    return ModbusConnection(device)


register("modbus", ModbusEndpoint, connect, ModbusAddress)

__all__ = ["ModbusAddress", "ModbusEndpoint", "connect"]
