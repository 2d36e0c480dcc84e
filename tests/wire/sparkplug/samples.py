"""Sparkplug B sample messages with every datatype, the values the golden files were written from.

The values sit on the edges where implementations disagree: negative Int8/16/32 (the signed types
in an unsigned field), UInt32 above 2^31, the extremes of the 64-bit types, a Float that is not
exact in 32 bits, non-ASCII strings, null metrics.
"""

from __future__ import annotations

from wire import sparkplug as sp
from wire.sparkplug import (
    DataSet,
    DataType,
    MetaData,
    Metric,
    Payload,
    PropertyValue,
    Template,
    TemplateParameter,
)

T0 = 1_780_000_000_000  # ms since the epoch
BDSEQ = 7
GROUP, EDGE, DEVICE, HOST = "plant-1", "gw-line1", "cnc-01", "scada-host"


def _props(unit: str, scale: float = 1.0) -> dict[str, PropertyValue]:
    return {
        sp.ENG_UNIT: PropertyValue(DataType.STRING, unit),
        sp.SCALE: PropertyValue(DataType.DOUBLE, scale),
    }


# (name, datatype, value): one metric per datatype, in alias order 1, 2, 3, ...
EVERY_TYPE: tuple[tuple[str, DataType, object], ...] = (
    ("int8", DataType.INT8, -5),
    ("int16", DataType.INT16, -30000),
    ("int32", DataType.INT32, -2_147_483_648),
    ("int64", DataType.INT64, -9_223_372_036_854_775_808),
    ("uint8", DataType.UINT8, 250),
    ("uint16", DataType.UINT16, 65535),
    ("uint32", DataType.UINT32, 4_294_967_295),
    ("uint64", DataType.UINT64, 18_446_744_073_709_551_615),
    ("float", DataType.FLOAT, 12.100000381469727),  # 12.1 as the nearest 32-bit float
    ("double", DataType.DOUBLE, 1022.9123213),
    ("boolean", DataType.BOOLEAN, True),
    ("string", DataType.STRING, "läuft — 运行中"),
    ("datetime", DataType.DATETIME, T0 - 3_600_000),
    ("text", DataType.TEXT, "Spindle warm-up done.\nNext: tool change T12."),
    ("uuid", DataType.UUID, "6f1c2a9e-3b7d-4c1e-9a55-0d2f8e4b7c10"),
    ("bytes", DataType.BYTES, bytes([0, 1, 127, 128, 254, 255])),
    ("file", DataType.FILE, b"# program O1000\nG21 G90\nM30\n"),
    (
        "dataset",
        DataType.DATASET,
        DataSet(
            columns=("step", "count", "weight", "ok", "label", "at"),
            types=(
                DataType.INT32,
                DataType.UINT64,
                DataType.DOUBLE,
                DataType.BOOLEAN,
                DataType.STRING,
                DataType.DATETIME,
            ),
            rows=((-1, 18_446_744_073_709_551_615, 0.25, True, "first", T0), (2, 0, -1.5, False, "二", None)),
        ),
    ),
    (
        "template",
        DataType.TEMPLATE,
        Template(
            metrics=(
                Metric(DataType.DOUBLE, 71.5, name="temperature", timestamp=T0),
                Metric(DataType.BOOLEAN, False, name="alarm", timestamp=T0),
            ),
            parameters=(
                TemplateParameter("model", DataType.STRING, "VF-2"),
                TemplateParameter("ratedPower", DataType.DOUBLE, 22.4),
            ),
            template_ref="Spindle",
            version="1.0",
        ),
    ),
    ("int8_array", DataType.INT8_ARRAY, (-23, 123)),
    ("int16_array", DataType.INT16_ARRAY, (-30000, 30000)),
    ("int32_array", DataType.INT32_ARRAY, (-1, 315_338_746)),
    ("int64_array", DataType.INT64_ARRAY, (-4_270_929_666_821_191_986, -3_601_064_768_563_266_876)),
    ("uint8_array", DataType.UINT8_ARRAY, (23, 250)),
    ("uint16_array", DataType.UINT16_ARRAY, (30, 52360)),
    ("uint32_array", DataType.UINT32_ARRAY, (52, 3_293_969_225)),
    ("uint64_array", DataType.UINT64_ARRAY, (52, 16_444_743_074_749_521_625)),
    ("float_array", DataType.FLOAT_ARRAY, (1.2300000190734863, 89.34100341796875)),
    ("double_array", DataType.DOUBLE_ARRAY, (12.354213, 1022.9123213)),
    (
        "boolean_array",
        DataType.BOOLEAN_ARRAY,
        (False, False, True, True, False, True, False, False, True, True, False, True),
    ),
    ("string_array", DataType.STRING_ARRAY, ("ABC", "hello")),
    ("datetime_array", DataType.DATETIME_ARRAY, (1_256_102_875_335, 1_656_107_875_000)),
)
ALIAS = {name: i for i, (name, _, _) in enumerate(EVERY_TYPE, start=10)}

