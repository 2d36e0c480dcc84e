"""The Modbus adapter and `gateway probe` against a libmodbus slave (a Modbus implementation this
project did not write): every dtype in every byte and word order decodes exactly, with the words
laid out here by `struct`, independently of the adapter's codec."""

from __future__ import annotations

import asyncio
import random
import struct
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from adapters import registry
from adapters.modbus.address import modbus_of
from devicemodel.devicetype import PointSpec
from gateway.cli import app
from tests.adapters.devices import ALL_DTYPES, device_type, instance, random_raw, same
from tests.independent.servers import LibmodbusSlave

ALL_DT = device_type(ALL_DTYPES)
FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "int64": ">q", "float32": ">f",
           "float64": ">d"}  # fmt: skip
TABLE = {"holding": "h", "input": "i", "coil": "c", "discrete": "d"}


def layout(data: bytes, byte_order: str, word_order: str) -> list[int]:
    """Register words of big-endian bytes: low word first for word_order little, bytes swapped
    in each word for byte_order little (ABCD, CDAB, BADC, DCBA)."""
    pairs = [data[i : i + 2] for i in range(0, len(data), 2)]
    if word_order == "little":
        pairs.reverse()
    if byte_order == "little":
        pairs = [p[::-1] for p in pairs]
    return [int.from_bytes(p, "big") for p in pairs]


def words_of(point: PointSpec, value: Any) -> list[tuple[str, int, int]]:
    mb = modbus_of(point)
    assert mb is not None
    table = TABLE[mb.table]
    if mb.table in ("coil", "discrete"):
        return [(table, mb.address, int(bool(value)))]
    if mb.bit is not None:
        return [(table, mb.address, int(bool(value)) << mb.bit)]
    if point.dtype == "string":
        data = str(value).encode().ljust(2 * (mb.length or 0), b"\0")
        return [(table, mb.address + i, w) for i, w in enumerate(layout(data, mb.byte_order, "big"))]
    data = struct.pack(FORMATS[point.dtype], value)
    return [(table, mb.address + i, w) for i, w in enumerate(layout(data, mb.byte_order, mb.word_order))]


async def test_every_dtype_and_order_from_a_libmodbus_slave(tmp_path: Path) -> None:
    rng = random.Random(12)
    truth: dict[str, Any] = {}
    words: list[tuple[str, int, int]] = []
    bits: dict[tuple[str, int], int] = {}
    for point in ALL_DT.points:
        truth[point.name] = random_raw(point, rng)
        for table, address, word in words_of(point, truth[point.name]):
            if modbus_of(point) is not None and modbus_of(point).bit is not None:  # bits share a word
                bits[(table, address)] = bits.get((table, address), 0) | word
            else:
                words.append((table, address, word))
    words += [(t, a, w) for (t, a), w in bits.items()]
    slave = LibmodbusSlave(tmp_path, words)
    slave.start()
    try:
        endpoint = registry.get("modbus").endpoint_model.model_validate(
            {"host": "127.0.0.1", "port": slave.port, "unit_id": 1}
        )
        conn = registry.get("modbus").factory(instance("dev-1", ALL_DT, endpoint))
        got = {r.point: r for r in await conn.read_once([p.name for p in ALL_DT.points])}
        await conn.close()
        for name, value in truth.items():
            assert got[name].quality == 0 and same(got[name].value, value), (name, got[name], value)
        result = await asyncio.to_thread(
            CliRunner().invoke,
            app,
            ["probe", f"modbus://127.0.0.1:{slave.port}", "--address", "2", "--count", "2"],
        )
        assert result.exit_code == 0, result.output
        assert f"int32    CDAB  byte_order: big    word_order: little {truth['i32_cdab']}" in result.output
        refused = await asyncio.to_thread(
            CliRunner().invoke, app, ["probe", f"modbus://127.0.0.1:{slave.port}", "--address", "3000"]
        )
        assert refused.exit_code == 1 and "exception 2 (illegal data address)" in refused.output
    finally:
        slave.stop()
