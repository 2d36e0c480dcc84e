"""`plantproof evidence`: export a signed bundle, verify one, print the signing key, render the page again.

`render` re-renders report.html: the page is a pure function of evidence.json and pubkey.pem, so the
same plantproof, matplotlib and chart font give the same bytes; a difference means the page was
altered or the software differs.
"""

from __future__ import annotations

from pathlib import Path

import typer

from collector.commands.common import (
    WINDOW_SYNTAX,
    DeclaredOpt,
    DsnOpt,
    JsonOpt,
    KeyOpt,
    OptionalDsnOpt,
    RatioOpt,
    SimOpt,
    WindowOpt,
    echo_json,
    errors,
    params_for,
    period_for,
)
from infra.cli import EXIT_NO, EXIT_NOT_PROVEN, fail

ClaimsOpt = typer.Option(None, "--claims", help="claims YAML to verify and include")
BaselineOpt = typer.Option(None, "--baseline", help=f"application table, before: {WINDOW_SYNTAX}")
ReportingOpt = typer.Option(None, "--reporting", help=f"application table, after: {WINDOW_SYNTAX}")
BundleArg = typer.Argument(..., help="bundle directory")
OutOpt = typer.Option(..., "--out", "-o", help="output directory (created; must be empty)")
RenderOutOpt = typer.Option(None, "--out", "-o", help="also write the re-rendered page here")
RecomputeOpt = typer.Option(
    False, "--recompute", help="recompute every figure and claim from the database (--dsn) and compare"
)
PubkeyOpt = typer.Option(
    None, "--pubkey", help="the public key you trust (PEM, e.g. from `evidence pubkey` by the operator)"
)

app = typer.Typer(help="Signed evidence bundles: export, verify, pubkey, render.", no_args_is_help=True)


@app.command("export")
def evidence_export(
    out: Path = OutOpt,
    window: str | None = WindowOpt,
    claims: Path | None = ClaimsOpt,
    declared: Path | None = DeclaredOpt,
    dsn: str = DsnOpt,
    key: Path = KeyOpt,
    include_simulated: bool = SimOpt,
    ratio: float = RatioOpt,
    baseline: str | None = BaselineOpt,
    reporting: str | None = ReportingOpt,
) -> None:
    """Write a signed evidence bundle; with --baseline and --reporting it holds the application's
    results table (工厂整体建设成效) over all plant devices too."""
    from collector.evidence.bundle import export
    from collector.figures.declared import load_declared
    from infra.progress import Progress

    if (baseline is None) != (reporting is None):
        raise fail("--baseline and --reporting go together (the application table's two periods)")
    with errors(), Progress("evidence", unit="steps") as progress:  # on stderr
        params = params_for(window, ratio, include_simulated)
        application = None
        if baseline is not None and reporting is not None:
            from collector.application.measure import load_application
            from collector.application.table import Periods
            from collector.kpi.claims import Scope

            periods = Periods(period_for(baseline), period_for(reporting), Scope())
            application = (periods, load_application(declared))
        done = export(
            dsn,
            params,
            out,
            declared=load_declared(declared),
            claims_path=claims,
            key_path=key,
            progress=progress,
            application=application,
        )
    typer.echo(f"bundle {done.path}: {', '.join(done.files)}")
    typer.echo(f"signed by {done.fingerprint}")


@app.command("verify")
def evidence_verify(
    bundle_dir: Path = BundleArg,
    recompute: bool = RecomputeOpt,
    dsn: str | None = OptionalDsnOpt,
    pubkey: Path | None = PubkeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Check signature and digests; with --recompute, recompute figures (and claims) and compare.

    Exit status: 0 verified (consistent and signed by the --pubkey key); 3 consistent but signed by a
    key you have not said you trust (no --pubkey): the fingerprint is printed, compare it with the
    operator's published key; 1 failed (a file, the signature or a recomputed figure differs);
    2 the bundle or the database could not be read.
    """
    from collector.evidence.verify import verify_bundle

    if recompute and not dsn:
        raise fail("--recompute needs --dsn (or PLANTPROOF_COLLECTOR_DSN)", as_json)
    with errors(as_json):
        result = verify_bundle(bundle_dir, pubkey=pubkey, recompute_dsn=dsn if recompute else None)
    if as_json:
        echo_json(result.to_json())
    else:
        typer.echo(f"key: {result.fingerprint or '—'} ({result.key_source or 'no key'})")
        typer.echo(f"files with matching digests: {', '.join(result.files_checked) or 'none'}")
        if recompute:
            typer.echo(f"recomputed from the database: {'yes' if result.recomputed else 'no'}")
        for problem in result.problems:
            typer.echo(f"FAIL {problem}")
        if result.status == "failed":
            typer.echo(f"FAILED ({len(result.problems)} problems)")
        elif result.status == "untrusted":
            typer.echo(
                f"NOT VERIFIED: the bundle is internally consistent but signed by an untrusted key"
                f" {result.fingerprint}; anyone who altered it could have re-signed it. Get the"
                " operator's public key (`plantproof evidence pubkey`) and run again with --pubkey."
            )
        else:
            typer.echo(f"OK: verified with the trusted key {result.fingerprint}")
    if result.status == "failed":
        raise typer.Exit(EXIT_NO)
    if result.status == "untrusted":
        raise typer.Exit(EXIT_NOT_PROVEN)


@app.command("pubkey")
def evidence_pubkey(key: Path = KeyOpt) -> None:
    """Print the public key evidence bundles are signed with (generating the key pair if needed)."""
    from collector.evidence import signing

    with errors():
        private = signing.load_or_create_key(key)
    typer.echo(signing.public_pem(private).decode(), nl=False)
    typer.echo(f"# fingerprint {signing.fingerprint(private.public_key())}")


@app.command("render")
def render_cmd(bundle_dir: Path = BundleArg, out: Path | None = RenderOutOpt) -> None:
    """Render report.html from the bundle's evidence.json and pubkey.pem; exit 1 if it differs."""
    from collector.evidence.bundle import REPORT, rendered_report
    from collector.evidence.charts import cjk_font, matplotlib_version

    with errors():
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
    raise typer.Exit(EXIT_NO)
