"""`gateway probe`: one register range decoded as every dtype in every byte and word order, so a
plant engineer can see which order gives the value the device's display shows (21.5, not 2.1e-41).

`decodings` is pure; `read_registers` does the one request.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

from adapters.errors import DeviceRejected, DeviceUnavailable
from adapters.modbus import codec
from adapters.modbus.address import REGISTERS_PER_DTYPE

ORDERS = (("big", "big"), ("little", "big"), ("big", "little"), ("little", "little"))
ORDER_NAMES = {("big", "big"): "ABCD", ("little", "big"): "BADC", ("big", "little"): "CDAB",
               ("little", "little"): "DCBA"}  # fmt: skip
NUMERIC = ("int16", "uint16", "int32", "uint32", "float32", "int64", "float64")


@dataclass(frozen=True, slots=True)
class Decoding:
    dtype: str
    byte_order: str
    word_order: str
    value: int | float

    @property
    def order(self) -> str:
        return ORDER_NAMES[(self.byte_order, self.word_order)]


def decodings(registers: list[int]) -> list[Decoding]:
    """Every numeric dtype that fits the registers (from the first), in every distinct order."""
    out: list[Decoding] = []
    for dtype in NUMERIC:
        need = REGISTERS_PER_DTYPE[dtype]
        if need > len(registers):
            continue
        words = registers[:need]
        for byte_order, word_order in ORDERS:
            if need == 1 and word_order == "little":
                continue  # one register has no word order
            value = codec.decode(words, dtype, byte_order, word_order)
            assert isinstance(value, int | float)
            out.append(Decoding(dtype, byte_order, word_order, value))
    return out


async def read_registers(
    host: str, port: int, unit: int, table: str, address: int, count: int, wait_s: float = 2.0
) -> list[int]:
    """One read of `count` holding or input registers; errors in plain words."""
    from pymodbus.client import AsyncModbusTcpClient
    from pymodbus.exceptions import ModbusException

    from adapters.modbus.client import exception_text

    client: Any = AsyncModbusTcpClient(host, port=port, timeout=wait_s, retries=0, reconnect_delay=0)
    where = f"unit {unit} at {host}:{port}"
    try:
        if not await asyncio.wait_for(client.connect(), wait_s + 1):
            raise DeviceUnavailable(f"cannot connect to {host}:{port}")
        method = client.read_holding_registers if table == "holding" else client.read_input_registers
        try:
            response = await asyncio.wait_for(method(address, count=count, device_id=unit), wait_s + 0.5)
        except (TimeoutError, ModbusException) as exc:
            raise DeviceUnavailable(
                f"no answer from {where} within {wait_s:g} s ({exc or 'timeout'})"
            ) from None
        if response.isError():
            code = getattr(response, "exception_code", "?")
            raise DeviceRejected(f"{where} answered {exception_text(code)} to reading {table} {address}..")
        return [int(r) for r in response.registers]
    except (OSError, TimeoutError) as exc:
        raise DeviceUnavailable(f"cannot connect to {host}:{port}: {exc}") from None
    finally:
        client.close()
