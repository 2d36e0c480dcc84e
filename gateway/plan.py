"""What `plantproof gateway check` prints: each device's scan groups and the reads they plan."""

from adapters.errors import AdapterError
from adapters.opcua.address import opcua_of
from gateway.config import DeviceConfig, GatewayConfig


def conflicts(config: GatewayConfig) -> list[str]:
    """Problems no single device shows: two points reading one OPC UA node of one server (only one
    of them would ever be published)."""
    seen: dict[tuple[str, str], str] = {}
    out: list[str] = []
    for device in config.devices:
        if device.protocol != "opcua":
            continue
        url = str(device.endpoint.get("url", "")).rstrip("/")
        for point in device.device_type.points:
            node = opcua_of(point)
            if node is None:
                continue
            kind, ident = node.identifier(device.id)
            key = (url, f"nsu={node.namespace_uri()};{kind}={ident}")
            where = f"{device.id}.{point.name}"
            if key in seen:
                out.append(f"{seen[key]} and {where} read the same node {key[1]} of {url}")
            else:
                seen[key] = where
    return out


def describe_plan(device: DeviceConfig) -> list[str]:
    instance = device.instance()
    lines = [
        f"device {device.id}: {device.device_type.type} via {device.protocol}"
        f"{' (simulated)' if device.simulated else ''}, {len(device.device_type.points)} points"
    ]
    for group in instance.scan_groups:
        lines.append(f"  scan group {group.name}: every {group.interval_s:g} s, {len(group.points)} points")
        if device.protocol != "modbus":
            lines.extend(f"    {name}" for name in group.points)
            continue
        lines.extend(_modbus_requests(device, group.points))
    return lines


def _modbus_requests(device: DeviceConfig, names: tuple[str, ...]) -> list[str]:
    from adapters.modbus.address import modbus_of
    from adapters.modbus.endpoint import ModbusEndpoint
    from adapters.modbus.planner import plan_reads

    endpoint = device.instance().endpoint
    assert isinstance(endpoint, ModbusEndpoint)
    specs = [device.device_type.point(n) for n in names]
    missing = [p.name for p in specs if modbus_of(p) is None]
    try:
        requests = plan_reads(
            [p for p in specs if modbus_of(p) is not None],
            max_gap=endpoint.max_gap,
            max_registers=endpoint.max_registers_per_read,
            max_bits=endpoint.max_bits_per_read,
            per_point=endpoint.per_point_requests,
        )
    except AdapterError as exc:
        return [f"    cannot plan reads: {exc}"]
    lines = [
        f"    unit {endpoint.unit_id} {r.table} {r.start}..{r.start + r.count - 1} ({r.count} "
        f"{'bits' if r.table in ('coil', 'discrete') else 'registers'}): {', '.join(r.points)}"
        for r in requests
    ]
    if missing:
        lines.append(f"    points without a modbus address (not read): {', '.join(missing)}")
    return lines