SPINDLE = Template(
    metrics=(
        Metric(DataType.DOUBLE, 0.0, name="temperature", timestamp=T0),
        Metric(DataType.BOOLEAN, False, name="alarm", timestamp=T0),
    ),
    parameters=(
        TemplateParameter("model", DataType.STRING, ""),
        TemplateParameter("ratedPower", DataType.DOUBLE, 0.0),
    ),
    is_definition=True,
    version="1.0",
)

NBIRTH = Payload(
    timestamp=T0,
    seq=0,
    metrics=(
        sp.bdseq_metric(BDSEQ, T0),
        sp.rebirth_metric(T0),
        Metric(DataType.TEMPLATE, SPINDLE, name="Spindle", timestamp=T0),
        Metric(DataType.STRING, "plantproof", name="Properties/Software", alias=1, timestamp=T0),
        Metric(DataType.INT64, 3000, name="Node Control/Scan Rate", alias=2, timestamp=T0),
    ),
)

DBIRTH = Payload(
    timestamp=T0,
    seq=1,
    metrics=(
        *(
            Metric(datatype, value, name=name, alias=ALIAS[name], timestamp=T0, properties=_props("°C", 0.1))
            if datatype in (DataType.FLOAT, DataType.DOUBLE)
            else Metric(datatype, value, name=name, alias=ALIAS[name], timestamp=T0)
            for name, datatype, value in EVERY_TYPE
        ),
        Metric(DataType.DOUBLE, None, name="spindle_load", alias=99, timestamp=T0, properties=_props("%")),
        Metric(
            DataType.FILE,
            b"{}",
            name="config",
            alias=100,
            timestamp=T0,
            metadata=MetaData(
                content_type="application/json",
                size=2,
                file_name="config.json",
                md5="99914b932bd37a50b983c5e7c90ae93b",
            ),
        ),
    ),
)

DDATA = Payload(
    timestamp=T0 + 1000,
    seq=2,
    metrics=(
        *(
            Metric(datatype, value, alias=ALIAS[name], timestamp=T0 + 900)
            for name, datatype, value in EVERY_TYPE
        ),
        Metric(
            DataType.DOUBLE,
            17.25,
            alias=99,
            timestamp=T0 + 950,
            properties={sp.QUALITY: sp.quality_property(1)},
        ),
        Metric(
            DataType.DOUBLE,
            None,
            alias=99,
            timestamp=T0 + 960,
            properties={sp.QUALITY: sp.quality_property(2)},
        ),
        Metric(DataType.DOUBLE, 16.5, alias=99, timestamp=T0 - 60_000, is_historical=True),
        Metric(DataType.INT32, -1, alias=ALIAS["int32"], timestamp=T0 + 970, is_transient=True),
    ),
)

NDEATH = sp.ndeath_payload(BDSEQ, T0)
DDEATH = Payload(timestamp=T0 + 2000, seq=3)
STATE_ONLINE = sp.HostState(online=True, timestamp=T0 - 5000)

# Datatypes by alias and name, as a host learns them from the BIRTHs.
BIRTH_DATATYPES: dict[int | str, DataType] = {
    key: m.datatype for m in DBIRTH.metrics for key in (m.alias, m.name) if key is not None
}
