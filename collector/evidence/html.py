"""Small HTML builders for report.html: escaped text, tables, badges (no templates, no scripts)."""

from __future__ import annotations

from html import escape
from typing import Any

from collector.i18n import Lang, formats, label, text

MAX_ROWS = 500  # per table; evidence.json and devices.csv keep every row


def e(value: Any) -> str:
    return escape(str(value), quote=True)


def num(value: Any, lang: Lang, digits: int = 2) -> str:
    if isinstance(value, bool):
        return e(formats.yes_no(value, lang))
    if isinstance(value, int | float) or value is None:
        return e(formats.number(value, lang, digits))
    return e(value)


def t(key: str, lang: Lang, **fields: Any) -> str:
    """Catalog text, escaped (fields are escaped too)."""
    return e(text(key, lang, **fields))


def lbl(key: str, lang: Lang) -> str:
    """A label, with the guideline's own term beside it where it is one."""
    return e(label(key, lang))


def table(
    head: list[str], rows: list[list[str]], lang: Lang, file: str = "", cls: str = "",
    total: int | None = None,
) -> str:  # fmt: skip
    """Cells are HTML already. Rows beyond MAX_ROWS are left out with a line saying where they are;
    `total` is the number of rows when the caller formatted only the first MAX_ROWS."""
    th = "".join(f"<th scope='col'>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows[:MAX_ROWS])
    more, total = "", len(rows) if total is None else total
    if total > MAX_ROWS:
        more = f"<p class='note'>{t('report.more_rows', lang, n=total - MAX_ROWS, file=file)}</p>"
    attr = f" class='{cls}'" if cls else ""
    grid = f"<table{attr}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"
    return f"<div class='scroll'>{grid}</div>{more}"


def badge(kind: str, content: str) -> str:
    return f"<span class='badge {e(kind)}'>{content}</span>"


def simulated_badge(lang: Lang) -> str:
    return badge("sim", t("simulated", lang))


def section(anchor: str, title: str, body: str) -> str:
    a = e(anchor)
    return f"<section id='{a}' aria-labelledby='{a}-h'><h2 id='{a}-h'>{title}</h2>{body}</section>"


def original(value: str, lang: Lang) -> str:
    """Free text kept as written (claim titles, reasons): marked as the original in the Chinese page."""
    if lang == "en":
        return e(value)
    return f"{e(value)} <span class='note'>（{t('report.original_text', lang)}）</span>"
