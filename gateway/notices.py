"""Things worth one log line that the edge would otherwise turn silently into data.

A state code the device type's `states` map lacks is published as `unknown_stop` (uncertain); the
raw code is logged once per (device, point, code), and how often it came since at most every
`every_s`. Bounded: at most `max_codes` distinct codes are remembered per gateway.
"""

import logging
import time
from collections.abc import Sequence

from adapters.base import QUALITY_BAD, RawReading
from devicemodel.devicetype import DeviceType

log = logging.getLogger("plantproof.gateway")


class UnmappedStates:
    def __init__(self, every_s: float = 600.0, max_codes: int = 1000) -> None:
        self.every_s, self.max_codes = every_s, max_codes
        self._seen: dict[tuple[str, str, int], tuple[float, int]] = {}

    def check(self, dev: str, device_type: DeviceType, readings: Sequence[RawReading]) -> None:
        specs = device_type.by_name
        for reading in readings:
            spec = specs.get(reading.point)
            if spec is None or spec.kind != "state" or reading.quality >= QUALITY_BAD:
                continue
            try:
                code = int(reading.value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            if spec.states is not None and code in spec.states:
                continue
            self._note(dev, spec.name, code, sorted(spec.states or {}))

    def _note(self, dev: str, point: str, code: int, known: list[int]) -> None:
        key = (dev, point, code)
        now = time.monotonic()
        last = self._seen.get(key)
        if last is None:
            if len(self._seen) >= self.max_codes:
                return  # a device spraying codes: the first max_codes were named
            self._seen[key] = (now, 0)
            log.warning(
                "device %s point %s: state code %d is not in the device type's states map "
                "(known: %s); published as unknown_stop, uncertain",
                dev, point, code, ", ".join(map(str, known)) or "none",
            )  # fmt: skip
            return
        since, count = last
        if now - since >= self.every_s:
            log.warning("device %s point %s: unmapped state code %d seen %d more times in %.0f s",
                        dev, point, code, count + 1, now - since)  # fmt: skip
            self._seen[key] = (now, 0)
        else:
            self._seen[key] = (since, count + 1)
