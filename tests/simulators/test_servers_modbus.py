"""The Modbus simulator server, read by an independent client (Debian's mbpoll) and by pymodbus."""

import asyncio
import math
import re
import shutil
import struct
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient

from adapters.modbus.address import modbus_of, register_count
from devicemodel.devicetype import DeviceType, PointSpec
from devicemodel.loader import load_device_type
from simulators.servers import (
    EngValue,
    SimServerError,
    StaticDevice,
    quantize_raw,
    state_code,
    to_engineering,
    to_raw,
)
from simulators.servers.modbus import SimModbusServer
from simulators.servers.rtu import SimModbusRtuServer
from tests.simulators import DEVICE_YAMLS, EXOTIC, ROOT, source_for

MBPOLL = shutil.which("mbpoll")
pytestmark = pytest.mark.skipif(MBPOLL is None, reason="mbpoll is not installed")
T0 = 1_760_000_123_456_000_000
_LINE = re.compile(r"^\[(\d+)\]:\s+(\S+)", re.M)
_FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "int64": ">q",
            "float32": ">f", "float64": ">d"}  # fmt: skip
TABLE_TYPE = {"coil": "0", "discrete": "1", "input": "3:hex", "holding": "4:hex"}


async def mbpoll(port: int | str, unit: int, *args: str, timeout_s: float = 5.0) -> tuple[int, str]:
    """Run mbpoll once (0-based addresses) on a TCP port or an RTU device path; return code and output."""
    assert MBPOLL is not None
    target = (
        ["-m", "tcp", "-p", str(port), "127.0.0.1"]
        if isinstance(port, int)
        else ["-m", "rtu", "-b", "19200", "-P", "none", port]
    )
    proc = await asyncio.create_subprocess_exec(
        MBPOLL, "-a", str(unit), "-0", "-1", "-o", str(timeout_s), *target,
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out.decode(errors="replace")


async def mbpoll_read(port: int | str, unit: int, table: str, start: int, count: int) -> dict[int, str]:
    rc, out = await mbpoll(port, unit, "-t", TABLE_TYPE[table], "-r", str(start), "-c", str(count))
    assert rc == 0, out
    return {int(a): v for a, v in _LINE.findall(out)}


def decode(point: PointSpec, words: list[int]) -> bool | int | float | str:
    """The test's own decoding of a point's registers, straight from the YAML's meaning."""
    mb = modbus_of(point)
    assert mb is not None
    if mb.bit is not None:
        return bool(words[0] >> mb.bit & 1)
    pairs = [w.to_bytes(2, "big") for w in words]
    if mb.byte_order == "little":
        pairs = [p[::-1] for p in pairs]
    if point.dtype == "string":
        return b"".join(pairs).rstrip(b"\x00").decode()
    if mb.word_order == "little":
        pairs.reverse()
    value: int | float = struct.unpack(_FORMATS[point.dtype], b"".join(pairs))[0]
    return value


def engineering(point: PointSpec, raw: bool | int | float | str) -> EngValue:
    if point.kind == "state":
        return (point.states or {})[int(raw)]
    if isinstance(raw, bool | str):
        return raw
    return raw * point.scale + point.offset


async def read_device(port: int | str, unit: int, device_type: DeviceType) -> dict[str, EngValue]:
    """Every modbus point of a device, read table by table with mbpoll and decoded here."""
    tables: dict[str, dict[int, str]] = {}
    for table in ("holding", "input", "coil", "discrete"):
        points = [p for p in device_type.points if modbus_of(p) and modbus_of(p).table == table]
        if points:
            end = max(modbus_of(p).address + register_count(p) for p in points if modbus_of(p))
            tables[table] = {}
            for start in range(0, end, 100):
                tables[table].update(await mbpoll_read(port, unit, table, start, min(100, end - start)))
    got: dict[str, EngValue] = {}
    for p in device_type.points:
        if modbus_of(p) is None:
            continue
        cells = tables[modbus_of(p).table]
        if modbus_of(p).table in ("coil", "discrete"):
            got[p.name] = cells[modbus_of(p).address] == "1"
            continue
        count = 1 if modbus_of(p).bit is not None else register_count(p)
        words = [int(cells[a], 16) for a in range(modbus_of(p).address, modbus_of(p).address + count)]
        got[p.name] = engineering(p, decode(p, words))
    return got


def assert_matches(got: dict[str, EngValue], want: dict[str, EngValue], device_type: DeviceType) -> None:
    for name, value in got.items():
        if device_type.point(name).dtype.startswith("float"):
            assert isinstance(value, float)
            assert value == pytest.approx(want[name], rel=1e-12, abs=1e-12), name
        else:
            assert value == want[name], name


@pytest.mark.parametrize("type_file", [*DEVICE_YAMLS, None], ids=[*(p.stem for p in DEVICE_YAMLS), "exotic"])
async def test_mbpoll_reads_what_the_model_says(type_file: Path | None) -> None:
    device_type = load_device_type(type_file) if type_file else EXOTIC
    source = source_for(device_type, count=2)
    async with SimModbusServer(source, speed=0, t0_ns=T0) as server:
        for device in source.devices:
            want = server.expected(device.id)
            # the model's own values survive the encoding (within the register's resolution)
            model = source.values_at(device.id, T0)
            for p in device_type.points:
                if p.dtype in ("float64", "float32") or p.kind == "state" or p.dtype in ("bool", "string"):
                    continue
                assert want[p.name] == pytest.approx(model[p.name], abs=abs(p.scale) / 2 + 1e-9), p.name
            got = await read_device(server.port, device.unit_id, device_type)
            assert_matches(got, want, device_type)


async def test_mbpoll_native_32bit_decoding_agrees() -> None:
    """mbpoll's own int/float decoding (low word first by default, -B for high word first)."""
    types = [load_device_type(p) for p in DEVICE_YAMLS] + [EXOTIC]
    source = source_for(*types)
    checked = 0
    async with SimModbusServer(source, speed=0, t0_ns=T0) as server:
        for device in source.devices:
            want = server.expected(device.id)
            for p in device.device_type.points:
                mb = modbus_of(p)
                if mb is None or mb.table not in ("holding", "input") or mb.byte_order != "big":
                    continue
                if p.dtype not in ("int32", "uint32", "float32"):
                    continue
                kind = "float" if p.dtype == "float32" else "int"
                table = "4" if mb.table == "holding" else "3"
                order = ["-B"] if mb.word_order == "big" else []
                rc, out = await mbpoll(
                    server.port, device.unit_id, "-t", f"{table}:{kind}", *order, "-r", str(mb.address)
                )
                assert rc == 0, out
                text = dict(_LINE.findall(out))[str(mb.address)]
                raw: float = float(text) if kind == "float" else int(text) % 2**32
                if p.dtype == "int32" and raw >= 2**31:
                    raw -= 2**32
                value = engineering(p, raw)
                assert isinstance(value, float | int)
                assert math.isclose(value, float(want[p.name]), rel_tol=1e-5, abs_tol=abs(p.scale)), p.name
                checked += 1
    assert checked >= 3


async def test_silenced_unit_times_out_while_others_answer() -> None:
    source = source_for(EXOTIC, count=3)
    async with SimModbusServer(source, speed=0, t0_ns=T0) as server:
        server.silence_unit("generic-02")
        rc, out = await mbpoll(server.port, 2, "-r", "0", timeout_s=0.5)
        assert rc != 0 and "timed out" in out.lower(), out
        for unit in (1, 3):
            rc, out = await mbpoll(server.port, unit, "-r", "0")
            assert rc == 0, out
        server.silence_unit("generic-02", False)
        rc, out = await mbpoll(server.port, 2, "-r", "0")
        assert rc == 0, out
        assert server.stats.unanswered >= 1


async def test_unknown_unit_gets_gateway_exception() -> None:
    async with SimModbusServer(source_for(EXOTIC), speed=0, t0_ns=T0) as server:
        client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=5, retries=0)
        await client.connect()
        try:
            result = await client.read_holding_registers(0, count=1, device_id=99)
            assert result.isError() and result.exception_code == 0x0B
        finally:
            client.close()


