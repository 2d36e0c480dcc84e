"""What a birth says about a device, from its device type: the one mapping every producer of births
uses (the gateway, the history backfill, the historian import)."""

# layering: pure

from devicemodel.devicetype import DeviceType
from wire import Birth, DeviceInfo, PointInfo


def point_infos(device_type: DeviceType) -> list[PointInfo]:
    return [
        PointInfo(
            name=p.name, kind=p.kind, dtype=p.dtype, unit=p.unit, scale=p.scale, offset=p.offset, wrap=p.wrap
        )
        for p in device_type.points
    ]


def device_info(
    device_type: DeviceType,
    *,
    protocol: str,
    simulated: bool = False,
    managed: bool = False,
    area: str | None = None,
    line: str | None = None,
    zero_rate_as_none: bool = True,
) -> DeviceInfo:
    """`zero_rate_as_none`: an ideal rate of 0 (none given) is sent as null. The backfill sends 0.0
    instead: its output is pinned byte for byte per seed."""
    rate = device_type.ideal_rate_per_hour
    return DeviceInfo(
        type=device_type.type,
        industry=device_type.industry,
        sector=device_type.sector,
        simulated=simulated,
        managed=managed,
        area=area,
        line=line,
        protocol=protocol,
        ideal_rate_per_hour=(rate or None) if zero_rate_as_none else rate,
    )


def birth(gw: str, dev: str, seq: int, sent_ns: int, device_type: DeviceType, info: DeviceInfo) -> Birth:
    return Birth(gw=gw, dev=dev, seq=seq, sent=sent_ns, device=info, points=point_infos(device_type))
