"""中文 / English for everything a reader sees: the catalog, and numbers and dates per language.

text("report.window", "zh", window="2026-10")  → "统计窗口 2026-10"
label("fig.connected_equipment", "en")          → "connected equipment (接入设备)"
"""

from __future__ import annotations

from typing import Any

from collector.i18n.catalog import CATALOG, DEFINITIONS_ZH, GUIDELINE_TERMS
from collector.i18n.formats import LANGS, Lang

__all__ = ["CATALOG", "DEFINITIONS_ZH", "GUIDELINE_TERMS", "LANGS", "Lang", "has", "label", "text"]

LANG_NAMES: dict[Lang, str] = {"zh": "中文", "en": "English"}
HTML_LANG: dict[Lang, str] = {"zh": "zh-Hans", "en": "en"}


def has(key: str) -> bool:
    return key in CATALOG


def text(key: str, lang: Lang, **fields: Any) -> str:
    """The catalog text for `key` in `lang`, with `{name}` fields filled (KeyError names the key)."""
    try:
        template = CATALOG[key][lang]
    except KeyError:
        raise KeyError(f"i18n catalog has no {lang!r} text for {key!r}") from None
    return template.format(**fields) if fields else template


def label(key: str, lang: Lang) -> str:
    """Like `text`, but a guideline term carries the other language beside it."""
    own = text(key, lang)
    if key not in GUIDELINE_TERMS:
        return own
    other = text(key, "en" if lang == "zh" else "zh")
    return f"{own}（{other}）" if lang == "zh" else f"{own} ({other})"