async def test_failed_range_returns_the_exception() -> None:
    source = source_for(EXOTIC, count=2)
    async with SimModbusServer(source, speed=0, t0_ns=T0) as server:
        server.fail_range("generic-01", "holding", 2, 4, code=4)
        server.fail_range("generic-01", "input", 0, 2)
        rc, out = await mbpoll(server.port, 1, "-t", "4:hex", "-r", "1", "-c", "2")
        assert rc != 0 and "failure" in out.lower(), out  # exception 4: slave device failure
        rc, out = await mbpoll(server.port, 1, "-t", "3:hex", "-r", "1", "-c", "1")
        assert rc != 0 and "illegal data address" in out.lower(), out
        rc, out = await mbpoll(server.port, 1, "-t", "4:hex", "-r", "0", "-c", "2")  # just before the range
        assert rc == 0, out
        rc, out = await mbpoll(server.port, 2, "-t", "4:hex", "-r", "2", "-c", "4")  # the other unit
        assert rc == 0, out
        client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=5, retries=0)
        await client.connect()
        try:
            result = await client.read_holding_registers(5, count=1, device_id=1)
            assert result.isError() and result.exception_code == 4
            # reading past the device's last register is an illegal address, as on a real device
            result = await client.read_holding_registers(30, count=3, device_id=2)
            assert result.isError() and result.exception_code == 2
        finally:
            client.close()
        server.fail_range("generic-02", "coil", 0, 8, code=None)  # no answer at all
        rc, out = await mbpoll(server.port, 2, "-t", "0", "-r", "3", timeout_s=0.5)
        assert rc != 0 and "timed out" in out.lower(), out
        rc, out = await mbpoll(server.port, 2, "-t", "1", "-r", "7")  # the unit's other tables answer
        assert rc == 0, out
        server.clear_faults()
        rc, out = await mbpoll(server.port, 1, "-t", "4:hex", "-r", "2", "-c", "4")
        assert rc == 0, out
    with pytest.raises(SimServerError, match="exception code"):
        server.fail_range("generic-01", "holding", 0, 1, code=99)


