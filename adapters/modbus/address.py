"""Where a point lives on a Modbus device: the `modbus:` section of a device-type point.

Registered with the device model when the adapter package is imported.
"""

# layering: pure

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from devicemodel import addresses
from devicemodel.devicetype import DeviceType, PointSpec

Table = Literal["holding", "input", "coil", "discrete"]
Order = Literal["big", "little"]
BIT_TABLES = ("coil", "discrete")
REGISTERS_PER_DTYPE: dict[str, int] = {
    "bool": 1,
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "int64": 4,
    "float64": 4,
}


class ModbusAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    protocol: ClassVar[str] = "modbus"

    table: Table
    address: Annotated[int, Field(ge=0, le=65535)]
    byte_order: Order = "big"  # byte order inside each 16-bit register
    word_order: Order = "big"  # order of 16-bit words in 32/64-bit values ("little" = low word first)
    bit: Annotated[int, Field(ge=0, le=15)] | None = None  # bool packed in a register
    length: Annotated[int, Field(ge=1, le=125)] | None = None  # registers of a string


def modbus_of(point: PointSpec) -> ModbusAddress | None:
    return point.address(ModbusAddress)


def register_count(point: PointSpec) -> int:
    """16-bit registers (or bits, for coil/discrete) the point occupies."""
    if point.dtype == "string":
        mb = modbus_of(point)
        return mb.length if mb and mb.length else 0
    return REGISTERS_PER_DTYPE[point.dtype]


def check_point(point: PointSpec, mb: ModbusAddress) -> None:
    if mb.table in BIT_TABLES:
        if point.dtype != "bool" or mb.bit is not None:
            raise ValueError(f"{mb.table} points are dtype bool without 'bit'")
    elif point.dtype == "bool" and mb.bit is None:
        raise ValueError("a bool in a register needs 'bit' (0-15)")
    elif point.dtype != "bool" and mb.bit is not None:
        raise ValueError("'bit' is only for dtype bool")
    if point.dtype == "string" and mb.length is None:
        raise ValueError("a string needs 'length' in registers")
    if point.writable and mb.table in ("input", "discrete"):
        raise ValueError(f"{mb.table} tables are read-only")


def check_device(device_type: DeviceType) -> None:
    occupied: dict[tuple[str, int], str] = {}
    for p in device_type.points:
        mb = modbus_of(p)
        if mb is None or mb.bit is not None:
            continue  # bits may share a status word
        for offset in range(register_count(p)):
            key = (mb.table, mb.address + offset)
            if key in occupied:
                raise ValueError(f"points {occupied[key]!r} and {p.name!r} overlap at {key[0]} {key[1]}")
            occupied[key] = p.name


addresses.register(ModbusAddress, check_point=check_point, check_device=check_device)
