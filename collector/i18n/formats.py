"""Numbers and dates in a reader's language (中文 or English), without the host's locale settings.

Hand-written rather than taken from the C locale so a page renders the same on every machine (the
evidence report is compared byte for byte). Both languages group digits by thousands with a comma
(CLDR's convention for zh and en); they differ in dates, units and a few words.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DASH = "—"  # no value
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def number(value: float | int | None, lang: Lang, digits: int = 2) -> str:
    """1,234.5 — at most `digits` decimals, trailing zeros dropped; integers exactly."""
    del lang  # same digits in both languages (kept so a later language can differ)
    if value is None or isinstance(value, bool):
        return DASH if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "∞" if value > 0 else "-∞" if value < 0 else DASH
    text = f"{value:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def signed(value: float | None, lang: Lang, digits: int = 2) -> str:
    """+2.5 / -20: the sign always shown, as for a change."""
    if value is None:
        return DASH
    text = number(value, lang, digits)
    return text if text.startswith("-") or text == "0" else f"+{text}"


def change(value: float | None, unit: str, lang: Lang, digits: int = 2) -> str:
    """A change in % (relative) or pp (percentage points): "-20 %", "+2 pp" / "+2 个百分点"."""
    if value is None:
        return DASH
    if unit == "pp":
        return f"{signed(value, lang, digits)} {'个百分点' if lang == 'zh' else 'pp'}"
    return f"{signed(value, lang, digits)}%" if lang == "zh" else f"{signed(value, lang, digits)} %"


def share(value: float | None, lang: Lang, digits: int = 1) -> str:
    """A share of one (0.9) as a percentage: "90 %" / "90%". Rounded down, so 100 means nothing missing."""
    if value is None:
        return DASH
    scale = 10**digits
    pct = number(math.floor(value * 100 * scale + 1e-9) / scale, lang, digits)
    return f"{pct}%" if lang == "zh" else f"{pct} %"


def _as_date(value: str | date) -> date:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(value).astimezone(UTC).date() if "T" in value else date.fromisoformat(value)


def day(value: str | date | None, lang: Lang) -> str:
    """2026年11月1日 / 1 Nov 2026."""
    if value is None:
        return DASH
    d = _as_date(value)
    return (
        f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"
    )


def short_day(value: str | date, lang: Lang) -> str:
    """11月1日 / 1 Nov (chart ticks)."""
    d = _as_date(value)
    return f"{d.month}月{d.day}日" if lang == "zh" else f"{d.day} {_MONTHS_EN[d.month - 1]}"


def moment(value: str | datetime | None, lang: Lang) -> str:
    """A timestamp in UTC to the minute: 2026年12月2日 13:27 UTC / 2 Dec 2026, 13:27 UTC."""
    if value is None:
        return DASH
    t = (datetime.fromisoformat(value) if isinstance(value, str) else value).astimezone(UTC)
    sep = " " if lang == "zh" else ", "
    return f"{day(t.date(), lang)}{sep}{t:%H:%M} UTC"


def period(start: str | date | None, end: str | date | None, lang: Lang) -> str:
    """Both ends included: 2026年6月1日至2026年8月31日 / 1 Jun 2026 – 31 Aug 2026."""
    if start is None or end is None:
        return DASH
    return (
        f"{day(start, lang)}至{day(end, lang)}" if lang == "zh" else f"{day(start, lang)} – {day(end, lang)}"
    )


def yes_no(value: bool, lang: Lang) -> str:
    if lang == "zh":
        return "是" if value else "否"
    return "yes" if value else "no"


def listing(items: list[str], lang: Lang) -> str:
    """Items joined the way each language writes a list."""
    return ("、" if lang == "zh" else ", ").join(items)
