"""Logs that fit an edge box: one line per event, repeats rate-limited, text or JSON lines.

- Protocol libraries (asyncua, pymodbus, pyserial, paho) log at WARNING unless asked otherwise:
  their INFO records run to kilobytes each and their debug output dumps every frame.
- Every record is one line: a traceback becomes "Type: message (at file:line in function)"; a
  protocol library's record is cut at 300 characters (frame dumps), any other at 4,000.
- The same event repeated within `window_s` is logged once; the next one after the window says
  how many were held back. The table of recent events is bounded (oldest forgotten first) and the
  held-back count is exported as the counter `plantproof_gateway_log_suppressed_total`.
"""

import json
import logging
import sys
import time
import traceback
from collections import OrderedDict
from typing import Literal, TextIO

PROTOCOL_LOGGERS = ("asyncua", "pymodbus", "serial", "paho")
PROTOCOL_MAX_CHARS = 300
MAX_CHARS = 4000
LogFormat = Literal["text", "json"]
_HANDLER_NAME = "plantproof"


class RateLimit(logging.Filter):
    """Drops repeats of one event within `window_s`; bounded to `max_events` remembered events."""

    def __init__(self, window_s: float = 60.0, max_events: int = 1024) -> None:
        super().__init__()
        self.window_s, self.max_events = window_s, max_events
        self._seen: OrderedDict[tuple[object, ...], tuple[float, int]] = OrderedDict()
        self.suppressed = 0

    def _key(self, record: logging.LogRecord) -> tuple[object, ...]:
        template = record.msg if isinstance(record.msg, str) else repr(record.msg)
        if record.name.split(".", 1)[0] in PROTOCOL_LOGGERS:
            return record.name, record.levelno, template  # their arguments vary with every retry
        args = record.args if isinstance(record.args, tuple) else ()
        # numbers (delays, counts) vary between repeats of one event; names and texts do not
        words = tuple(str(a) for a in args if not isinstance(a, int | float))
        return record.name, record.levelno, template, words

    def filter(self, record: logging.LogRecord) -> bool:
        key = self._key(record)
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window_s:
            self._seen[key] = (seen[0], seen[1] + 1)
            self.suppressed += 1
            return False
        record.repeated = seen[1] if seen is not None else 0
        self._seen[key] = (now, 0)
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_events:
            self._seen.popitem(last=False)
        return True


def _one_line(text: str) -> str:
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())


def _exception(record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[1] is None:
        return None
    exc = record.exc_info[1]
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    where = f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name})" if last else ""
    return _one_line(f"{type(exc).__name__}: {exc}{where}")


def _message(record: logging.LogRecord) -> str:
    text = _one_line(record.getMessage())
    limit = PROTOCOL_MAX_CHARS if record.name.split(".", 1)[0] in PROTOCOL_LOGGERS else MAX_CHARS
    if len(text) > limit:  # a frame dump or a whole response structure: the start says what it was
        text = f"{text[:limit]}… ({len(text) - limit} more characters)"
    repeated = getattr(record, "repeated", 0)
    if repeated:
        text += f" ({repeated} more like it held back in the last {_LIMIT.window_s:.0f} s)"
    return text


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {_message(record)}"
        exc = _exception(record)
        return f"{line} [{exc}]" if exc else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": _message(record),
        }
        exc = _exception(record)
        if exc:
            out["exc"] = exc
        return json.dumps(out, ensure_ascii=False)


_LIMIT = RateLimit()


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (it may be swapped, e.g. by test runners)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def suppressed() -> int:
    """Log records held back as repeats since start (a metric)."""
    return _LIMIT.suppressed


def configure(
    level: str = "INFO",
    fmt: LogFormat = "text",
    protocol_level: str = "WARNING",
    stream: TextIO | None = None,
    window_s: float = 60.0,
) -> RateLimit:
    """Install the one handler of the process on the root logger (replacing an earlier one)."""
    global _LIMIT
    _LIMIT = RateLimit(window_s)
    handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_LIMIT)
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in PROTOCOL_LOGGERS:
        logging.getLogger(name).setLevel(protocol_level.upper())
    return _LIMIT
