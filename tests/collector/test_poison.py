"""A corpus of malformed and hostile messages, across every topic kind, sent through a real broker to
a real collector process with good traffic between them: the collector never crashes or stalls,
each bad message is one dead letter with its reason (and its payload), and every good reading is
stored.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

import wire
from tests.collector.conftest import INFO, POINTS, SITE
from tests.collector.mqttutil import Publisher, scalar, wait_until
from tests.processes import Collector, collector_config
from tests.servers import MosquittoServer

NOW = time.time_ns()
GOOD_PER_ENVELOPE = 10
MAX_PAYLOAD = 1_048_576
KEEP = 65_536


@dataclass(frozen=True)
class Case:
    name: str
    topic: str
    payload: bytes
    reason: str  # a regular expression the dead letter's error must match


def _t(kind: str, gw: str = "gw1", dev: str = "m1") -> str:
    return f"pp/v1/{SITE}/{gw}/{dev}/{kind}"


def _j(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _data(seq: int, samples: list[list[Any]] | None = None, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema": "plantproof.data/1", "gw": "gw1", "dev": "m1", "seq": seq, "sent": NOW}
    doc["samples"] = samples if samples is not None else [["temp", NOW - 1000 * seq, 1.5, 0]]
    doc.update(fields)
    return doc


BIRTH: dict[str, Any] = json.loads(wire.encode(wire.Birth("gw1", "m1", 0, NOW, INFO, POINTS)))


def _birth(seq: int, dev: str = "m1", **fields: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BIRTH)
    doc.update(seq=seq, dev=dev, **fields)
    return doc


def _device(**fields: Any) -> dict[str, Any]:
    return {**BIRTH["device"], **fields}


def _death(seq: int, **fields: Any) -> dict[str, Any]:
    return {
        "schema": "plantproof.death/1",
        "gw": "gw1",
        "dev": "m1",
        "seq": seq,
        "sent": NOW,
        "reason": "x",
        **fields,
    }


def _cmd(**fields: Any) -> dict[str, Any]:
    return {
        "schema": "plantproof.cmd/1",
        "id": "r1",
        "dev": "m1",
        "op": "ping",
        "sent": NOW,
        "args": {},
        **fields,
    }


def _res(**fields: Any) -> dict[str, Any]:
    doc = {"schema": "plantproof.cmdres/1", "id": "r1", "gw": "gw1", "dev": "m1", "ok": True, "sent": NOW}
    return {**doc, "result": {"pong": True}, **fields}


def _deep(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def _raw(doc: dict[str, Any], key: str, text: str) -> bytes:
    """`doc` as JSON with the value of `key` replaced by raw JSON text (deep nesting, odd numbers)."""
    return json.dumps({**doc, key: "<raw>"}).replace('"<raw>"', text).encode()


def corpus() -> list[Case]:
    c: list[Case] = []
    add = lambda name, topic, payload, reason: c.append(Case(name, topic, payload, reason))  # noqa: E731
    seq = iter(range(1000, 100_000))

    def d(**fields: Any) -> bytes:
        return _j({**_data(next(seq)), **fields})

    bad_topic = r"^bad topic: "
    # -- topics ------------------------------------------------------------------------------------
    for name, topic in [
        ("too short", f"pp/v1/{SITE}"),
        ("gateway only", f"pp/v1/{SITE}/gw1"),
        ("no kind", f"pp/v1/{SITE}/gw1/m1"),
        ("unknown kind", _t("telemetry")),
        ("kind with a tail", _t("data/extra")),
        ("cmd/res with a tail", _t("cmd/res/x")),
        ("trailing slash", _t("birth/")),
        ("bad site id", "pp/v1/s!1/gw1/m1/data"),
        ("empty site", "pp/v1//gw1/m1/data"),
        ("bad gateway id", "pp/v1/s1/gw 1/m1/data"),
        ("device id starting with '-'", _t("data", dev="-m1")),
        ("non-ascii device id", _t("data", dev="mé")),
        ("device id of 65 characters", _t("data", dev="m" * 65)),
        ("unknown gateway-level topic", f"pp/v1/{SITE}/gw1/$foo"),
        ("$status at device level", _t("$status")),
        ("topic longer than 512 characters", _t("data", dev="m1/" + "a" * 600)),
    ]:
        add(f"topic: {name}", topic, d(), bad_topic)
    # -- data: JSON and schema ---------------------------------------------------------------------
    malformed = r"^invalid envelope at \$: malformed JSON"
    for name, payload in [
        ("empty payload", b""),
        ("not JSON", b"hello world"),
        ("truncated JSON", d()[:-7]),
        ("invalid UTF-8", b'{"schema": "\xff\xfe"}'),
        ("NaN literal", d().replace(b"1.5", b"NaN")),
        ("trailing garbage", d() + b" trailing"),
        ("byte order mark", b"\xef\xbb\xbf" + d()),
    ]:
        add(f"data: {name}", _t("data"), payload, malformed)
    invalid = r"^invalid envelope at "
    for name, payload, where in [
        ("JSON null", b"null", r"\$"),
        ("JSON array", b"[]", r"\$"),
        ("JSON string", b'"data"', r"\$"),
        ("missing schema", _j({k: v for k, v in _data(next(seq)).items() if k != "schema"}), r"\$\.schema"),
        ("unknown schema version", d(schema="plantproof.data/9"), r"\$\.schema"),
        ("birth schema on a data topic", _j(_birth(next(seq))), r"\$\.schema"),
        ("cmd schema on a data topic", _j(_cmd()), r"\$\.schema"),
        ("missing gw", _j({k: v for k, v in _data(next(seq)).items() if k != "gw"}), r"\$"),
        ("gw a number", d(gw=7), r"\$\.gw"),
        ("dev with a slash", d(dev="m1/x"), r"\$\.dev"),
        ("negative seq", d(seq=-1), r"\$\.seq"),
        ("seq a string", d(seq="12"), r"\$\.seq"),
        ("seq beyond int64", d(seq=2**63), r"\$\.seq"),
        ("seq a float", d(seq=1.5), r"\$\.seq"),
        ("negative sent", d(sent=-5), r"\$\.sent"),
        ("no samples", d(samples=[]), r"\$\.samples"),
        ("samples an object", d(samples={"temp": 1}), r"\$\.samples"),
        (
            "more than 10,000 samples",
            d(samples=[["temp", NOW - i, 1.0, 0] for i in range(10_001)]),
            r"\$\.samples",
        ),
        ("sample of three elements", d(samples=[["temp", NOW, 1.0]]), r"\$\.samples\[0\]"),
        ("sample of six elements", d(samples=[["temp", NOW, 1.0, 0, 1, 2]]), r"\$\.samples\[0\]"),
        ("quality 3", d(samples=[["temp", NOW, 1.0, 3]]), r"\$\.samples\[0\]\[3\]"),
        ("quality -1", d(samples=[["temp", NOW, 1.0, -1]]), r"\$\.samples\[0\]\[3\]"),
        ("negative timestamp", d(samples=[["temp", -1, 1.0, 0]]), r"\$\.samples\[0\]\[1\]"),
        ("timestamp a string", d(samples=[["temp", "now", 1.0, 0]]), r"\$\.samples\[0\]\[1\]"),
        ("empty point name", d(samples=[["", NOW, 1.0, 0]]), r"\$\.samples\[0\]\[0\]"),
        ("control character in a point name", d(samples=[["te\nmp", NOW, 1.0, 0]]), r"\$\.samples\[0\]\[0\]"),
        ("point name of 200 characters", d(samples=[["p" * 200, NOW, 1.0, 0]]), r"\$\.samples\[0\]\[0\]"),
        ("value an object", d(samples=[["temp", NOW, {"v": 1}, 0]]), r"\$\.samples\[0\]\[2\]"),
        ("value a list", d(samples=[["temp", NOW, [1], 0]]), r"\$\.samples\[0\]\[2\]"),
        (
            "value 1e400",
            _raw(_data(next(seq)), "samples", f'[["temp", {NOW}, 1e400, 0]]'),
            r"\$\.samples\[0\]\[2\]",
        ),
        ("unknown field", d(extra=1), r"\$"),
        (
            "value nested 1000 deep",
            _raw(_data(next(seq)), "samples", f'[["temp", {NOW}, {_deep(1000)}, 0]]'),
            r"\$",
        ),
    ]:
        add(f"data: {name}", _t("data"), payload, invalid + where)
    deep_first = b'{"x": ' + _deep(5000).encode() + b", " + d()[1:]
    add(
        "data: field nested 5000 deep before the schema",
        _t("data"),
        deep_first,
        r"^invalid envelope at \$: nesting",
    )
    huge = 2 * MAX_PAYLOAD + 2
    add(
        "data: oversized payload",
        _t("data"),
        b"{" + b" " * (huge - 2) + b"}",
        rf"^oversized: {huge} bytes > limit {MAX_PAYLOAD} \(payload truncated to {KEEP} of {huge} bytes\)",
    )
    add(
        "data: gw differs from the topic",
        _t("data"),
        d(gw="gw2"),
        r"^envelope gw 'gw2' differs from the topic's gateway 'gw1'$",
    )
    add(
        "data: dev differs from the topic",
        _t("data"),
        d(dev="m2"),
        r"^envelope dev 'm2' differs from the topic's device 'm1'$",
    )
    # -- data: against the registry -----------------------------------------------------------------
    add(
        "data: point not in the birth",
        _t("data"),
        d(samples=[["speed", NOW, 1.0, 0]]),
        r"point 'speed' is not in the birth",
    )
    add(
        "data: timestamp in the future",
        _t("data"),
        d(samples=[["temp", NOW + 10**15, 1.0, 0]]),
        r"outside the window",
    )
    add("data: timestamp of 1 ns", _t("data"), d(samples=[["temp", 1, 1.0, 0]]), r"outside the window")
    add(
        "data: null value of good quality",
        _t("data"),
        d(samples=[["temp", NOW, None, 0]]),
        r"null value for 'temp' needs quality 2",
    )
    add(
        "data: unknown state",
        _t("data"),
        d(samples=[["state", NOW, "flying", 0]]),
        r"'flying' is not a canonical state",
    )
    add(
        "data: string for a number",
        _t("data"),
        d(samples=[["temp", NOW, "warm", 0]]),
        r"non-numeric value 'warm'",
    )
    add(
        "data: boolean for a number",
        _t("data"),
        d(samples=[["temp", NOW, True, 0]]),
        r"boolean value for numeric point 'temp'",
    )
    add(
        "data: number for a string point",
        _t("data"),
        d(samples=[["program", NOW, 7, 0]]),
        r"'program' is a string point",
    )
    too_big = _raw(_data(next(seq)), "samples", f'[["temp", {NOW}, 1{"0" * 400}, 0]]')
    add(
        "data: integer beyond a float",
        _t("data"),
        too_big,
        r"could not be stored: OverflowError|64 bits|int64",
    )
    add(
        "data: device never born",
        _t("data", dev="m5"),
        _j(_data(next(seq), dev="m5")),
        r"no birth yet for device 'm5'",
    )
    add(
        "data: another gateway's device",
        _t("data", dev="m9"),
        _j(_data(next(seq), dev="m9")),
        r"device 'm9' at site 's1' is owned by gw2",
    )
    # -- birth ---------------------------------------------------------------------------------------
    b = lambda **kw: _j(_birth(next(seq), **kw))  # noqa: E731
    for name, payload, where in [
        ("missing device", _j({k: v for k, v in _birth(next(seq)).items() if k != "device"}), r"\$"),
        ("missing points", _j({k: v for k, v in _birth(next(seq)).items() if k != "points"}), r"\$"),
        ("no points", b(points=[]), r"\$\.points"),
        (
            "more than 10,000 points",
            b(points=[{"name": f"p{i}", "kind": "analog", "dtype": "float64"} for i in range(10_001)]),
            r"\$\.points",
        ),
        ("bad device type", b(device=_device(type="CNC Machine")), r"\$\.device\.type"),
        ("bad industry code", b(device=_device(industry="34")), r"\$\.device\.industry"),
        ("unknown sector", b(device=_device(sector="hybrid")), r"\$\.device\.sector"),
        ("unknown field in device", b(device=_device(owner="me")), r"\$\.device"),
        ("area of 2,000 characters", b(device=_device(area="a" * 2000)), r"\$\.device\.area"),
        (
            "unknown point kind",
            b(points=[{"name": "t", "kind": "temperature", "dtype": "float64"}]),
            r"\$\.points\[0\]\.kind",
        ),
        (
            "unknown dtype",
            b(points=[{"name": "t", "kind": "analog", "dtype": "int128"}]),
            r"\$\.points\[0\]\.dtype",
        ),
        (
            "unit of 2,000 characters",
            b(points=[{"name": "t", "kind": "analog", "dtype": "float64", "unit": "u" * 2000}]),
            r"\$\.points\[0\]\.unit",
        ),
        (
            "scale a string",
            b(points=[{"name": "t", "kind": "analog", "dtype": "float64", "scale": "abc"}]),
            r"\$\.points\[0\]\.scale",
        ),
        ("data schema on a birth topic", d(), r"\$\.schema"),
    ]:
        add(f"birth: {name}", _t("birth"), payload, invalid + where)
    add(
        "birth: a point twice",
        _t("birth"),
        b(points=[POINTS_JSON[0], POINTS_JSON[0]]),
        r"point 'temp' appears twice",
    )
    add("birth: gw differs from the topic", _t("birth"), b(gw="gw2"), r"^envelope gw 'gw2' differs")
    add(
        "birth: another gateway's device",
        _t("birth", dev="m9"),
        b(dev="m9"),
        r"device 'm9' at site 's1' is owned by gw2",
    )
    add(
        "birth: sent 1 ns",
        _t("birth", dev="m6"),
        b(dev="m6", sent=1),
        r"^\$\.sent: 1 ns is outside the window",
    )
    add(
        "birth: sent 2^63-1",
        _t("birth", dev="m7"),
        b(dev="m7", sent=2**63 - 1),
        r"^\$\.sent: .* outside the window",
    )
    # -- death ---------------------------------------------------------------------------------------
    for name, payload, where in [
        ("missing seq", _j({k: v for k, v in _death(0).items() if k != "seq"}), r"\$"),
        ("reason of 5,000 characters", _j(_death(next(seq), reason="r" * 5000)), r"\$\.reason"),
        ("birth schema on a death topic", b(), r"\$\.schema"),
        ("reason a number", _j(_death(next(seq), reason=5)), r"\$\.reason"),
    ]:
        add(f"death: {name}", _t("death"), payload, invalid + where)
    add(
        "death: gw differs from the topic",
        _t("death"),
        _j(_death(next(seq), gw="gw2")),
        r"^envelope gw 'gw2' differs",
    )
    add(
        "death: another gateway's device",
        _t("death", dev="m9"),
        _j(_death(next(seq), dev="m9")),
        r"owned by gw2",
    )
    add(
        "death: sent 1 ns",
        _t("death"),
        _j(_death(next(seq), sent=1)),
        r"^\$\.sent: 1 ns is outside the window",
    )
    # -- cmd -----------------------------------------------------------------------------------------
    for name, payload, where in [
        ("unknown op", _j(_cmd(op="reboot")), r"\$\.op"),
        ("missing id", _j({k: v for k, v in _cmd().items() if k != "id"}), r"\$"),
        ("bad id", _j(_cmd(id="a b")), r"\$\.id"),
        ("args nested 1000 deep", _raw(_cmd(), "args", '{"x": ' + _deep(1000) + "}"), r"\$"),
        ("args nested 17 deep", _raw(_cmd(), "args", '{"x": ' + _deep(16) + "}"), r"\$\.args"),
        ("args with 65 keys", _j(_cmd(args={f"k{i}": i for i in range(65)})), r"\$\.args"),
        ("args with 20,000 values", _j(_cmd(args={"x": list(range(20_000))})), r"\$\.args"),
        ("args a list", _j(_cmd(args=[1, 2])), r"\$\.args"),
        ("a gw field", _j(_cmd(gw="gw1")), r"\$"),
        ("data schema on a cmd topic", d(), r"\$\.schema"),
    ]:
        add(f"cmd: {name}", _t("cmd"), payload, invalid + where)
    add("cmd: dev differs from the topic", _t("cmd"), _j(_cmd(dev="m2")), r"^envelope dev 'm2' differs")
    # -- cmd/res -------------------------------------------------------------------------------------
    for name, payload, where in [
        ("result nested 1000 deep", _raw(_res(), "result", '{"x": ' + _deep(1000) + "}"), r"\$"),
        ("error of 2,000 characters", _j(_res(ok=False, error="e" * 2000)), r"\$\.error"),
        ("ok a string", _j(_res(ok="yes")), r"\$\.ok"),
        ("missing id", _j({k: v for k, v in _res().items() if k != "id"}), r"\$"),
        ("result a list", _j(_res(result=[1])), r"\$\.result"),
        ("cmd schema on a cmd/res topic", _j(_cmd()), r"\$\.schema"),
    ]:
        add(f"cmd/res: {name}", _t("cmd/res"), payload, invalid + where)
    add(
        "cmd/res: gw differs from the topic", _t("cmd/res"), _j(_res(gw="gw2")), r"^envelope gw 'gw2' differs"
    )
    # -- $status, $stored, $dropped ------------------------------------------------------------------
    status = f"pp/v1/{SITE}/gw1/$status"
    for name, payload in [
        ("upper case", b"ONLINE"),
        ("with a newline", b"online\n"),
        ("JSON", b'{"status": "online"}'),
        ("empty", b""),
        ("unknown word", b"maybe"),
    ]:
        add(f"$status: {name}", status, payload, r"^bad \$status payload")
    stored, dropped = f"pp/v1/{SITE}/gw1/$stored", f"pp/v1/{SITE}/gw1/$dropped"
    ack = {"schema": "plantproof.stored/1", "gw": "gw1", "seq": 5, "sent": NOW}
    drop = {"schema": "plantproof.dropped/1", "gw": "gw1", "through": 5, "count": 3, "sent": NOW}
    add("$stored: not JSON", stored, b"5", r"^invalid \$stored message")
    add("$stored: seq -5", stored, _j({**ack, "seq": -5}), r"^invalid \$stored message")
    add("$stored: gw differs from the topic", stored, _j({**ack, "gw": "gw2"}), r"^\$stored gw 'gw2' differs")
    add("$dropped: count 0", dropped, _j({**drop, "count": 0}), r"^invalid \$dropped message")
    add("$dropped: through a string", dropped, _j({**drop, "through": "x"}), r"^invalid \$dropped message")
    add(
        "$dropped: gw differs from the topic",
        dropped,
        _j({**drop, "gw": "gw2"}),
        r"^\$dropped gw 'gw2' differs",
    )
    add(
        "$dropped: nested 1000 deep", dropped, _raw(drop, "count", _deep(1000)), r"^invalid \$dropped message"
    )
    # -- seq reuse (last: seqs 0 and 1 are stored by then) ------------------------------------------
    add("birth: seq reuse", _t("birth"), _j(_birth(0, points=[POINTS_JSON[0]])), r"^seq reuse")
    add("death: seq reuse", _t("death"), _j(_death(0)), r"^seq reuse")
    add("data: seq reuse", _t("data"), _j(_data(1, samples=[["temp", NOW - 5, 99.0, 0]])), r"^seq reuse")
    return c


POINTS_JSON: list[dict[str, Any]] = BIRTH["points"]


def test_poison_corpus_through_a_real_broker_and_collector(
    tmp_path: Path, mosquitto_factory: Callable[..., MosquittoServer], db: str
) -> None:
    mqtt_broker = mosquitto_factory()
    cases = corpus()
    assert len(cases) >= 100
    assert len({(c.topic, c.payload) for c in cases}) == len(cases), "every case tells itself apart"
    collector = Collector(
        collector_config(tmp_path / "c.yaml", db, mqtt_broker.host, mqtt_broker.port), tmp_path / "c.log"
    )
    collector.start()
    pub = Publisher(mqtt_broker.host, mqtt_broker.port)
    try:
        owners = [
            (_t("birth"), wire.encode(wire.Birth("gw1", "m1", 0, NOW, INFO, POINTS))),
            (_t("birth", "gw2", "m9"), wire.encode(wire.Birth("gw2", "m9", 0, NOW, INFO, POINTS))),
        ]
        pub.publish(owners, retain=True)  # retained: whenever the collector subscribes, it gets them
        wait_until(lambda: scalar(db, "SELECT count(*) FROM devices") == 2, 60, "the owners' births")
        good_seq = 0
        for case in cases:
            pub.publish([(case.topic, case.payload)])
            good_seq += 1
            samples = [
                ["temp", NOW - 10**9 + (good_seq * GOOD_PER_ENVELOPE + i) * 1000, float(i), 0]
                for i in range(GOOD_PER_ENVELOPE)
            ]
            pub.publish([(_t("data"), _j(_data(good_seq, samples=samples)))])
        good = good_seq * GOOD_PER_ENVELOPE
        wait_until(lambda: scalar(db, "SELECT count(*) FROM readings") >= good, 120, f"{good} good readings")
        wait_until(
            lambda: scalar(db, "SELECT count(*) FROM dead_letters") >= len(cases), 60, "every dead letter"
        )
        time.sleep(1.0)
        assert collector.alive(), collector.output()[-3000:]
        assert scalar(db, "SELECT count(*) FROM readings") == good, "the good traffic, completely and once"
        with psycopg.connect(db) as conn:
            letters = conn.execute("SELECT topic, payload, error FROM dead_letters").fetchall()
        missing, wrong = [], []
        for case in cases:
            found = [e for t, p, e in letters if t == case.topic and bytes(p) == case.payload[:KEEP]]
            if len(found) != 1:
                missing.append(f"{case.name}: {len(found)} dead letters")
            elif not re.search(case.reason, found[0]):
                wrong.append(f"{case.name}: {found[0][:200]!r} does not match {case.reason!r}")
        assert missing == [] and wrong == []
        assert len(letters) == len(cases), "no dead letter besides the corpus"
        assert "Traceback" not in collector.output()
    finally:
        pub.close()
        collector.stop()
