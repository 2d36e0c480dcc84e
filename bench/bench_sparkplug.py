"""Sparkplug B DDATA against JSON v1 data envelopes: decode, encode, and decode + store rates for the
same samples.

Run: python -m bench.bench_sparkplug [--messages N] [--per-message M] [--seconds S] [--batch B] [--plain]
Builds N messages of M samples each (a float value, a source timestamp, a quality; one sample in
ten uncertain or bad), once as JSON v1 `data` envelopes and once as Sparkplug DDATA by alias
without datatypes (as an edge node sends them; the decoder gets the BIRTH's datatype table), then
times each codec over all of them, best of three, in one process. Then both are stored, after their
births, through the collector's own pipeline (`Pipeline._prepare` then `_write`: v1 parsing, or the
Sparkplug host and its session saving, then the store's transaction) into two databases of one
PostgreSQL started for the run, in batches of B messages, a v1 batch and a Sparkplug batch in turn
so that both see the same machine; no broker (bench_ingest measures MQTT). Figures are samples/s;
the ceiling of each Sparkplug figure is the JSON v1 rate of the same operation measured in the same
run, plus, for decode, a bare protobuf parse of the same bytes (the least our typed layer can cost).
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import psycopg

import wire
from bench.report import emit
from collector.decode import Message
from collector.ingest import Pipeline
from collector.migrate import migrate
from collector.settings import load_settings
from plantproof.embedded import PostgresServer
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


SITE, GROUP, GW, EDGE, DEV = "bench", "bench", "gw1", "edge1", "m1"
PROPERTIES = {"type": "cnc_machine", "industry": "C34", "sector": "discrete"}


def v1_messages(envelopes: list[wire.Data], per_message: int) -> list[Message]:
    """The device's birth, then its data envelopes (numbered after it)."""
    points = [wire.PointInfo(f"p{j}", "analog", "float64") for j in range(per_message)]
    birth = wire.Birth(GW, DEV, 0, T0_MS * 1_000_000, wire.DeviceInfo(**PROPERTIES), points)  # type: ignore[arg-type]
    out = [Message(wire.device_topic(SITE, GW, DEV, "birth"), wire.encode(birth))]
    for e in envelopes:
        e = msgspec.structs.replace(e, seq=e.seq + 1)
        out.append(Message(wire.device_topic(SITE, GW, DEV, "data"), wire.encode(e)))
    return out


def sparkplug_messages(payloads: list[Payload], per_message: int) -> list[Message]:
    """NBIRTH, DBIRTH (the metrics by alias), then the DDATA numbered after them, as an edge node."""
    ts = T0_MS - 1000
    nbirth = Payload(timestamp=ts, metrics=(sp.bdseq_metric(0, ts), sp.rebirth_metric(ts)), seq=0)
    props = tuple(Metric(DataType.STRING, v, name=f"Properties/{k}") for k, v in PROPERTIES.items())
    metrics = tuple(
        Metric(DataType.DOUBLE, 0.0, name=f"p{j}", alias=j, timestamp=ts) for j in range(per_message)
    )
    dbirth = Payload(timestamp=ts, metrics=props + metrics, seq=1)
    out = [
        Message(sp.edge_topic(GROUP, sp.MessageType.NBIRTH, EDGE), sp.encode_payload(nbirth)),
        Message(sp.edge_topic(GROUP, sp.MessageType.DBIRTH, EDGE, DEV), sp.encode_payload(dbirth)),
    ]
    for i, p in enumerate(payloads):
        p = msgspec.structs.replace(p, seq=(i + 2) % sp.SEQ_MODULUS)
        out.append(
            Message(
                sp.edge_topic(GROUP, sp.MessageType.DDATA, EDGE, DEV),
                sp.encode_payload(p, with_datatypes=False),
            )
        )
    return out


def store_rates(
    v1: list[Message], spb: list[Message], expected: int, batch: int, plain: bool
) -> tuple[float, float, str]:
    """Samples/s of decode + store through the collector pipeline: (JSON v1, Sparkplug, storage)."""
    work = Path(tempfile.mkdtemp(prefix="plantproof-bench-sp-"))
    work.chmod(0o755)
    pg = PostgresServer(work / "pg", timescaledb=False if plain else None)
    pg.start()
    try:
        pipelines = []
        for _ in range(2):
            dsn = pg.create_database()
            migrate(dsn)
            settings = load_settings(None, dsn=dsn, metrics_port=None,
                                     mqtt={"sources": ["pp_v1", "sparkplug"]})  # fmt: skip
            pipelines.append(Pipeline(settings))
        seconds = [0.0, 0.0]
        samples = [0, 0]
        born = [0, 0]  # readings of the births (a DBIRTH carries its metrics' values)
        for k, messages in enumerate((v1[:1], spb[:2])):  # the births, untimed
            result = pipelines[k]._write(messages, pipelines[k]._prepare(messages))
            assert not result.dead_letters, result.dead_letters[:1]
            born[k] = result.rows
        rest = (v1[1:], spb[2:])
        for start in range(0, len(rest[0]), batch):
            for k in (0, 1):
                chunk = rest[k][start : start + batch]
                began = time.perf_counter()
                result = pipelines[k]._write(chunk, pipelines[k]._prepare(chunk))
                seconds[k] += time.perf_counter() - began
                assert not result.dead_letters, result.dead_letters[:1]
                samples[k] += result.rows
        assert samples[0] == samples[1] == expected, (samples, expected)  # every sample, either way
        for k, p in enumerate(pipelines):
            with psycopg.connect(p.settings.dsn) as conn:
                stored = conn.execute("SELECT count(*) FROM readings").fetchone()
            p.store.close()
            assert stored == (born[k] + samples[k],), (stored, born, samples)
        storage = "TimescaleDB" if pg.timescaledb else "plain PostgreSQL"
        return samples[0] / seconds[0], samples[1] / seconds[1], storage
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--per-message", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=200, help="messages per stored batch")
    parser.add_argument(
        "--plain", action="store_true", help="plain PostgreSQL even where TimescaleDB is installed"
    )
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

    v1, spb = v1_messages(envelopes, args.per_message), sparkplug_messages(payloads, args.per_message)
    v1_store, sp_store, storage = store_rates(v1, spb, n, args.batch, args.plain)
    print(
        f"  decode + store through the collector pipeline, {args.batch}-message batches; storage: {storage}"
    )
    emit(
        "Sparkplug DDATA decode + store",
        sp_store,
        "samples/s",
        v1_store,
        "JSON v1 decode + store (collector)",
    )


if __name__ == "__main__":
    main()
