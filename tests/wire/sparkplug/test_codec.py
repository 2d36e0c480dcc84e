"""Sparkplug B payload codec: every datatype round-trips, every integer form seen in the wild decodes,
and bad or hostile payloads fail with a WireError naming the metric and field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.wire.sparkplug import samples
from wire import WireError
from wire import sparkplug as sp
from wire.sparkplug import DataSet, DataType, Limits, Metric, Payload, PropertyValue, Template
from wire.sparkplug._generated import sparkplug_b_pb2 as pb
from wire.sparkplug.datatypes import SIGNED_BITS, UNSIGNED_BITS


def one(metric: Metric, **kwargs: object) -> Payload:
    return sp.decode_payload(sp.encode_payload(Payload(timestamp=1, metrics=(metric,), seq=0)), **kwargs)  # type: ignore[arg-type]


def raw_metric(datatype: int | None, **value: object) -> bytes:
    """A one-metric payload written field by field, as another implementation might."""
    message = pb.Payload(timestamp=1, seq=0)
    m = message.metrics.add(name="m", alias=5)
    if datatype is not None:
        m.datatype = datatype
    for field, v in value.items():
        setattr(m, field, v)
    return message.SerializeToString()


@pytest.mark.parametrize(
    ("name", "datatype", "value"), samples.EVERY_TYPE, ids=[t[0] for t in samples.EVERY_TYPE]
)
def test_every_datatype_round_trips_with_and_without_value(
    name: str, datatype: DataType, value: object
) -> None:
    metric = Metric(datatype, value, name=name, alias=3, timestamp=samples.T0)  # type: ignore[arg-type]
    assert one(metric).metrics == (metric,)
    null = Metric(datatype, None, name=name)
    assert one(null).metrics[0].is_null


@pytest.mark.parametrize(
    ("datatype", "wire_field", "raw", "value"),
    [
        (
            DataType.INT8,
            "int_value",
            4294967291,
            -5,
        ),  # 32-bit two's complement: Tahu Java/JS, the spec's uint32
        (DataType.INT8, "int_value", 251, -5),  # 8-bit two's complement: Tahu Python, pysparkplug
        (DataType.INT8, "long_value", 2**64 - 5, -5),  # sign-extended into a uint64
        (DataType.INT8, "int_value", 127, 127),
        (DataType.INT8, "int_value", 128, -128),
        (DataType.INT16, "int_value", 0xFFFF8AD0, -30000),
        (DataType.INT16, "int_value", 0x8AD0, -30000),
        (DataType.INT32, "int_value", 0x80000000, -(2**31)),
        (DataType.INT32, "long_value", 2**64 - 2**31, -(2**31)),
        (DataType.INT32, "long_value", 2**32 - 1, -1),
        (DataType.INT64, "long_value", 2**64 - 1, -1),
        (DataType.UINT32, "int_value", 4294967295, 4294967295),  # the spec's field
        (DataType.UINT32, "long_value", 4294967295, 4294967295),  # Tahu Java/JS
        (DataType.UINT8, "long_value", 250, 250),
        (DataType.UINT64, "long_value", 2**64 - 1, 2**64 - 1),
        (DataType.DATETIME, "long_value", samples.T0, samples.T0),
    ],
)
def test_integers_decode_from_every_form_seen_in_the_wild(
    datatype: DataType, wire_field: str, raw: int, value: int
) -> None:
    assert sp.decode_payload(raw_metric(datatype, **{wire_field: raw})).metrics[0].value == value


def test_signed_integers_are_encoded_as_32_bit_twos_complement() -> None:
    data = sp.encode_payload(Payload(metrics=(Metric(DataType.INT8, -5), Metric(DataType.UINT32, 2**32 - 1))))
    message = pb.Payload.FromString(data)
    assert message.metrics[0].WhichOneof("value") == "int_value"
    assert message.metrics[0].int_value == 4294967291
    assert message.metrics[1].WhichOneof("value") == "int_value"  # per the specification's table


@pytest.mark.parametrize(
    ("datatype", "wire_field", "raw"),
    [
        (DataType.INT8, "int_value", 256),  # neither 8-bit nor sign-extended
        (DataType.INT8, "int_value", 2**32 - 129),
        (DataType.INT16, "int_value", 70000),
        (DataType.INT8, "long_value", 2**32 + 5),
        (DataType.UINT8, "int_value", 256),
        (DataType.UINT32, "long_value", 2**32),
    ],
)
def test_integers_in_no_known_form_are_refused(datatype: DataType, wire_field: str, raw: int) -> None:
    with pytest.raises(WireError) as err:
        sp.decode_payload(raw_metric(datatype, **{wire_field: raw}))
    assert err.value.field == f"metrics[0].{wire_field}"
    assert "'m'" in str(err.value) and datatype.spec_name in str(err.value)


@given(st.data())
def test_integer_round_trip_property(data: st.DataObject) -> None:
    datatype = data.draw(st.sampled_from(sorted(SIGNED_BITS.keys() | UNSIGNED_BITS.keys())))
    if datatype in SIGNED_BITS:
        half = 1 << (SIGNED_BITS[datatype] - 1)
        value = data.draw(st.integers(-half, half - 1))
    else:
        value = data.draw(st.integers(0, (1 << UNSIGNED_BITS[datatype]) - 1))
    assert one(Metric(datatype, value)).metrics[0].value == value


@pytest.mark.parametrize(
    ("metric", "field", "words"),
    [
        (Metric(DataType.INT8, 128, name="t"), "metrics[0]", "out of range"),
        (Metric(DataType.UINT64, -1, name="t"), "metrics[0]", "out of range"),
        (Metric(DataType.INT32, True, name="t"), "metrics[0]", "integer"),
        (Metric(DataType.INT32, 1.5, name="t"), "metrics[0]", "integer"),
        (Metric(DataType.BOOLEAN, 1, name="t"), "metrics[0]", "True or False"),
        (Metric(DataType.FLOAT, 1e39, name="t"), "metrics[0]", "32-bit"),
        (Metric(DataType.STRING, b"x", name="t"), "metrics[0]", "string"),
        (Metric(DataType.STRING, "\ud800", name="t"), "metrics[0]", ""),
        (Metric(DataType.BYTES, "x", name="t"), "metrics[0].bytes_value", "bytes"),
        (Metric(DataType.INT16_ARRAY, (1, 70000), name="t"), "metrics[0].bytes_value", "Int16Array"),
        (Metric(DataType.STRING_ARRAY, ("a\0b",), name="t"), "metrics[0].bytes_value", "NUL"),
        (Metric(DataType.UNKNOWN, 1, name="t"), "metrics[0].datatype", "not a metric datatype"),
        (Metric(DataType.PROPERTY_SET, {}, name="t"), "metrics[0].datatype", "not a metric datatype"),
        (Metric(DataType.DATASET, DataSet(("a",), ()), name="t"), "metrics[0].dataset_value.types", "types"),
        (
            Metric(DataType.DOUBLE, 1.0, name="t", properties={"x": PropertyValue(DataType.UNKNOWN, 1)}),
            "metrics[0].properties['x'].type",
            "datatype",
        ),
    ],
)
def test_encoder_refuses_values_that_do_not_fit(metric: Metric, field: str, words: str) -> None:
    with pytest.raises(WireError) as err:
        sp.encode_payload(Payload(metrics=(metric,)))
    assert err.value.field == field
    assert "metric 't'" in str(err.value) and words in str(err.value)


def test_encoder_refuses_a_seq_outside_0_255() -> None:
    with pytest.raises(WireError) as err:
        sp.encode_payload(Payload(seq=256))
    assert err.value.field == "seq"


def test_data_without_datatypes_needs_the_birth_table() -> None:
    data = sp.encode_payload(samples.DDATA, with_datatypes=False)
    assert sp.decode_payload(data, datatypes=samples.BIRTH_DATATYPES) == samples.DDATA
    with pytest.raises(WireError) as err:
        sp.decode_payload(data)
    assert "alias 10" in str(err.value) and "birth" in str(err.value)
    assert err.value.field == "metrics[0].datatype"


def test_a_value_in_the_wrong_field_names_metric_and_field() -> None:
    with pytest.raises(WireError) as err:
        sp.decode_payload(raw_metric(DataType.INT32, string_value="12"))
    assert err.value.field == "metrics[0].string_value"
    assert str(err.value).startswith("metric 'm':")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"\xff\xff\xff", "$"),
        (raw_metric(99, int_value=1), "metrics[0].datatype"),
        (raw_metric(DataType.PROPERTY_SET_LIST, int_value=1), "metrics[0].datatype"),
        (raw_metric(DataType.INT8_ARRAY + 1, bytes_value=b"\x01\x02\x03"), "metrics[0].bytes_value"),
        (raw_metric(DataType.BOOLEAN_ARRAY, bytes_value=b"\x09\x00\x00\x00\xff"), "metrics[0].bytes_value"),
        (raw_metric(DataType.STRING_ARRAY, bytes_value=b"abc"), "metrics[0].bytes_value"),
    ],
)
def test_malformed_payloads_are_refused(payload: bytes, field: str) -> None:
    with pytest.raises(WireError) as err:
        sp.decode_payload(payload)
    assert err.value.field == field


def test_property_sets_must_pair_keys_and_values() -> None:
    message = pb.Payload(timestamp=1)
    m = message.metrics.add(name="m", datatype=DataType.DOUBLE, double_value=1.0)
    m.properties.keys.extend(["a", "b"])
    m.properties.values.add(type=DataType.INT32, int_value=1)
    with pytest.raises(WireError, match="2 keys but 1 values") as err:
        sp.decode_payload(message.SerializeToString())
    assert err.value.field == "metrics[0].properties"
    m.properties.values.add(type=DataType.INT32, int_value=2)
    m.properties.keys[1] = "a"
    with pytest.raises(WireError, match="twice"):
        sp.decode_payload(message.SerializeToString())


def test_untyped_properties_keep_their_raw_value_and_quality_is_int32() -> None:
    message = pb.Payload(timestamp=1)
    m = message.metrics.add(name="m", datatype=DataType.DOUBLE, double_value=1.0)
    m.properties.keys.extend(["Quality", "note", "nested"])
    m.properties.values.add(int_value=500)
    m.properties.values.add(string_value="hi")
    nested = m.properties.values.add()
    nested.propertyset_value.keys.append("k")
    nested.propertyset_value.values.add(type=DataType.BOOLEAN, boolean_value=True)
    metric = sp.decode_payload(message.SerializeToString()).metrics[0]
    assert metric.properties == {
        "Quality": PropertyValue(DataType.INT32, 500),
        "note": PropertyValue(DataType.UNKNOWN, "hi"),
        "nested": PropertyValue(DataType.PROPERTY_SET, {"k": PropertyValue(DataType.BOOLEAN, True)}),
    }
    assert sp.quality_of(metric) == 1  # stale → uncertain


def test_property_set_lists_round_trip() -> None:
    sets = ({"a": PropertyValue(DataType.INT16, -2)}, {"b": PropertyValue(DataType.STRING, None)})
    metric = Metric(DataType.INT32, 1, properties={"list": PropertyValue(DataType.PROPERTY_SET_LIST, sets)})
    assert one(metric).metrics[0] == metric


def test_dataset_rows_must_match_the_columns() -> None:
    message = pb.Payload(timestamp=1)
    m = message.metrics.add(name="ds", datatype=DataType.DATASET)
    m.dataset_value.num_of_columns = 2
    m.dataset_value.columns.extend(["a", "b"])
    m.dataset_value.types.extend([DataType.INT8, DataType.STRING])
    m.dataset_value.rows.add().elements.add(int_value=251)
    with pytest.raises(WireError, match="1 cells for 2 columns") as err:
        sp.decode_payload(message.SerializeToString())
    assert err.value.field == "metrics[0].dataset_value.rows[0]"
    m.dataset_value.rows[0].elements.add(string_value="x")
    assert sp.decode_payload(message.SerializeToString()).metrics[0].value == DataSet(
        ("a", "b"), (DataType.INT8, DataType.STRING), ((-5, "x"),)
    )


def nested_templates(depth: int) -> Metric:
    metric = Metric(DataType.INT8, 1, name="leaf")
    for i in range(depth):
        metric = Metric(DataType.TEMPLATE, Template(metrics=(metric,)), name=f"t{i}")
    return metric


@pytest.mark.parametrize(
    ("payload", "limits", "words"),
    [
        (Payload(metrics=(Metric(DataType.INT8, 1),) * 11), Limits(max_metrics=10), "more than 10 metrics"),
        (
            Payload(metrics=(Metric(DataType.STRING, "x" * 200),)),
            Limits(max_string_bytes=100),
            "longer than 100",
        ),
        (Payload(metrics=(Metric(DataType.BYTES, b"x" * 200),)), Limits(max_bytes_value=100), "100-byte cap"),
        (
            Payload(metrics=(Metric(DataType.BYTES, b"x" * 200),)),
            Limits(max_payload_bytes=100),
            "100-byte cap",
        ),
        (Payload(metrics=(nested_templates(4),)), Limits(max_depth=3), "deeper than 3"),
        (Payload(metrics=(nested_templates(3),) * 4), Limits(max_metrics=15), "more than 15 metrics"),
        (
            Payload(metrics=(Metric(DataType.DATASET, DataSet(("a",), (DataType.INT8,), ((1,),) * 11)),)),
            Limits(max_dataset_cells=10),
            "more than 10 data-set cells",
        ),
        (
            Payload(
                metrics=(
                    Metric(
                        DataType.INT8,
                        1,
                        properties={str(i): PropertyValue(DataType.INT8, 1) for i in range(11)},
                    ),
                )
            ),
            Limits(max_properties=10),
            "more than 10 properties",
        ),
    ],
)
def test_caps_bound_what_a_payload_can_make_us_allocate(payload: Payload, limits: Limits, words: str) -> None:
    data = sp.encode_payload(payload)
    assert sp.decode_payload(data) == payload  # fine under the defaults
    with pytest.raises(WireError, match=words):
        sp.decode_payload(data, limits=limits)


def test_template_members_are_named_in_errors() -> None:
    message = pb.Payload(timestamp=1)
    t = message.metrics.add(name="Motor", datatype=DataType.TEMPLATE).template_value
    t.metrics.add(name="speed", datatype=DataType.INT8, int_value=999)
    with pytest.raises(WireError) as err:
        sp.decode_payload(message.SerializeToString())
    assert err.value.field == "metrics[0].template_value.metrics[0].int_value"
    assert str(err.value).startswith("metric 'Motor': metric 'speed':")
