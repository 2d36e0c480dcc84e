"""No envelope larger than the broker accepts: batches are split, a sample too large alone is refused
and counted, a birth too large is a config error; a poison command is answered, never raised."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from gateway.commands import CommandHandler
from gateway.config import load_config
from gateway.errors import GatewayConfigError
from gateway.runner import Gateway
from gateway.sizing import split, upper_bound
from tests.gateway.helpers import modbus_device, write_config
from wire import CommandResult, decode

LIMIT = 4096


def _gateway(tmp_path: Path, dev_type: str = "injection_molding.yaml", limit: int = LIMIT) -> Gateway:
    device = modbus_device("imm-1", port=1502, type=dev_type)
    path = write_config(tmp_path, "mqtt://127.0.0.1:1", [device], mqtt={"max_message_bytes": limit})
    return Gateway(load_config(path), connect_devices=False)


def _built(gateway: Gateway, samples: list[tuple[str, int, object, int]]) -> list[bytes]:
    builders = gateway.envelopes.data("imm-1", samples)  # type: ignore[arg-type]
    return [b(2**63 - 1 - i).payload for i, b in enumerate(builders)]


def test_a_batch_too_large_for_one_envelope_is_split_in_order(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path)
    now = time.time_ns()
    samples = [("mold_id", now + i, f"M{i:04d}" * 5, 0) for i in range(400)] + [("cycle_time", now, 1.5, 0)]
    payloads = _built(gateway, samples)  # type: ignore[arg-type]
    assert len(payloads) > 1 and all(len(p) <= LIMIT for p in payloads)
    carried = [tuple(s) for p in payloads for s in decode(p).samples]  # type: ignore[union-attr]
    assert carried == samples, "every sample, once, in order"


def test_a_sample_too_large_alone_is_refused_and_counted(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path)
    now = time.time_ns()
    samples = [
        ("cycle_time", now, 1.0, 0),
        ("mold_id", now, "x" * 10_000, 0),
        ("cycle_time", now + 1, 2.0, 0),
    ]
    payloads = _built(gateway, samples)  # type: ignore[arg-type]
    kept = [s for p in payloads for s in decode(p).samples]  # type: ignore[union-attr]
    assert kept == [samples[0], samples[2]]
    assert gateway.metrics.oversized_samples.labels("imm-1")._value.get() == 1


def test_numeric_batches_take_the_quick_bound(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path, "cnc_machine.yaml", limit=1024 * 1024)
    samples = [("spindle_speed", time.time_ns() + i, 1.0e300 * (i + 1), 0) for i in range(10_000)]
    [payload] = _built(gateway, samples)  # type: ignore[arg-type]
    assert len(payload) <= upper_bound(samples, len("spindle_speed"))  # type: ignore[arg-type]
    assert len(decode(payload).samples) == 10_000  # type: ignore[union-attr]


def test_split_is_exact_about_its_limit() -> None:
    parts, refused = split([("a", 1, i, 0) for i in range(10)], 3, lambda part: len(part))
    assert [len(p) for p in parts] == [2, 3, 2, 3] and refused == []


def test_a_birth_larger_than_the_broker_accepts_is_a_config_error(tmp_path: Path) -> None:
    points = [
        {"name": f"temperature_{i:03d}", "kind": "analog", "dtype": "float32", "unit": "degC",
         "modbus": {"table": "input", "address": 2 * i}}
        for i in range(60)
    ]  # fmt: skip
    wide = {"type": "furnace", "industry": "C31", "sector": "process", "points": points}
    (tmp_path / "wide.yaml").write_text(yaml.safe_dump(wide))
    with pytest.raises(GatewayConfigError, match=r"device imm-1: its birth takes \d+ bytes, more than"):
        _gateway(tmp_path, "wide.yaml", limit=4096)


async def test_a_command_nested_a_thousand_deep_is_answered_not_raised(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, "mqtt://127.0.0.1:1", [modbus_device("m1", port=1502)]))
    handler = CommandHandler(cfg, {})
    deep = b"[" * 1000 + b"]" * 1000
    payload = (
        b'{"schema":"plantproof.cmd/1","id":"r1","dev":"m1","op":"ping","sent":1,"args":{"x":' + deep + b"}}"
    )
    answer = await handler.handle("pp/v1/site1/gw1/m1/cmd", payload)
    assert isinstance(answer.result, CommandResult) and answer.result.ok is False
    assert answer.op == "invalid" and "nesting deeper than" in (answer.result.error or "")
    huge = b'{"schema":"plantproof.cmd/1","id":"r2","dev":"m1","op":"write_setpoint","sent":1,'
    huge += b'"args":{"point":"feed_override","value":1' + b"0" * 400 + b"}}"
    answer = await handler.handle("pp/v1/site1/gw1/m1/cmd", huge)  # float() of it overflows
    assert answer.result.ok is False and answer.result.id == "r2"
