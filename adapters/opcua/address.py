"""Where a point lives on an OPC UA server: the `opcua:` section of a device-type point.

Registered with the device model when the adapter package is imported.
"""

# layering: pure

import re
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, field_validator

from devicemodel import addresses
from devicemodel.devicetype import DeviceType, PointSpec

_NODE = re.compile(r"^(?:nsu|ns)=([^;]+);([sig])=(.+)$")


class OpcUaAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    protocol: ClassVar[str] = "opcua"

    # Expanded node id with the namespace URI: "nsu=<uri>;s=<id>" ("ns=<uri>;..." is accepted too).
    # "{device}" in the id is replaced by the device instance id.
    node: str

    @field_validator("node")
    @classmethod
    def _node_form(cls, value: str) -> str:
        if not _NODE.match(value):
            raise ValueError("expected 'nsu=<namespace uri>;s=<identifier>' (or i=/g=)")
        return value

    def namespace_uri(self) -> str:
        match = _NODE.match(self.node)
        assert match is not None
        return match.group(1)

    def identifier(self, device_id: str) -> tuple[str, str]:
        """(id type letter, identifier) with the device id filled in."""
        match = _NODE.match(self.node)
        assert match is not None
        return match.group(2), match.group(3).replace("{device}", device_id)


def opcua_of(point: PointSpec) -> OpcUaAddress | None:
    return point.address(OpcUaAddress)


def check_device(device_type: DeviceType) -> None:
    # one node, one point: a monitored item delivers each change to one point only
    nodes: dict[str, str] = {}
    for p in device_type.points:
        ua = opcua_of(p)
        if ua is None:
            continue
        if ua.node in nodes:
            raise ValueError(f"points {nodes[ua.node]!r} and {p.name!r} name the same OPC UA node")
        nodes[ua.node] = p.name


addresses.register(OpcUaAddress, check_device=check_device)
