"""Spool builders of the gateway's v1 envelopes: data (split to the broker's limit), birth, death.

A builder is numbered when the spool commits it (`Builder(seq) -> Built`), so sizes are checked
with the widest seq and timestamp before the number is known.
"""

import logging
import time

from gateway import births
from gateway.config import GatewayConfig
from gateway.edge import Sample
from gateway.errors import GatewayConfigError
from gateway.metrics import GatewayMetrics
from gateway.sizing import split, upper_bound
from gateway.spool import Builder, Built
from wire import Data, device_topic, encode

log = logging.getLogger("plantproof.gateway")
WIDEST = 2**63 - 1  # the widest seq and timestamp, for sizing envelopes before they are numbered


class Envelopes:
    def __init__(self, config: GatewayConfig, metrics: GatewayMetrics) -> None:
        self.config = config
        self.gw = config.gateway_id
        self.metrics = metrics
        limit = config.mqtt.max_message_bytes
        # per device: its longest point name, and whether a string point makes sizes unpredictable
        self._shape: dict[str, tuple[int, bool]] = {}
        for device in config.devices:
            points = device.device_type.points
            self._shape[device.id] = (
                max(len(p.name) for p in points),
                any(p.dtype == "string" for p in points),
            )
            size = len(encode(births.birth(self.gw, device, WIDEST, WIDEST)))
            if size > limit:
                raise GatewayConfigError(
                    f"device {device.id}: its birth takes {size} bytes, more than mqtt.max_message_bytes"
                    f" ({limit}); split its device type"
                )

    def data(self, dev: str, samples: list[Sample]) -> list[Builder]:
        """Builders of the envelopes carrying `samples`: one, or more if one would be too large."""
        limit = self.config.mqtt.max_message_bytes
        longest, strings = self._shape[dev]
        parts = [samples]
        if strings or upper_bound(samples, longest) > limit:

            def size(part: list[Sample]) -> int:
                return len(encode(Data(gw=self.gw, dev=dev, seq=WIDEST, sent=WIDEST, samples=part)))

            parts, refused = split(samples, limit, size)
            if refused:
                self.metrics.oversized_samples.labels(dev).inc(len(refused))
                log.warning("device %s: %d sample(s) refused, each alone larger than %d bytes (point %s)",
                            dev, len(refused), limit, refused[0][0])  # fmt: skip
        return [self._data_part(dev, part) for part in parts]

    def _data_part(self, dev: str, samples: list[Sample]) -> Builder:
        topic = device_topic(self.config.site, self.gw, dev, "data")

        def build(seq: int) -> Built:
            envelope = Data(gw=self.gw, dev=dev, seq=seq, sent=time.time_ns(), samples=samples)
            return Built(topic, encode(envelope), False, dev, len(samples))

        return build

    def birth(self, dev: str) -> Builder:
        device = self.config.device(dev)
        assert device is not None
        topic = device_topic(self.config.site, self.gw, dev, "birth")

        def build(seq: int) -> Built:
            return Built(topic, encode(births.birth(self.gw, device, seq, time.time_ns())), True, dev)

        return build

    def death(self, dev: str, reason: str) -> Builder:
        topic = device_topic(self.config.site, self.gw, dev, "death")

        def build(seq: int) -> Built:
            return Built(topic, encode(births.death(self.gw, dev, seq, time.time_ns(), reason)), False, dev)

        return build
