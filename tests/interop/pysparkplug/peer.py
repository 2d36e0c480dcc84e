"""Cross-decode peer: the PyPI `pysparkplug` codec, run in its own venv (it imports nothing of ours).

    .venv/bin/python peer.py decode|encode < cases.json > results.json

Input:  {"cases": [{"id": ..., "b64": "<payload bytes>"}]}                               (decode)
        {"cases": [{"id": ..., "timestamp": ms, "seq": n, "metrics": [<metric>, ...]}]}  (encode)
A metric is {"name", "alias", "timestamp", "datatype" (e.g. "INT8"), "value"}; bytes travel as
{"$bytes": base64}, DateTime values as milliseconds, arrays as lists.
Output: {"results": [{"id", "ok": true, "timestamp", "seq", "metrics": [...]} | {"id", "ok": true, "b64"}
                     | {"id", "ok": false, "error"}]}
"""

from __future__ import annotations

import base64
import datetime
import json
import sys
from typing import Any

import pysparkplug as psp

_DATETIMES = {psp.DataType.DATETIME}
_DATETIME_ARRAYS = {psp.DataType.DATETIME_ARRAY}


def _to_json(value: Any, datatype: psp.DataType) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if datatype in _DATETIMES and value is not None:
        return round(value.timestamp() * 1000)
    if isinstance(value, tuple):
        if datatype in _DATETIME_ARRAYS:
            return [round(v.timestamp() * 1000) for v in value]
        return list(value)
    return value


def _from_json(value: Any, datatype: psp.DataType) -> Any:
    if isinstance(value, dict) and "$bytes" in value:
        return base64.b64decode(value["$bytes"])
    if datatype in _DATETIMES and value is not None:
        return datetime.datetime.fromtimestamp(value / 1000, tz=datetime.UTC)
    if isinstance(value, list):
        if datatype in _DATETIME_ARRAYS:
            return tuple(datetime.datetime.fromtimestamp(v / 1000, tz=datetime.UTC) for v in value)
        return tuple(value)
    return value


def decode(case: dict[str, Any]) -> dict[str, Any]:
    payload = psp.DData.decode(base64.b64decode(case["b64"]))
    metrics = [
        {
            "name": m.name,
            "alias": m.alias,
            "timestamp": m.timestamp,
            "datatype": m.datatype.name,
            "value": _to_json(m.value, m.datatype),
            "is_null": m.is_null,
        }
        for m in payload.metrics
    ]
    return {"timestamp": payload.timestamp, "seq": payload.seq, "metrics": metrics}


def encode(case: dict[str, Any]) -> dict[str, Any]:
    metrics = []
    for m in case["metrics"]:
        datatype = psp.DataType[m["datatype"]]
        metrics.append(
            psp.Metric(
                timestamp=m.get("timestamp"),
                name=m.get("name"),
                alias=m.get("alias"),
                datatype=datatype,
                value=_from_json(m.get("value"), datatype),
                is_null=m.get("value") is None,
            )
        )
    payload = psp.DData(timestamp=case["timestamp"], seq=case["seq"], metrics=tuple(metrics))
    return {"b64": base64.b64encode(payload.encode(include_dtypes=True)).decode()}


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("decode", "encode"):
        print("usage: peer.py decode|encode < cases.json", file=sys.stderr)
        return 2
    results = []
    for case in json.load(sys.stdin)["cases"]:
        try:
            out = decode(case) if mode == "decode" else encode(case)
            results.append({"id": case["id"], "ok": True, **out})
        except Exception as exc:  # one case's failure is that case's result
            results.append({"id": case["id"], "ok": False, "error": f"{type(exc).__name__}: {exc}"})
    json.dump({"results": results, "version": psp.__version__}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