async def test_restart_on_the_same_port() -> None:
    server = SimModbusServer(source_for(EXOTIC), speed=0, t0_ns=T0)
    await server.start()
    try:
        port = server.port
        assert (await mbpoll(port, 1, "-r", "0"))[0] == 0
        await server.stop()
        rc, out = await mbpoll(port, 1, "-r", "0", timeout_s=0.5)
        assert rc != 0, out
        await server.start()
        assert server.port == port
        rc, out = await mbpoll(port, 1, "-r", "0")
        assert rc == 0, out
    finally:
        await server.stop()


async def test_setpoints_and_coils_accept_writes_and_hold_them() -> None:
    cnc_type = load_device_type(ROOT / "configs" / "devices" / "cnc_machine.yaml")
    source = source_for(EXOTIC, cnc_type)
    async with SimModbusServer(source, speed=3600, t0_ns=T0, refresh_s=0.02) as server:
        client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=5, retries=0)
        await client.connect()
        try:
            # float32 setpoint at holding 30 (big/big), coil 3
            words = list(struct.unpack(">HH", struct.pack(">f", 42.5)))
            assert not (await client.write_registers(30, words, device_id=1)).isError()
            assert not (await client.write_coil(3, True, device_id=1)).isError()
            server.update_now()
            assert server.expected("generic-01")["speed_sp"] == 42.5
            assert server.expected("generic-01")["run_cmd"] is True
            assert not (await client.write_coil(3, False, device_id=1)).isError()
            # a read-only register refuses the write
            result = await client.write_register(1, 7, device_id=1)
            assert result.isError() and result.exception_code == 2
            await server.wait_refresh(3)  # the model moves on; the setpoint holds
            regs = await client.read_holding_registers(30, count=2, device_id=1)
            assert struct.unpack(">f", struct.pack(">HH", *regs.registers))[0] == 42.5
            bits = await client.read_coils(3, count=1, device_id=1)
            assert bits.bits[0] is False
            # mbpoll writes the YAML's uint16 setpoint (feed_override, holding 10)
            sp = cnc_type.point("feed_override")
            assert modbus_of(sp) is not None and sp.writable
            rc, out = await mbpoll(server.port, 2, "-r", str(modbus_of(sp).address), "--", "77")
            assert rc == 0, out
            await server.wait_refresh(2)
            assert server.expected("cnc_machine-02")[sp.name] == engineering(sp, 77)
            regs = await client.read_holding_registers(modbus_of(sp).address, count=1, device_id=2)
            assert regs.registers == [77]
        finally:
            client.close()


