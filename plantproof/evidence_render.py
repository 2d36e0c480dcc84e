"""`plantproof evidence render BUNDLE`: render report.html again and compare it with the bundle's.

The page is a pure function of evidence.json and pubkey.pem, so the same plantproof, matplotlib and
chart font give the same bytes; a difference means the page was altered or the software differs.
"""

from __future__ import annotations

from pathlib import Path

import typer

BundleArg = typer.Argument(..., help="bundle directory")
OutOpt = typer.Option(None, "--out", help="also write the re-rendered page here")


def render_cmd(bundle_dir: Path = BundleArg, out: Path | None = OutOpt) -> None:
    """Render report.html from the bundle's evidence.json and pubkey.pem; exit 1 if it differs."""
    from collector.evidence.bundle import REPORT, rendered_report
    from collector.evidence.charts import cjk_font, matplotlib_version
    from plantproof.reports import _errors

    with _errors():
        fresh = rendered_report(bundle_dir).encode("utf-8")
        if out is not None:
            out.write_bytes(fresh)
        bundled = (bundle_dir / REPORT).read_bytes()
    if fresh == bundled:
        typer.echo(f"{REPORT}: identical to the page rendered from evidence.json ({len(fresh):,} bytes)")
        return
    at = next(
        (i for i, (a, b) in enumerate(zip(fresh, bundled, strict=False)) if a != b),
        min(len(fresh), len(bundled)),
    )
    typer.echo(
        f"{REPORT}: differs from the page rendered from evidence.json at byte {at:,}"
        f" ({len(bundled):,} bytes in the bundle, {len(fresh):,} rendered with matplotlib"
        f" {matplotlib_version()}, chart font {cjk_font() or 'none'}). Either the page was altered or"
        " this software or its fonts differ from the exporter's; evidence verify tells which files the"
        " signature covers."
    )
    raise typer.Exit(1)
