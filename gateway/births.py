"""Birth and death envelopes of a device, built from its device type and its gateway config."""

from devicemodel.devicetype import DeviceType
from gateway.config import DeviceConfig
from wire import Birth, Death, DeviceInfo, PointInfo


def point_infos(device_type: DeviceType) -> list[PointInfo]:
    return [
        PointInfo(
            name=p.name, kind=p.kind, dtype=p.dtype, unit=p.unit, scale=p.scale, offset=p.offset, wrap=p.wrap
        )
        for p in device_type.points
    ]


def device_info(device: DeviceConfig) -> DeviceInfo:
    dt = device.device_type
    return DeviceInfo(
        type=dt.type,
        industry=dt.industry,
        sector=dt.sector,
        simulated=device.simulated,
        managed=True,  # a live gateway answers commands for its devices
        area=device.area,
        line=device.line,
        protocol=device.protocol,
        ideal_rate_per_hour=dt.ideal_rate_per_hour or None,
    )


def birth(gw: str, device: DeviceConfig, seq: int, sent_ns: int) -> Birth:
    return Birth(
        gw=gw,
        dev=device.id,
        seq=seq,
        sent=sent_ns,
        device=device_info(device),
        points=point_infos(device.device_type),
    )


def death(gw: str, dev: str, seq: int, sent_ns: int, reason: str) -> Death:
    return Death(gw=gw, dev=dev, seq=seq, sent=sent_ns, reason=reason)
