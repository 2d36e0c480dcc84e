"""Drive the independent Sparkplug B codecs under tests/interop/ and translate their JSON to our types.

Each peer is a separate process fed one JSON document of cases on stdin (see the peers' headers). The
translations here are mechanical: they rename fields and turn tagged 64-bit numbers and byte arrays
back into Python values, and never reinterpret a number, so a peer's reading shows as it is.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from wire.sparkplug import (
    BY_SPEC_NAME,
    DataSet,
    DataType,
    MetaData,
    Metric,
    Payload,
    PropertyValue,
    Template,
    TemplateParameter,
)
from wire.sparkplug.datatypes import ARRAY_TYPES, BYTES_TYPES, FLOAT_TYPES

ROOT = Path(__file__).resolve().parents[3]
NODE_DIR = ROOT / "tests" / "interop" / "node"
PYSPARKPLUG_PY = ROOT / "tests" / "interop" / "pysparkplug" / ".venv" / "bin" / "python"
BOOTSTRAP = "scripts/ensure-interop.sh (make test runs it)"
_LONG_TYPES = {DataType.INT64, DataType.UINT64, DataType.DATETIME}


def _run(cmd: list[str], mode: str, cases: list[dict[str, Any]], cwd: Path) -> dict[str, dict[str, Any]]:
    proc = subprocess.run(
        [*cmd, mode], input=json.dumps({"cases": cases}), capture_output=True, text=True, cwd=cwd, timeout=60
    )
    assert proc.returncode == 0, f"{cmd[-1]} {mode} failed: {proc.stderr}"
    return {r["id"]: r for r in json.loads(proc.stdout)["results"]}


def tahu(mode: str, cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Run Eclipse Tahu's JavaScript codec (npm sparkplug-payload); skip where it cannot run."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: Tahu JS cross-decode needs Node.js and npm")
    if not (NODE_DIR / "node_modules" / "sparkplug-payload").is_dir():
        pytest.skip(
            f"npm package sparkplug-payload is not installed in {NODE_DIR.relative_to(ROOT)}: run {BOOTSTRAP}"
        )
    return _run([node, "tahu_peer.js"], mode, cases, NODE_DIR)


def tahu_version() -> str:
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    return str(lock["packages"]["node_modules/sparkplug-payload"]["version"])


def pysparkplug(mode: str, cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Run the PyPI pysparkplug codec in its own venv; skip where that venv is missing."""
    if not PYSPARKPLUG_PY.exists():
        pytest.skip(f"pysparkplug venv missing at {PYSPARKPLUG_PY.parent.parent}: run {BOOTSTRAP}")
    return _run([str(PYSPARKPLUG_PY), "peer.py"], mode, cases, PYSPARKPLUG_PY.parents[2])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


# --- Tahu JS user objects (camelCase, type names, {"$long"} / {"$bytes"} tags) ---------------------


def _long(value: int) -> dict[str, str]:
    return {"$long": str(value)}


def to_tahu_value(datatype: DataType, value: Any) -> Any:
    if value is None:
        return None
    if datatype in _LONG_TYPES:
        return _long(value)
    if datatype in BYTES_TYPES:
        return {"$bytes": b64(value)}
    if datatype in ARRAY_TYPES:
        return list(value)
    if datatype == DataType.DATASET:
        return {
            "numOfColumns": len(value.columns),  # a plain number: Tahu loops `t < numOfColumns`
            "columns": list(value.columns),
            "types": [t.spec_name for t in value.types],
            "rows": [
                [to_tahu_value(t, c) for t, c in zip(value.types, row, strict=True)] for row in value.rows
            ],
        }
    if datatype == DataType.TEMPLATE:
        out: dict[str, Any] = {"isDefinition": value.is_definition}
        if value.version is not None:
            out["version"] = value.version
        if value.template_ref is not None:
            out["templateRef"] = value.template_ref
        out["metrics"] = [to_tahu_metric(m) for m in value.metrics]
        out["parameters"] = [
            {"name": p.name, "type": p.type.spec_name, "value": to_tahu_value(p.type, p.value)}
            for p in value.parameters
        ]
        return out
    if datatype == DataType.PROPERTY_SET:
        return to_tahu_properties(value)
    if datatype == DataType.PROPERTY_SET_LIST:
        return [to_tahu_properties(s) for s in value]
    return value


def to_tahu_properties(props: Any) -> dict[str, Any]:
    return {k: {"type": v.type.spec_name, "value": to_tahu_value(v.type, v.value)} for k, v in props.items()}


def to_tahu_metric(metric: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": metric.datatype.spec_name,
        "value": to_tahu_value(metric.datatype, metric.value),
    }
    if metric.name is not None:
        out["name"] = metric.name
    if metric.alias is not None:
        out["alias"] = _long(metric.alias)
    if metric.timestamp is not None:
        out["timestamp"] = _long(metric.timestamp)
    if metric.is_historical:
        out["isHistorical"] = True
    if metric.is_transient:
        out["isTransient"] = True
    if metric.properties is not None:
        out["properties"] = to_tahu_properties(metric.properties)
    if metric.metadata is not None:
        md = metric.metadata
        fields = {
            "isMultiPart": md.is_multi_part,
            "contentType": md.content_type,
            "size": None if md.size is None else _long(md.size),
            "seq": None if md.seq is None else _long(md.seq),
            "fileName": md.file_name,
            "fileType": md.file_type,
            "md5": md.md5,
            "description": md.description,
        }
        out["metadata"] = {k: v for k, v in fields.items() if v is not None}
    return out


