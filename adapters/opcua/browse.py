"""`gateway browse`: walk a server's address space and write a device-type skeleton from it.

`browse` does the I/O (one session, closed on every path; Browse calls per node, one batched Read
per attribute); `device_type_yaml` is pure. Node ids are written with their namespace URI
(`nsu=...;s=...`), so the skeleton survives namespace index changes and is valid as it stands.
"""

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from asyncua import Client, ua

from adapters.opcua.endpoint import OpcUaEndpoint
from adapters.opcua.nodes import DTYPE_OF_VARIANT, status_name
from adapters.opcua.session import Context, disconnect, open_client

_MAKE: Any = ua.NodeId  # asyncua annotates its own NewType-like aliases, not the Python types
_SERVER_OBJECT = _MAKE(ua.ObjectIds.Server, 0)
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.:-]+")


@dataclass(frozen=True, slots=True)
class Variable:
    path: str  # browse names from the Objects folder, joined by "."
    node: str  # "nsu=<namespace uri>;s=<id>" (or i=/g=); "" when the id type cannot be written
    data_type: str  # the OPC UA built-in type of the value, e.g. "Double"
    dtype: str | None  # the device-type dtype it maps to; None when none does
    writable: bool
    value: Any
    status: str


def _node_text(node_id: ua.NodeId, namespaces: list[str]) -> str:
    uri = namespaces[node_id.NamespaceIndex] if node_id.NamespaceIndex < len(namespaces) else ""
    kind = {ua.NodeIdType.String: "s", ua.NodeIdType.Guid: "g"}.get(node_id.NodeIdType, "i")
    if node_id.NodeIdType == ua.NodeIdType.ByteString or not uri:
        return ""
    ident: Any = node_id.Identifier
    return f"nsu={uri};{kind}={ident}"


async def browse(endpoint: OpcUaEndpoint, depth: int = 4, max_nodes: int = 20_000) -> list[Variable]:
    """Every variable under Objects (the Server object excepted) down to `depth` levels."""
    client = await open_client(Context("browse", endpoint))
    try:
        namespaces = await client.get_namespace_array()
        found: list[tuple[str, ua.NodeId]] = []
        level: list[tuple[str, ua.NodeId]] = [("", client.nodes.objects.nodeid)]
        visited: set[ua.NodeId] = set()
        for _ in range(depth):
            following: list[tuple[str, ua.NodeId]] = []
            for path, parent in level:
                for ref in await client.get_node(parent).get_children_descriptions():
                    nid = ref.NodeId
                    if nid in visited or nid == _SERVER_OBJECT or len(visited) >= max_nodes:
                        continue
                    visited.add(nid)
                    name = f"{path}.{ref.BrowseName.Name}" if path else str(ref.BrowseName.Name)
                    if ref.NodeClass == ua.NodeClass.Variable:
                        found.append((name, nid))
                    if ref.NodeClass in (ua.NodeClass.Object, ua.NodeClass.Variable):
                        following.append((name, nid))
            level = following
        return await _describe(client, found, namespaces)
    finally:
        await disconnect(client, endpoint.timeout)


async def _describe(
    client: Client, found: list[tuple[str, ua.NodeId]], namespaces: list[str]
) -> list[Variable]:
    nodes = [client.get_node(nid) for _, nid in found]
    out: list[Variable] = []
    for start in range(0, len(nodes), 500):
        chunk = nodes[start : start + 500]
        values = await client.read_attributes(chunk, ua.AttributeIds.Value)
        access = await client.read_attributes(chunk, ua.AttributeIds.UserAccessLevel)
        for (path, nid), value, level in zip(found[start : start + 500], values, access, strict=True):
            variant = value.Value
            vtype = variant.VariantType if variant is not None and variant.Value is not None else None
            is_array = variant is not None and isinstance(variant.Value, list)
            writable = bool(level.Value and level.Value.Value is not None and int(level.Value.Value) & 0x2)
            out.append(
                Variable(
                    path=path,
                    node=_node_text(nid, namespaces),
                    data_type=(vtype.name if vtype is not None else "-") + ("[]" if is_array else ""),
                    dtype=None if is_array or vtype is None else DTYPE_OF_VARIANT.get(vtype),
                    writable=writable,
                    value=variant.Value if variant is not None else None,
                    status=status_name(int(value.StatusCode.value)) if value.StatusCode else "Good",
                )
            )
    return out


def select(variables: Sequence[Variable], pattern: str | None) -> list[Variable]:
    """Variables whose path matches the shell-style pattern (all when None)."""
    return [v for v in variables if pattern is None or fnmatch.fnmatchcase(v.path, pattern)]


def _names(paths: list[str]) -> list[str]:
    """Point names: the paths without their common leading components, made valid and unique."""
    parts = [p.split(".") for p in paths]
    common = 0
    while parts and all(len(p) > common + 1 for p in parts) and len({p[common] for p in parts}) == 1:
        common += 1
    names: list[str] = []
    for p in parts:
        base = _NAME_BAD.sub("_", ".".join(p[common:])).strip("._")[:120] or "point"
        name, n = base, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def device_type_yaml(
    variables: Sequence[Variable], source: str, *, type_: str = "generic", industry: str = "C34",
    sector: str = "discrete",
) -> tuple[str, list[str]]:  # fmt: skip
    """(the device-type YAML, the paths left out and why) for the chosen variables."""
    usable = [v for v in variables if v.node and v.dtype is not None]
    skipped = [
        f"{v.path}: {'its node id cannot be written as nsu=...' if not v.node else f'type {v.data_type}'}"
        for v in variables
        if v not in usable
    ]
    points = []
    for name, var in zip(_names([v.path for v in usable]), usable, strict=True):
        point: dict[str, Any] = {
            "name": name,
            "kind": "switch" if var.dtype == "bool" else "analog",
            "dtype": var.dtype,
            "unit": "",
        }
        if var.writable:
            point["writable"] = True
        point["opcua"] = {"node": var.node}
        points.append(point)
    header = (
        f"# Device type written by `plantproof gateway browse` from {source}.\n"
        "# Check each point: kind (analog, state + states map, counter, energy, switch, setpoint),\n"
        "# unit, scale/offset; set type, industry (GB/T 4754 code) and sector for this machine.\n"
    )
    body = {
        "type": type_,
        "industry": industry,
        "sector": sector,
        "description": f"browsed from {source}",
        "points": points,
    }
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True), skipped
