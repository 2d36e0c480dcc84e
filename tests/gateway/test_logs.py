"""Gateway logs: one line per event, protocol libraries at WARNING, repeats held back, text or JSON."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway import logs


@pytest.fixture()
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    root = logging.getLogger()
    level = root.level
    yield out
    for handler in list(root.handlers):
        if handler.get_name() == "plantproof":
            root.removeHandler(handler)
    root.setLevel(level)


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_protocol_libraries_at_warning_and_every_record_one_line(stream: io.StringIO) -> None:
    logs.configure("INFO", "text", stream=stream)
    logging.getLogger("asyncua.client.ua_client").info("a 23 KB record %s", "x" * 20_000)
    logging.getLogger("pymodbus.logging").debug("SEND: 0x0 0x1 0x0 0x0")
    logging.getLogger("asyncua.client.ua_client").warning("ServiceFault (%s)", "BadTimeout")
    logging.getLogger("plantproof.gateway").info("device %s connected", "cnc-01")
    try:
        raise ValueError("line one\nline two")
    except ValueError:
        logging.getLogger("plantproof.gateway").exception("device %s: connection task failed", "cnc-01")
    out = lines(stream)
    assert len(out) == 3, out
    assert "ServiceFault (BadTimeout)" in out[0] and "device cnc-01 connected" in out[1]
    assert "ValueError: line one | line two (at test_logs.py:" in out[2]


def test_repeats_are_held_back_and_counted(stream: io.StringIO) -> None:
    limit = logs.configure("INFO", "text", stream=stream, window_s=3600)
    log = logging.getLogger("plantproof.gateway")
    for delay in (1.0, 2.0, 4.0, 8.0):
        log.warning("device %s: no answer; retrying in %.1f s", "mb-1", delay)
    log.warning("device %s: no answer; retrying in %.1f s", "mb-2", 1.0)  # another device: another event
    for i in range(5):
        logging.getLogger("asyncua.client").warning("close_secure_channel was called (%d)", i)
    assert len(lines(stream)) == 3
    assert limit.suppressed == 3 + 4 and logs.suppressed() == 7
    limit.window_s = 0  # the window passes: the next one says how many were held back
    log.warning("device %s: no answer; retrying in %.1f s", "mb-1", 16.0)
    assert "(3 more like it held back in the last 0 s)" in lines(stream)[-1]


def test_bounded_event_table() -> None:
    limit = logs.RateLimit(window_s=3600, max_events=10)
    for i in range(100):
        record = logging.LogRecord("plantproof.x", logging.WARNING, __file__, 1, "event %s", (f"e{i}",), None)
        assert limit.filter(record)
    assert len(limit._seen) == 10


def test_json_lines(stream: io.StringIO) -> None:
    logs.configure("INFO", "json", stream=stream)
    logging.getLogger("plantproof.gateway").warning("device %s back after %.0f s", "cnc-01", 14.2)
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("plantproof.gateway").exception("boom")
    first, second = (json.loads(line) for line in lines(stream))
    assert first["msg"] == "device cnc-01 back after 14 s" and first["level"] == "WARNING"
    assert first["logger"] == "plantproof.gateway" and first["ts"].endswith("Z")
    assert second["exc"].startswith("ZeroDivisionError: division by zero (at test_logs.py:")
