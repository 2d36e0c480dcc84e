"""Report windows: UTC calendar days [start, end), written as `YYYY-MM` or `A..B` (pure)."""

# layering: pure

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from collector.errors import CollectorError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Window:
    """UTC days [start, end)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def label(self) -> str:
        if self.start.day == 1 and self.end == _next_month(self.start):
            return self.start.strftime("%Y-%m")
        return f"{self.start.isoformat()}..{(self.end - timedelta(days=1)).isoformat()}"

    def bounds(self) -> tuple[datetime, datetime]:
        return (datetime.combine(self.start, time(), UTC), datetime.combine(self.end, time(), UTC))

    def months(self) -> list[str]:
        out, m = [], self.start.replace(day=1)
        while m < self.end:
            out.append(m.strftime("%Y-%m"))
            m = _next_month(m)
        return out

    def complete_months(self, as_of: datetime) -> list[str]:
        """Months wholly inside the window and over by `as_of`."""
        out = []
        for label in self.months():
            first = date.fromisoformat(label + "-01")
            last = _next_month(first)
            if first >= self.start and last <= self.end and datetime.combine(last, time(), UTC) <= as_of:
                out.append(label)
        return out


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _parse_one(text: str, *, end: bool) -> date:
    if m := _MONTH.match(text):
        first = date(int(m[1]), int(m[2]), 1)
        return _next_month(first) if end else first
    if _DAY.match(text):
        day = date.fromisoformat(text)
        return day + timedelta(days=1) if end else day
    raise CollectorError(f"window {text!r}: expected YYYY-MM or YYYY-MM-DD")


def parse_window(text: str | None, now: datetime) -> Window:
    """`YYYY-MM`, `A..B` (months or days, inclusive); None means the last complete calendar month."""
    if not text:
        this_month = now.astimezone(UTC).date().replace(day=1)
        prev = (this_month - timedelta(days=1)).replace(day=1)
        return Window(prev, this_month)
    try:
        first, _, last = text.partition("..")
        window = Window(_parse_one(first, end=False), _parse_one(last or first, end=True))
    except ValueError as exc:
        raise CollectorError(f"window {text!r}: {exc}") from None
    if window.days <= 0:
        raise CollectorError(f"window {text!r} is empty")
    return window
