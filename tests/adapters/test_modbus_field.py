"""Modbus devices as they are in the field, against a real pymodbus server: request size caps,
pauses between requests and after connecting, errors in plain words, prompt recovery."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time

import pytest

from adapters.base import QUALITY_BAD
from tests.adapters.devices import BlackholeServer, ModbusTestServer, Recorder, eventually, same
from tests.adapters.test_modbus import ALL_DT, CNC_DT, after, connect, running

READS = {1, 2, 3, 4}


class Requests:
    """What the server received: (monotonic time, function code, count) per read request."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, int, int]] = []
        self.connected: list[float] = []

    def packet(self, sending: bool, data: bytes) -> bytes:
        if not sending and len(data) >= 12 and data[7] in READS:
            self.seen.append((time.monotonic(), data[7], int.from_bytes(data[10:12], "big")))
        return data

    def connect(self, connected: bool) -> None:
        if connected:
            self.connected.append(time.monotonic())


async def test_request_caps_and_pauses() -> None:
    seen = Requests()
    srv = ModbusTestServer({2: ALL_DT}, trace_packet=seen.packet, trace_connect=seen.connect)
    await srv.start()
    try:
        truth = await srv.fill_random(2, random.Random(7))
        rec = Recorder()
        conn = connect(
            "dev-2", srv.port, 2, ALL_DT, interval_s=0.05,
            max_registers_per_read=8, max_bits_per_read=3, request_gap_ms=40, connect_delay_ms=300,
        )  # fmt: skip
        async with running(conn, rec):
            await rec.wait_for(lambda r: len(r.batches) >= 3)
        latest = rec.latest()
        assert all(same(latest[k].value, v) and latest[k].quality == 0 for k, v in truth.items())
        registers = [n for _, fc, n in seen.seen if fc in (3, 4)]
        bits = [n for _, fc, n in seen.seen if fc in (1, 2)]
        assert registers and max(registers) <= 8 and bits and max(bits) <= 3
        times = [t for t, _, _ in seen.seen]
        # lower bounds only: a slow machine makes the pauses longer, never shorter
        assert min(b - a for a, b in itertools.pairwise(times)) >= 0.040 * 0.9
        assert times[0] - seen.connected[0] >= 0.300 * 0.9
    finally:
        await srv.stop()


async def test_errors_in_plain_words(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="adapters")
    hole = BlackholeServer()
    await hole.start()
    srv = ModbusTestServer({2: ALL_DT}, registers=100)  # far_u16 at 500 does not exist
    await srv.start()
    try:
        silent = connect("silent", hole.port, 1, CNC_DT, timeout=0.3, backoff_initial=0.05, backoff_max=0.1)
        async with running(silent, Recorder()):
            await eventually(lambda: silent.status.read_errors >= 5, what="five timeouts")
        assert silent.status.reason == "timeout"
        lines = [r.getMessage() for r in caplog.records if "no answer" in r.getMessage()]
        assert len(lines) == 1, lines  # the same failure is one line, not one per retry
        assert f"no answer from unit 1 at 127.0.0.1:{hole.port} within 0.3 s (reading " in lines[0]
        caplog.clear()
        dev = connect("dev-2", srv.port, 2, ALL_DT, interval_s=0.05)
        rec = Recorder()
        async with running(dev, rec):
            await rec.wait_for(lambda r: len(r.batches) >= 4)
        assert rec.latest()["far_u16"].quality == QUALITY_BAD
        lines = [r.getMessage() for r in caplog.records if "far_u16" in r.getMessage()]
        assert len(lines) == 1, lines
        assert "answered exception 2 (illegal data address) to reading holding registers 500" in lines[0]
    finally:
        await hole.stop()
        await srv.stop()


async def test_wrong_unit_is_reported_as_not_answering() -> None:
    srv = ModbusTestServer({1: CNC_DT})
    await srv.start()
    try:
        conn = connect("cnc", srv.port, 9, CNC_DT, timeout=0.3, backoff_initial=0.05, backoff_max=0.1)
        async with running(conn, Recorder()):
            await eventually(lambda: conn.status.read_errors >= 2, what="the wrong unit to fail")
        assert conn.status.stale and conn.status.reason in ("timeout", "no_answer", "exception")
        assert "unit 9" in (conn.status.last_error or "")
    finally:
        await srv.stop()


async def test_recovery_after_an_outage_resets_the_backoff(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="adapters")
    srv = ModbusTestServer({1: CNC_DT})
    await srv.start()
    rec = Recorder()
    conn = connect(
        "cnc", srv.port, 1, CNC_DT, interval_s=0.05, timeout=0.3, backoff_initial=0.1, backoff_max=2
    )
    try:
        async with running(conn, rec):
            await rec.wait_for(after(0))
            await srv.stop()
            await eventually(lambda: conn.status.read_errors >= 4, within=30, what="backoff to grow")
            assert conn._backoff.attempts >= 3  # type: ignore[attr-defined]
            await srv.start()
            back = asyncio.get_running_loop().time()
            mark = len(rec.batches)
            await rec.wait_for(after(mark), within=30)
            print(f"Modbus data resumed {asyncio.get_running_loop().time() - back:.1f} s after the server")
            assert conn._backoff.attempts == 0  # type: ignore[attr-defined]
        assert any("cnc back after" in r.getMessage() for r in caplog.records)
    finally:
        await srv.stop()
