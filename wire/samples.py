"""Data samples with the optional fifth element: the source's status code (a v1 extension).

`[point, ts_ns, value, quality]` is the v1 sample; a bad or uncertain sample may carry the
source's status code as a fifth element, `[point, ts_ns, value, quality, status]`, an unsigned
32-bit OPC UA StatusCode (e.g. 0x808B0000 BadSensorFailure) — so a consumer can tell a failed
sensor from an unknown node. Both forms are v1 forever: the decoder takes the fast path for plain
samples and falls back to this module only when a payload carries a fifth element.
"""

# layering: pure

from typing import Annotated, Any, Final

import msgspec

from wire.errors import WireError

StatusCode = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
STATUS_INDEX: Final = 4
_Loose = tuple[bool | int | float | str | None, ...]


def fifth_element_error(message: str) -> bool:
    """Whether a decode error of the plain form is a sample of five elements (then try this one)."""
    return message.startswith("Expected `array` of length 4") and "at `$.samples[" in message


def convert_samples(raw: list[Any], plain: Any, with_status: Any) -> list[tuple[Any, ...]]:
    """Validate loosely decoded samples as the 4- or 5-element form; WireError names the sample."""
    out: list[tuple[Any, ...]] = []
    for i, sample in enumerate(raw):
        kind = with_status if len(sample) == 5 else plain
        try:
            typed = msgspec.convert(sample, kind, strict=True)
        except msgspec.ValidationError as exc:
            text = str(exc).replace("`$", f"`$.samples[{i}]")
            field = text.rsplit("at `", 1)[-1].rstrip("`") if "at `" in text else f"$.samples[{i}]"
            raise WireError(text, field) from None
        if len(typed) == 5 and typed[3] == 0:
            raise WireError(
                f"a status code is carried by bad or uncertain samples only - at `$.samples[{i}][4]`",
                f"$.samples[{i}][4]",
            )
        out.append(typed)
    return out


LooseSamples = list[_Loose]
