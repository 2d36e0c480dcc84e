"""report.html: the evidence for a reader, in 中文 and English, self-contained and deterministic.

One page, two language sections switched by CSS `:target` (links `#zh` / `#en`; no script), inline
CSS and inline SVG charts, no external assets. The page is a pure function of evidence.json and
the signing key's fingerprint (plus the software and chart fonts), so `render` run again on a
bundle's own files gives the same bytes — which is how `plantproof evidence render` checks it.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from collector.evidence import charts, quality_section
from collector.evidence.application_section import application_section, included
from collector.evidence.devices import device_rows
from collector.evidence.html import e, lbl, num, section, t, table
from collector.evidence.report_claims import claims_glance, claims_section, is_simulated
from collector.evidence.report_figures import (
    TIER_SOURCE_FILE,
    devices_section,
    figures_of,
    figures_section,
    headline_head,
    headline_rows,
    tiers_section,
)
from collector.i18n import CATALOG, DEFINITIONS_ZH, HTML_LANG, LANG_NAMES, LANGS, Lang, formats, has, label

_CSS = """
:root{color-scheme:light}.lang,section,h3{scroll-margin-top:3.2em}
body{font-family:system-ui,"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei","PingFang SC",
sans-serif;max-width:1180px;margin:0 auto;padding:0 1.2em 3em;color:#1f2328;line-height:1.5;font-size:15px}
nav.langs{position:sticky;top:0;background:#fff;border-bottom:1px solid #d0d7de;padding:.5em 0;z-index:1}
nav.langs a{margin:0 .3em;padding:.15em .6em;border:1px solid #d0d7de;border-radius:4px;text-decoration:none}
.lang{display:block}#en{display:none}#en:target,#en:has(:target){display:block}
#en:target~#zh,#en:has(:target)~#zh{display:none}
h1{font-size:1.6em;margin:.6em 0 .2em}h2{font-size:1.3em;border-bottom:2px solid #d0d7de;margin-top:2em}
h3{font-size:1.1em;margin:1.6em 0 .4em}h4{font-size:1em;margin:1.2em 0 .3em}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.4em 0 1em;font-size:.93em}
td,th{border:1px solid #d0d7de;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f6f8fa}tbody tr:nth-child(even){background:#fbfcfd}
table.devices td:nth-child(n+7):nth-child(-n+9){text-align:right}
.badge{display:inline-block;white-space:nowrap;padding:0 .5em;border-radius:1em;font-size:.85em;
font-weight:600;border:1px solid currentColor;vertical-align:middle}
.badge.small{font-size:.75em}.verified,.pass{color:#1a7f37;background:#e8f5ec}
.refuted,.fail{color:#b42318;background:#fdecea}.inconclusive,.declared{color:#9a4a00;background:#fff4e0}
.sim{color:#7a5200;background:#fff8c5}
.banner{background:#fff8c5;border:1px solid #d4a72c;padding:.6em .9em;border-radius:6px;font-weight:600}
.note{color:#59636e;font-size:.9em}.simnote{color:#7a5200}
dl.numbers{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.4em 0}
dl.numbers dt,dl.meta dt{color:#59636e}dl.numbers dd,dl.meta dd{margin:0}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;font-size:.92em}
figure{margin:.6em 0}figcaption{color:#59636e;font-size:.88em}
svg{max-width:100%;height:auto}.nowrap{white-space:nowrap}code,pre{background:#f6f8fa;border-radius:4px}
pre{padding:.6em .8em;overflow-x:auto;white-space:pre-wrap}.fp{font-family:monospace;word-break:break-all}
ul.inline{padding-left:1.2em;columns:3 16em}article.claim{margin-top:1.5em}
article.claim+article.claim{border-top:1px solid #d0d7de}
details summary{cursor:pointer;margin:.4em 0}
@media print{#en,#zh{display:block!important}nav.langs{display:none}#en{page-break-after:always}}
"""
BUNDLE_FILES = tuple(k[len("file.") :] for k in CATALOG if k.startswith("file."))


def render(ev: dict[str, Any], fingerprint: str | None) -> str:
    """The whole page (ends with a newline); both languages, Chinese shown first."""
    p = ev["parameters"]
    title = " · ".join(f"{CATALOG['report.title'][lang]} {p['window']}" for lang in LANGS)
    switch = " ".join(f"<a href='#{lang}' lang='{HTML_LANG[lang]}'>{LANG_NAMES[lang]}</a>" for lang in LANGS)
    languages = e(" / ".join(CATALOG["report.language"][lang] for lang in LANGS))
    # English first in the document so `#en:target ~ #zh` can hide the Chinese section.
    pages = "".join(_page(ev, lang, fingerprint) for lang in ("en", "zh"))
    return (
        f"<!DOCTYPE html><html lang='{HTML_LANG['zh']}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f"<nav class='langs' aria-label='{languages}'>{languages}: {switch}</nav>"
        f"{pages}</body></html>\n"
    )


def _page(ev: dict[str, Any], lang: Lang, fingerprint: str | None) -> str:
    p = ev["parameters"]
    generated = t(
        "report.generated",
        lang,
        when=formats.moment(ev["generated_at"], lang),
        version=ev["software"]["version"],
        storage=ev["storage"],
    )
    sections = [
        ("glance", _glance(ev, lang, fingerprint)),
        ("verify", _verify(ev, lang, fingerprint)),
        ("claims", claims_section(ev, lang)),
        *([("application", application_section(ev, lang))] if included(ev) else []),
        ("figures", figures_section(ev, lang)),
        ("devices", devices_section(ev, lang)),
        ("tiers", tiers_section(ev, lang)),
        *([("quality", quality_section.render(ev, lang))] if ev.get("quality") else []),
        ("parameters", _parameters(ev, lang)),
        ("definitions", _definitions(ev, lang)),
        ("sources", _sources(ev, lang)),
    ]
    dates = formats.period(p["window_start"][:10], _last_day(p), lang)
    contents = "".join(f"<li><a href='#{lang}-{k}'>{t(f'section.{k}', lang)}</a></li>" for k, _ in sections)
    return (
        f"<div class='lang' id='{lang}' lang='{HTML_LANG[lang]}'>"
        f"<h1>{t('report.title', lang)} — {t('report.window', lang, window=p['window'])}</h1>"
        f"<p>{t('report.window_dates', lang, period=dates)} {generated}</p>"
        f"{_banner(ev, lang)}<nav aria-label='{t('report.contents', lang)}'><ol>{contents}</ol></nav>"
        + "".join(body for _, body in sections)
        + f"<p class='note'>{t('report.offline', lang)}</p></div>"
    )


def _last_day(p: dict[str, Any]) -> str:
    return (date.fromisoformat(p["window_end"][:10]) - timedelta(days=1)).isoformat()


def _banner(ev: dict[str, Any], lang: Lang) -> str:
    rows = device_rows(figures_of(ev))
    claim_devices = {d for c in (ev.get("claims") or {}).get("results") or [] for d in c.get("devices") or []}
    claim_sims = {
        d for c in (ev.get("claims") or {}).get("results") or [] for d in c.get("simulated_devices") or []
    }
    names = {str(r["device"]) for r in rows} | claim_devices
    sims = {str(r["device"]) for r in rows if r.get("simulated")} | claim_sims
    if not sims:
        return ""
    n, total = formats.number(len(sims), lang), formats.number(len(names), lang)
    return f"<p class='banner'>{t('report.simulated_banner', lang, simulated=n, total=total)}</p>"


def _glance(ev: dict[str, Any], lang: Lang, fingerprint: str | None) -> str:
    window = ev["parameters"]["window"]
    body = (
        f"<h3>{t('glance.claims', lang)}</h3>{claims_glance(ev, lang)}"
        f"<h3>{t('glance.figures', lang, window=window)}</h3>"
        f"{table(headline_head(lang), headline_rows(ev, lang), lang)}"
        f"<p>{t('verify.fingerprint', lang)}: <span class='fp'>{e(fingerprint or '—')}</span></p>"
    )
    return section(f"{lang}-glance", t("section.glance", lang), body)


def _verify(ev: dict[str, Any], lang: Lang, fingerprint: str | None) -> str:
    del ev
    font = charts.cjk_font() or CATALOG["verify.no_cjk_font"][lang]
    fp = e(fingerprint) if fingerprint else t("verify.no_fingerprint", lang)
    rendered_with = t("verify.rendered_with", lang, matplotlib=charts.matplotlib_version(), font=font)
    body = (
        f"<p>{t('verify.fingerprint', lang)}:</p><pre class='fp'>{fp}</pre>"
        f"<p>{t('verify.how', lang)}</p><pre>plantproof evidence verify BUNDLE --pubkey trusted.pem</pre><ul>"
        f"<li>{t('verify.verified', lang)}</li><li>{t('verify.untrusted', lang)}</li>"
        f"<li>{t('verify.failed', lang)}</li></ul>"
        f"<p>{t('verify.recompute', lang)}</p><pre>plantproof evidence verify BUNDLE --pubkey trusted.pem"
        " --recompute --dsn DSN</pre>"
        f"<p>{t('verify.rerender', lang)} {rendered_with}</p>"
        "<pre>plantproof evidence render BUNDLE</pre>"
    )
    return section(f"{lang}-verify", t("section.verify", lang), body)


def _parameters(ev: dict[str, Any], lang: Lang) -> str:
    p = ev["parameters"]
    values = {
        "window": e(p["window"]),
        "window_start": e(formats.moment(p["window_start"], lang)),
        "window_end": e(formats.moment(p["window_end"], lang)),
        "window_days": num(p["window_days"], lang),
        "as_of": e(formats.moment(p["as_of"], lang)),
        "min_active_days_ratio": e(formats.share(p["min_active_days_ratio"], lang, 0)),
        "include_simulated": num(bool(p["include_simulated"]), lang),
        "storage": e(ev["storage"]),
        "database": e(" ".join(f"{k}={v}" for k, v in sorted((ev.get("database") or {}).items())) or "—"),
        "software": e(f"{ev['software']['name']} {ev['software']['version']}"),
    }
    rows = [[t(f"param.{k}", lang) if has(f"param.{k}") else e(k), v] for k, v in values.items()]
    rows += [[e(k), num(v, lang)] for k, v in p.items() if k not in values]  # parameters added later
    body = table([t("param.name", lang), t("param.value", lang)], rows, lang)
    return section(f"{lang}-parameters", t("section.parameters", lang), body)


def _definitions(ev: dict[str, Any], lang: Lang) -> str:
    rows = []
    for key, english in ev["definitions"].items():
        name = (
            lbl(f"fig.{key}", lang)
            if has(f"fig.{key}")
            else t(f"def.{key}", lang)
            if has(f"def.{key}")
            else e(key)
        )
        if lang == "zh" and key in DEFINITIONS_ZH:
            rows.append(
                [name, f"{e(DEFINITIONS_ZH[key])}<br><span class='note' lang='en'>{e(english)}</span>"]
            )
        else:
            rows.append([name, e(english)])
    body = table([t("def.term", lang), t("def.text", lang)], rows, lang)
    return section(f"{lang}-definitions", t("section.definitions", lang), body)


def _sources(ev: dict[str, Any], lang: Lang) -> str:
    rows = [
        [t("src.guidelines_000", lang), f"<code>{e(TIER_SOURCE_FILE)}</code>", t("src.tier_thresholds", lang)]
    ]
    declared = ev.get("declared") or {}
    declared_file = Path(str(declared.get("path") or "")).name
    documents: dict[str, list[str]] = {}
    for key, v in sorted((declared.get("values") or {}).items()):
        documents.setdefault(str(v["source"]), []).append(key)
    for source, keys in documents.items():
        ident, _, title = source.partition(": ")
        used = formats.listing([_figure_text(k, lang) for k in keys], lang)
        rows.append(
            [
                f"{e(title or ident)} <span class='note'>{e(ident) if title else ''}</span>",
                f"<code>{e(declared_file)}</code>",
                e(used),
            ]
        )
    claims = ev.get("claims") or {}
    for c in claims.get("results") or [] if claims.get("included") else []:
        used = e(c.get("title") or c.get("id")) + (f" ({t('simulated', lang)})" if is_simulated(c) else "")
        rows.append(
            [e(c.get("source") or "—"), f"<code>{e(claims.get('file') or 'claims.yaml')}</code>", used]
        )
    body = table([t("src.document", lang), t("src.file", lang), t("src.used_for", lang)], rows, lang)
    if not documents:
        body += f"<p class='note'>{t('src.declared_none', lang)}</p>"
    present = [n for n in BUNDLE_FILES if n != "claims.yaml" or claims.get("included")]
    files = [[f"<code>{e(n)}</code>", t(f"file.{n}", lang)] for n in present]
    body += f"<h3>{t('src.bundle_files', lang)}</h3>" + table(
        [t("src.file", lang), t("src.used_for", lang)], files, lang
    )
    return section(f"{lang}-sources", t("section.sources", lang), body)


def _figure_text(key: str, lang: Lang) -> str:
    return label(f"fig.{key}", lang) if has(f"fig.{key}") else key
