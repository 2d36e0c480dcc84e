"""What every protocol adapter offers the gateway.

An adapter owns one supervised connection to one device: it connects, reads its scan groups at
their intervals (or subscribes, where the protocol pushes), hands decoded readings to a sink,
and reconnects with backoff on its own. The gateway runs one such task per device, so a dead
device never stalls another.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel, ValidationInfo

from adapters.errors import ConfigError
from devicemodel.devicetype import DeviceType, PointSpec

QUALITY_GOOD = 0
QUALITY_UNCERTAIN = 1
QUALITY_BAD = 2

RawValue = bool | int | float | str | None


def _against_config(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base")
    return path if path.is_absolute() or base is None else (Path(base) / path).resolve()


# A path in an endpoint setting: relative paths resolve against the folder of the config file that
# names them (validation context "base"), like every other path of a gateway config.
ConfigPath = Annotated[Path, AfterValidator(_against_config)]


@dataclass(frozen=True, slots=True)
class RawReading:
    """A decoded value before edge processing (not yet scaled or mapped to canonical states)."""

    point: str
    ts_ns: int  # source timestamp where the protocol has one, else the time of the read
    value: RawValue
    quality: int = QUALITY_GOOD
    status: int | None = None  # the source's status code of a bad/uncertain reading (OPC UA StatusCode)


@dataclass(frozen=True, slots=True)
class ScanGroup:
    name: str
    interval_s: float
    points: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceInstance:
    """One configured device: its id, its type, and the adapter-specific endpoint settings."""

    id: str
    device_type: DeviceType
    endpoint: BaseModel
    scan_groups: tuple[ScanGroup, ...]


@dataclass(slots=True)
class LinkStatus:
    """Observable state of one connection, exported as metrics by the gateway."""

    connected: bool = False
    last_error: str | None = None
    reads: int = 0
    read_errors: int = 0
    requests: int = 0
    reconnects: int = 0
    last_rtt_s: float = 0.0
    stale: bool = True  # true until the first good read after (re)connecting
    # Why the link is down, as a short label for metrics (unreachable, timeout, certificate, security,
    # login, namespace, refused...); None while up.
    reason: str | None = None
    extra: dict[str, float] = field(default_factory=dict)


# Receives each batch of readings of one device; awaiting it applies backpressure to the reader.
ReadingSink = Callable[[str, Sequence[RawReading]], Awaitable[None]]


class Connection(Protocol):
    device: DeviceInstance
    status: LinkStatus

    async def run(self, sink: ReadingSink) -> None:
        """Connect, read, reconnect with backoff, until cancelled. Never raises for device faults."""
        ...

    async def write(self, point: str, value: bool | int | float) -> None:
        """Write a setpoint or switch; raises DeviceUnavailable / DeviceRejected / CodecError."""
        ...

    async def read_once(self, points: Sequence[str]) -> list[RawReading]:
        """One synchronous read of the named points (management 'read' operations)."""
        ...

    async def close(self) -> None: ...


def check_scan_groups(device: DeviceInstance, addressed: Callable[[PointSpec], bool], what: str) -> None:
    """Every point a scan group names must exist and carry this protocol's address."""
    by_name = device.device_type.by_name
    for group in device.scan_groups:
        for name in group.points:
            if name not in by_name or not addressed(by_name[name]):
                raise ConfigError(
                    f"device {device.id!r}: scan group {group.name!r} names {name!r}, "
                    f"which is not a point with {what}",
                    field="scan_groups",
                )


E = TypeVar("E", bound=BaseModel)


def endpoint_as(device: DeviceInstance, model: type[E], protocol: str) -> E:
    """The device's endpoint settings as this adapter's model (validated if given as another model)."""
    endpoint = device.endpoint
    if isinstance(endpoint, model):
        return endpoint
    try:
        return model.model_validate(endpoint.model_dump())
    except ValueError as exc:
        raise ConfigError(
            f"device {device.id!r}: invalid {protocol} endpoint: {exc}", field="endpoint"
        ) from None
