"""Sparkplug B DDATA against JSON v1 data envelopes: decode and encode rates for the same samples.

Run: python -m bench.bench_sparkplug [--messages N] [--per-message M] [--seconds S]
Builds N messages of M samples each (a float value, a source timestamp, a quality; one sample in
ten uncertain or bad), once as JSON v1 `data` envelopes and once as Sparkplug DDATA by alias
without datatypes (as an edge node sends them; the decoder gets the BIRTH's datatype table), then
times each codec over all of them, best of three, in one process. Figures are samples/s; the
ceiling of each Sparkplug figure is the JSON v1 rate of the same operation measured in the same
run, plus, for decode, a bare protobuf parse of the same bytes (the least our typed layer can cost).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

import wire
from bench.report import emit
from wire import sparkplug as sp
from wire.sparkplug import DataType, Metric, Payload
from wire.sparkplug._generated import sparkplug_b_pb2 as pb

T0_MS = 1_780_000_000_000


def build(messages: int, per_message: int) -> tuple[list[wire.Data], list[Payload]]:
    rng = random.Random(7)
    envelopes, payloads = [], []
    for i in range(messages):
        samples: list[Any] = []
        metrics = []
        for j in range(per_message):
            ts_ms = T0_MS + i * 1000 + j
            value = round(rng.uniform(0, 500), 3)
            quality = rng.choice((1, 2)) if rng.random() < 0.1 else 0
            samples.append((f"p{j}", ts_ms * 1_000_000, value, quality))
            props = {sp.QUALITY: sp.quality_property(quality)} if quality else None
            metrics.append(Metric(DataType.DOUBLE, value, alias=j, timestamp=ts_ms, properties=props))
        envelopes.append(
            wire.Data(gw="gw1", dev="m1", seq=i, sent=(T0_MS + i * 1000) * 1_000_000, samples=samples)
        )
        payloads.append(Payload(timestamp=T0_MS + i * 1000, metrics=tuple(metrics), seq=i % 256))
    return envelopes, payloads


def rate(work: Callable[[], object], items: int, seconds: float) -> float:
    """Items per second of `work` (which handles `items` items), best of three rounds of `seconds`."""
    best = 0.0
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while True:
            work()
            done += items
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, done / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--per-message", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()

    envelopes, payloads = build(args.messages, args.per_message)
    datatypes: dict[int | str, DataType] = {j: DataType.DOUBLE for j in range(args.per_message)}
    json_bytes = [wire.encode(e) for e in envelopes]
    sp_bytes = [sp.encode_payload(p, with_datatypes=False) for p in payloads]
    # The same samples either way: check before timing anything.
    for raw, data in zip(json_bytes[:50], sp_bytes[:50], strict=True):
        env = wire.decode(raw)
        assert isinstance(env, wire.Data)
        decoded = sp.decode_payload(data, datatypes=datatypes)
        assert [s[2] for s in env.samples] == [m.value for m in decoded.metrics]
        assert [s[3] for s in env.samples] == [sp.quality_of(m) for m in decoded.metrics]
    n = args.messages * args.per_message
    print(
        f"  {args.messages} messages x {args.per_message} samples; bytes/sample: "
        f"JSON v1 {sum(map(len, json_bytes)) / n:.1f}, Sparkplug DDATA {sum(map(len, sp_bytes)) / n:.1f}",
        flush=True,
    )

    json_decode = rate(lambda: [wire.decode(b) for b in json_bytes], n, args.seconds)
    raw_parse = rate(lambda: [list(pb.Payload.FromString(b).metrics) for b in sp_bytes], n, args.seconds)
    sp_decode = rate(lambda: [sp.decode_payload(b, datatypes=datatypes) for b in sp_bytes], n, args.seconds)
    json_encode = rate(lambda: [wire.encode(e) for e in envelopes], n, args.seconds)
    sp_encode = rate(lambda: [sp.encode_payload(p, with_datatypes=False) for p in payloads], n, args.seconds)

    emit("Sparkplug DDATA decode", sp_decode, "samples/s", json_decode, "JSON v1 wire.decode")
    emit("Sparkplug DDATA decode", sp_decode, "samples/s", raw_parse, "bare protobuf parse")
    emit("Sparkplug DDATA encode", sp_encode, "samples/s", json_encode, "JSON v1 wire.encode")


if __name__ == "__main__":
    main()
