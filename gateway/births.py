"""Birth and death envelopes of a device, built from its device type and its gateway config."""

from devicemodel import births
from gateway.config import DeviceConfig
from wire import Birth, Death, DeviceInfo


def device_info(device: DeviceConfig) -> DeviceInfo:
    return births.device_info(
        device.device_type,
        protocol=device.protocol,
        simulated=device.simulated,
        managed=True,  # a live gateway answers commands for its devices
        area=device.area,
        line=device.line,
    )


def birth(gw: str, device: DeviceConfig, seq: int, sent_ns: int) -> Birth:
    return births.birth(gw, device.id, seq, sent_ns, device.device_type, device_info(device))


def death(gw: str, dev: str, seq: int, sent_ns: int, reason: str) -> Death:
    return Death(gw=gw, dev=dev, seq=seq, sent=sent_ns, reason=reason)
