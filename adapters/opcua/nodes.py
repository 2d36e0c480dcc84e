"""Pure helpers of the OPC UA adapter: node ids from namespace URIs, data types against dtypes, status
codes by name. No I/O.

A point's node names its namespace by URI; the index is looked up in the server's NamespaceArray on
every new session (indexes may change across restarts). A node whose namespace the server lacks, or
whose id cannot be built, makes that point bad, never the device.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from asyncua import ua

from adapters.opcua.address import opcua_of
from devicemodel.devicetype import PointSpec

# Status codes the adapter itself attaches to bad readings (the server never sent them).
BAD_NODE_ID_UNKNOWN = int(ua.StatusCodes.BadNodeIdUnknown)
BAD_NODE_ID_INVALID = int(ua.StatusCodes.BadNodeIdInvalid)
BAD_TYPE_MISMATCH = int(ua.StatusCodes.BadTypeMismatch)

_INTEGER_RANGES = {
    ua.VariantType.SByte: (-(2**7), 2**7 - 1),
    ua.VariantType.Byte: (0, 2**8 - 1),
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}
_DTYPE_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
}
_FLOATS = (ua.VariantType.Float, ua.VariantType.Double)
# The OPC UA data type a device-type dtype is published as (browse proposes dtypes from these).
DTYPE_OF_VARIANT = {
    ua.VariantType.Boolean: "bool",
    ua.VariantType.SByte: "int16",
    ua.VariantType.Byte: "uint16",
    ua.VariantType.Int16: "int16",
    ua.VariantType.UInt16: "uint16",
    ua.VariantType.Int32: "int32",
    ua.VariantType.UInt32: "uint32",
    ua.VariantType.Int64: "int64",
    ua.VariantType.Float: "float32",
    ua.VariantType.Double: "float64",
    ua.VariantType.String: "string",
    ua.VariantType.LocalizedText: "string",
}


class NodeError(Exception):
    """A point's node cannot be addressed on this server; `status` is the code its readings carry."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Resolved:
    """Node ids of the points that could be addressed, and why the others could not."""

    nodes: dict[str, ua.NodeId]
    errors: dict[str, NodeError]


def node_text(point: PointSpec, device_id: str) -> str:
    """The point's node as written in the YAML, with the device id filled in."""
    ua_address = opcua_of(point)
    if ua_address is None:
        return "(no node)"
    kind, ident = ua_address.identifier(device_id)
    return f"nsu={ua_address.namespace_uri()};{kind}={ident}"


def node_id(point: PointSpec, device_id: str, namespaces: list[str]) -> ua.NodeId:
    """The node id of a point on a server with this NamespaceArray; raises NodeError."""
    ua_address = opcua_of(point)
    assert ua_address is not None
    uri = ua_address.namespace_uri()
    if uri.isdigit():
        index = int(uri)
    elif uri in namespaces:
        index = namespaces.index(uri)
    else:
        raise NodeError(
            f"node {node_text(point, device_id)}: the server has no namespace {uri!r}", BAD_NODE_ID_UNKNOWN
        )
    kind, ident = ua_address.identifier(device_id)
    make: Any = ua.NodeId  # asyncua annotates its own NewType-like aliases, not the Python types
    try:
        if kind == "i":
            return make(int(ident), index, ua.NodeIdType.Numeric)
        if kind == "g":
            return make(uuid.UUID(ident), index, ua.NodeIdType.Guid)
    except ValueError:
        raise NodeError(
            f"node {node_text(point, device_id)}: {ident!r} is not a valid "
            f"{'GUID' if kind == 'g' else 'number'}",
            BAD_NODE_ID_INVALID,
        ) from None
    return make(ident, index, ua.NodeIdType.String)


def resolve(points: list[PointSpec], device_id: str, namespaces: list[str]) -> Resolved:
    nodes: dict[str, ua.NodeId] = {}
    errors: dict[str, NodeError] = {}
    for point in points:
        try:
            nodes[point.name] = node_id(point, device_id, namespaces)
        except NodeError as exc:
            errors[point.name] = exc
    return Resolved(nodes, errors)


def type_mismatch(point: PointSpec, variant: ua.VariantType, value: Any) -> str | None:
    """Why a value of this OPC UA type cannot be the point's dtype (None when it can).

    Integer values fit integer points whose range holds them; floats and integers fit float points;
    bool, string and number never mix.
    """
    dtype = point.dtype
    if value is None:
        return None
    if dtype == "bool":
        ok = variant == ua.VariantType.Boolean
    elif dtype == "string":
        ok = variant in (ua.VariantType.String, ua.VariantType.LocalizedText)
    elif dtype.startswith("float"):
        ok = variant in _FLOATS or variant in _INTEGER_RANGES
    elif variant in _INTEGER_RANGES:
        low, high = _DTYPE_RANGES[dtype]
        ok = isinstance(value, int) and low <= value <= high
        if ok:
            return None
        return f"value {value!r} of the {variant.name} node does not fit {dtype}"
    else:
        ok = False
    if ok:
        return None
    return f"the node's data type is {variant.name}, the point's dtype is {dtype}"


def status_name(code: int) -> str:
    """'BadNodeIdUnknown' for 0x80340000; the hex value for codes the library does not know."""
    name, doc = ua.status_codes.get_name_and_doc(code)
    return f"0x{code:08X}" if doc.startswith("Unknown StatusCode") else str(name)
