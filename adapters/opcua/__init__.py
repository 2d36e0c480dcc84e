"""OPC UA adapter; registers itself as protocol "opcua" on import.

The connection (and asyncua with it) is imported on first use.
"""

from adapters.base import Connection, DeviceInstance
from adapters.opcua.address import OpcUaAddress
from adapters.opcua.endpoint import OpcUaEndpoint
from adapters.registry import register


def connect(device: DeviceInstance) -> Connection:
    """The supervised connection of one OPC UA device instance (not yet running)."""
    from adapters.opcua.client import OpcUaConnection

    return OpcUaConnection(device)


register("opcua", OpcUaEndpoint, connect, OpcUaAddress)

__all__ = ["OpcUaAddress", "OpcUaEndpoint", "connect"]