async def test_values_advance_with_scaled_time() -> None:
    source = source_for(EXOTIC)
    total = EXOTIC.point("total")  # uint16 counter, 10 counts per model second
    async with SimModbusServer(source, speed=100, t0_ns=T0, refresh_s=0.02) as server:
        client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=5, retries=0)
        await client.connect()
        try:
            t_first = server.model_ns
            first = (await client.read_holding_registers(1, count=1, device_id=1)).registers[0]
            while server.model_ns < t_first + 5 * 10**9:  # five model seconds
                await server.wait_refresh()
            t_before = server.model_ns
            second = (await client.read_holding_registers(1, count=1, device_id=1)).registers[0]
            t_after = server.model_ns
        finally:
            client.close()
        assert (second - first) % 2**16 >= 40
        low = server.expected("generic-01", t_before)["total"]
        high = server.expected("generic-01", t_after)["total"]
        got = engineering(total, second)
        assert isinstance(low, float) and isinstance(high, float) and isinstance(got, float)
        assert low <= got <= high or high < low  # (or a wrap between the two)


def test_bad_configurations_are_refused() -> None:
    src = source_for(EXOTIC, count=2)
    with pytest.raises(SimServerError, match="any_unit"):
        SimModbusServer(src, any_unit=True)
    with pytest.raises(SimServerError, match="unknown device"):
        SimModbusServer(src, devices=["nope"])
    with pytest.raises(SimServerError, match="speed"):
        SimModbusServer(src, speed=-1)


