"""One log line per link event, shared by the adapters.

A link that keeps failing the same way is logged once (at WARNING), then at DEBUG on every retry;
a different failure is a new event. Coming back is logged with how long the link was down
("device cnc-01 back after 14 s").
"""

import logging
import time

from adapters.errors import AdapterError


class LinkLog:
    def __init__(self, logger: logging.Logger, device_id: str) -> None:
        self.log, self.device_id = logger, device_id
        self._last: str | None = None
        self._down_since: float | None = None
        self._ever_up = False

    def failed(self, exc: AdapterError, retry_in: float) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
        text = str(exc)
        if text != self._last:
            self._last = text
            self.log.warning("%s; retrying (next in %.1f s; logged again when it changes)", text, retry_in)
        else:
            self.log.debug("%s; retrying in %.1f s", text, retry_in)

    def up(self, what: str = "connected") -> None:
        if self._down_since is not None and self._ever_up:
            self.log.warning(
                "device %s back after %.0f s", self.device_id, time.monotonic() - self._down_since
            )
        elif self._down_since is not None:
            self.log.warning(
                "device %s %s after %.0f s of failures", self.device_id, what,
                time.monotonic() - self._down_since,
            )  # fmt: skip
        else:
            self.log.info("device %s %s", self.device_id, what)
        self._ever_up = True
        self._down_since = None
        self._last = None
