"""The address-model registry: a protocol's own errors keep their message and land under its section."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest
from pydantic import BaseModel, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from devicemodel import addresses
from devicemodel.devicetype import PointSpec


class _Odd(BaseModel):
    protocol: ClassVar[str] = "oddbus"
    word: int

    @field_validator("word")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise PydanticCustomError("odd_word", "word {value} is even", {"value": value})
        return value


@pytest.fixture
def oddbus() -> Iterator[None]:
    addresses.register(_Odd)
    yield
    addresses.unregister("oddbus")


def _point(**address: object) -> PointSpec:
    return PointSpec.model_validate({"name": "p", "kind": "analog", "dtype": "uint16", **address})


def test_a_protocol_error_type_keeps_its_message_under_its_section(oddbus: None) -> None:
    assert _point(oddbus={"word": 3}).address(_Odd) == _Odd(word=3)
    with pytest.raises(ValidationError) as err:
        _point(oddbus={"word": 4})
    (only,) = err.value.errors(include_url=False)
    assert (only["type"], only["loc"], only["msg"]) == (
        "odd_word",
        ("oddbus", "word"),
        "word 4 is even",
    )


def test_an_unregistered_section_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown field or address section"):
        _point(oddbus={"word": 3})


def test_a_model_must_name_its_section() -> None:
    class Nameless(BaseModel):
        x: int

    with pytest.raises(TypeError, match="protocol"):
        addresses.register(Nameless)