async def test_cli_serves_a_plant_scenario() -> None:
    """`plantproof sim modbus` on a real scenario: every point of every device, read with mbpoll."""
    from simulators.serve_cli import build_source
    from simulators.servers import expected_values

    start = "2026-03-03T09:30:00"
    source, t0 = build_source("test-small", None, start, 24)
    exe = Path(sys.executable).with_name("plantproof")
    proc = await asyncio.create_subprocess_exec(
        str(exe), "sim", "modbus", "--plant", "test-small", "--port", "0", "--speed", "0",
        "--start", start, "--hours", "24", "--duration", "120",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        units: dict[str, tuple[int, int]] = {}
        while len(units) < len(source.devices):
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line, "the server exited early"
            match = re.match(r"modbus tcp 127\.0\.0\.1:(\d+) unit (\d+) -> (\S+)", line)
            if match:
                units[match.group(3)] = (int(match.group(1)), int(match.group(2)))

        for device in source.devices:
            port, unit = units[device.id]
            assert unit == device.unit_id
            want = expected_values(device.device_type, source.values_at(device.id, t0), {})
            got = await read_device(port, unit, device.device_type)
            assert_matches(got, want, device.device_type)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0


async def test_rtu_line_serves_every_point_and_silenced_units_time_out() -> None:
    types = [EXOTIC, *(load_device_type(p) for p in DEVICE_YAMLS[:1])]
    source = source_for(*types, count=2)
    async with SimModbusRtuServer(source, speed=0, t0_ns=T0) as server:
        for device in source.devices:
            got = await read_device(server.client_path, device.unit_id, device.device_type)
            assert_matches(got, server.expected(device.id), device.device_type)
        server.silence_unit(source.devices[0].id)
        rc, out = await mbpoll(server.client_path, 1, "-r", "0", timeout_s=0.5)
        assert rc != 0 and "timed out" in out.lower(), out
        rc, out = await mbpoll(server.client_path, 9, "-r", "0", timeout_s=0.5)  # nobody answers for 9
        assert rc != 0 and "timed out" in out.lower(), out
        rc, out = await mbpoll(server.client_path, 2, "-r", "0")
        assert rc == 0, out
        await server.stop()  # the device leaves the line; the line stays
        rc, out = await mbpoll(server.client_path, 2, "-r", "0", timeout_s=0.5)
        assert rc != 0, out
        await server.start()
        rc, out = await mbpoll(server.client_path, 2, "-r", "0")
        assert rc == 0, out
        assert server.line.dropped == 0


async def test_port_per_device_answers_any_unit_id() -> None:
    source = source_for(EXOTIC, count=2)
    first, second = source.devices
    async with (
        SimModbusServer(source, speed=0, t0_ns=T0, devices=[first.id], any_unit=True) as one,
        SimModbusServer(source, speed=0, t0_ns=T0, devices=[second.id], any_unit=True) as two,
    ):
        assert one.port != two.port and list(two.unit_ids) == [second.id]
        for unit in (1, 2, 17):
            got = await read_device(two.port, unit, EXOTIC)
            assert_matches(got, two.expected(second.id), EXOTIC)
        assert one.expected(first.id) != two.expected(second.id)


def test_raw_mapping_rules() -> None:
    mode, total = EXOTIC.point("mode"), EXOTIC.point("total")
    assert state_code(mode, "running") == 10  # the first device code mapped to the state
    assert state_code(mode, "idle") == 20
    unmapped = state_code(mode, "setup")  # no code for it, nor for unknown_stop: an unmapped code
    assert unmapped not in (mode.states or {}) and to_engineering(mode, unmapped) == "unknown_stop"
    assert to_raw(total, 65536 + 5) == 5  # an unsigned counter wraps like the register
    level = EXOTIC.point("level")  # int32, scale 0.001, offset -5: clamps, never raises
    assert to_raw(level, 1e12) == 2**31 - 1
    assert to_raw(level, -4.9996) == 0  # (-4.9996 + 5) / 0.001 = 0.4 -> rounds to 0
    assert (to_raw(level, math.inf), to_raw(level, -math.inf), to_raw(level, math.nan)) == (
        2**31 - 1,
        -(2**31),
        0,
    )
    assert quantize_raw(EXOTIC.point("press"), 0.1) == struct.unpack(">f", struct.pack(">f", 0.1))[0]
    assert quantize_raw(EXOTIC.point("tag"), "a-much-too-long-tag") == "a-much-t"  # 4 registers


class FlakySource:
    """Injects a model fault: values_at raises while `broken` is set."""

    def __init__(self) -> None:
        self.inner = source_for(EXOTIC, count=2)
        self.broken = False

    @property
    def devices(self) -> Sequence[StaticDevice]:
        return self.inner.devices

    def values_at(self, device_id: str, t_ns: int) -> Mapping[str, EngValue]:
        if self.broken:
            raise RuntimeError("model fault")
        return self.inner.values_at(device_id, t_ns)


async def test_a_failing_model_does_not_stop_the_server() -> None:
    source = FlakySource()
    async with SimModbusServer(source, speed=10, t0_ns=T0, refresh_s=0.02) as server:
        source.broken = True
        for _ in range(1500):  # up to ~30 s on a loaded machine
            if server.stats.refresh_errors >= 3:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the refresh task stopped")
        rc, out = await mbpoll(server.port, 2, "-r", "0", "-c", "2")  # still answers (last good image)
        assert rc == 0, out
        source.broken = False
        await server.wait_refresh(2)
        rc, out = await mbpoll(server.port, 1, "-r", "0", "-c", "2")
        assert rc == 0, out