def to_tahu_payload(payload: Payload) -> dict[str, Any]:
    out: dict[str, Any] = {"metrics": [to_tahu_metric(m) for m in payload.metrics]}
    if payload.timestamp is not None:
        out["timestamp"] = _long(payload.timestamp)
    if payload.seq is not None:
        out["seq"] = _long(payload.seq)
    return out


def _int(value: Any) -> Any:
    return int(value["$long"]) if isinstance(value, dict) and "$long" in value else value


def from_tahu_value(type_name: str | None, value: Any) -> Any:
    datatype = BY_SPEC_NAME.get(type_name or "Unknown", DataType.UNKNOWN)
    if value is None:
        return None
    if isinstance(value, dict) and "$long" in value:
        return int(value["$long"])
    if isinstance(value, dict) and "$bytes" in value:
        return unb64(value["$bytes"])
    if datatype == DataType.DATASET:
        names = value["types"]
        return DataSet(
            tuple(value["columns"]),
            tuple(BY_SPEC_NAME[t] for t in names),
            tuple(
                tuple(from_tahu_value(t, c) for t, c in zip(names, row, strict=True)) for row in value["rows"]
            ),
        )
    if datatype == DataType.TEMPLATE:
        return Template(
            metrics=tuple(from_tahu_metric(m) for m in value.get("metrics", [])),
            parameters=tuple(
                TemplateParameter(
                    p["name"], BY_SPEC_NAME[p["type"]], from_tahu_value(p["type"], p.get("value"))
                )
                for p in value.get("parameters", [])
            ),
            # Tahu reports an absent template_ref (a definition's) as its protobuf default "".
            template_ref=value.get("templateRef") or None,
            is_definition=bool(value.get("isDefinition", False)),
            version=value.get("version"),
        )
    if datatype == DataType.PROPERTY_SET:
        return from_tahu_properties(value)
    if datatype == DataType.PROPERTY_SET_LIST:
        return tuple(from_tahu_properties(s) for s in value)
    if datatype in FLOAT_TYPES:
        return float(value)
    return value


def from_tahu_properties(props: dict[str, Any]) -> dict[str, PropertyValue]:
    return {
        k: PropertyValue(
            BY_SPEC_NAME.get(v.get("type") or "Unknown", DataType.UNKNOWN),
            from_tahu_value(v.get("type"), v.get("value")),
        )
        for k, v in props.items()
    }


def from_tahu_metric(m: dict[str, Any]) -> Metric:
    metadata = None
    if "metadata" in m:
        md = m["metadata"]

        # Tahu's decoder cannot tell an absent metadata field from its protobuf default ("" / false / 0).
        def present(key: str) -> Any:
            value = _int(md.get(key))
            return None if value in ("", False, 0) else value

        metadata = MetaData(
            is_multi_part=present("isMultiPart"),
            content_type=present("contentType"),
            size=present("size"),
            seq=present("seq"),
            file_name=present("fileName"),
            file_type=present("fileType"),
            md5=present("md5"),
            description=present("description"),
        )
    return Metric(
        BY_SPEC_NAME.get(m.get("type") or "Unknown", DataType.UNKNOWN),
        from_tahu_value(m.get("type"), m.get("value")),
        name=m.get("name"),
        alias=_int(m.get("alias")),
        timestamp=_int(m.get("timestamp")),
        is_historical=bool(m.get("isHistorical", False)),
        is_transient=bool(m.get("isTransient", False)),
        properties=from_tahu_properties(m["properties"]) if "properties" in m else None,
        metadata=metadata,
    )


def from_tahu_payload(p: dict[str, Any]) -> Payload:
    return Payload(
        timestamp=_int(p.get("timestamp")),
        metrics=tuple(from_tahu_metric(m) for m in p.get("metrics", [])),
        seq=_int(p.get("seq")),
    )


# --- pysparkplug metrics ({"name", "alias", "timestamp", "datatype": "INT8", "value"}) ---------------


def to_pysparkplug_metric(metric: Metric) -> dict[str, Any]:
    value: Any = metric.value
    if isinstance(value, bytes):
        value = {"$bytes": b64(value)}
    elif isinstance(value, tuple):
        value = list(value)
    return {
        "name": metric.name,
        "alias": metric.alias,
        "timestamp": metric.timestamp,
        "datatype": metric.datatype.name,
        "value": value,
    }


def from_pysparkplug_metric(m: dict[str, Any]) -> Metric:
    datatype = DataType[m["datatype"]]
    value = m["value"]
    if isinstance(value, dict) and "$bytes" in value:
        value = unb64(value["$bytes"])
    elif isinstance(value, list):
        value = tuple(value)
    return Metric(datatype, value, name=m["name"], alias=m["alias"], timestamp=m["timestamp"])
