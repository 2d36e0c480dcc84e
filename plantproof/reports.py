"""Top-level commands for operators and auditors: figures, tiers, evidence, capacity.

Heavy modules (psycopg, paho, cryptography) are imported inside the commands so that
`plantproof --help` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

DsnOpt = typer.Option(
    ..., "--dsn", envvar="PLANTPROOF_COLLECTOR_DSN", help="PostgreSQL DSN (env PLANTPROOF_COLLECTOR_DSN)"
)
WindowOpt = typer.Option(
    None, "--window", help="YYYY-MM, or A..B (months or days, inclusive); default: the last complete month"
)
SimOpt = typer.Option(False, "--include-simulated", help="count simulated devices in headline figures")
RatioOpt = typer.Option(
    0.5, "--min-active-days-ratio", help="default rule: share of the window's days active"
)
JsonOpt = typer.Option(False, "--json", help="machine-readable output")
DeclaredOpt = typer.Option(None, "--declared", help="declared.yaml with figures plant data cannot measure")
KeyOpt = typer.Option(
    Path("~/.config/plantproof/evidence-ed25519.pem"),
    "--key",
    envvar="PLANTPROOF_COLLECTOR_EVIDENCE__KEY",
    help="signing key, created on first use (env PLANTPROOF_COLLECTOR_EVIDENCE__KEY)",
)
OutOpt = typer.Option(..., "--out", help="output directory (created; must be empty)")
ClaimsOpt = typer.Option(None, "--claims", help="claims YAML to verify and include")
BundleArg = typer.Argument(..., help="bundle directory")
RecomputeOpt = typer.Option(None, "--recompute", help="DSN: recompute every figure and compare")
PubkeyOpt = typer.Option(
    None, "--pubkey", help="the public key you trust (PEM, e.g. from `evidence pubkey` by the operator)"
)
# `evidence verify` exit status (0 and 2 as everywhere: ok, usage or database error)
EXIT_FAILED, EXIT_UNTRUSTED = 1, 3

evidence_app = typer.Typer(help="Signed evidence bundles: export, verify, pubkey.", no_args_is_help=True)


@contextmanager
def _errors() -> Iterator[None]:
    """Our errors and database errors become one clear line and exit code 2."""
    import psycopg

    from collector.errors import CollectorError

    try:
        yield
    except (CollectorError, psycopg.Error, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _params(window: str | None, ratio: float, include_simulated: bool) -> Any:
    from datetime import UTC, datetime

    from collector.figures.compute import Parameters
    from collector.figures.window import parse_window

    now = datetime.now(UTC)
    return Parameters(parse_window(window, now), now, ratio, include_simulated)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_figures(figures: dict[str, Any], params: Any) -> None:
    p = params.to_json()
    typer.echo(f"window {p['window']} ({p['window_days']} days, UTC); {figures['counting']}")
    typer.echo(f"{'figure':58} {'value':>12} {'simulated':>10}")
    for rule in ("default", "any_day", "every_day"):
        c = figures["connected_equipment"][rule]
        label = f"connected equipment, {rule} (>= {c['min_active_days']} active days)"
        typer.echo(f"{label:58} {_fmt(c['value']):>12} {_fmt(c['simulated']):>10}")
    for rule in ("default", "any_day", "every_day"):
        d = figures["data_collection_points"][rule]
        typer.echo(
            f"{'data-collection points, ' + rule:58} {_fmt(d['value']):>12} {_fmt(d['simulated']):>10}"
        )
    for key in ("equipment_types", "industries", "managed_equipment"):
        f = figures[key]
        typer.echo(f"{key.replace('_', ' '):58} {_fmt(f['value']):>12} {_fmt(f['simulated']):>10}")
    inv = figures["monthly_model_invocations"]
    typer.echo(f"{'monthly model invocations (avg of complete months)':58} {_fmt(inv['value']):>12}")
    typer.echo("  per month: " + ", ".join(f"{m} {n}" for m, n in inv["per_month"].items()))
    cap = figures["demonstrated_management_capacity"]
    if cap:
        typer.echo(
            f"demonstrated management capacity (synthetic): {_fmt(cap['value'])} devices answered of"
            f" {_fmt(cap['devices_sampled'])} sampled, {_fmt(cap['devices_registered'])} registered;"
            f" success rate {_fmt(cap['success_rate'])}; run {cap['run_id']} on {cap['date']}"
            " — not managed equipment"
        )
    else:
        typer.echo("demonstrated management capacity (synthetic): no capacity run recorded")
    typer.echo("by industry: " + ", ".join(
        f"{k} {v['connected_equipment']} devices/{v['data_collection_points']} points"
        for k, v in figures["breakdown_by_industry"].items()
    ) or "—")  # fmt: skip
    any_day = figures["connected_equipment"]["any_day"]
    default_ids = {m["device_id"] for m in figures["connected_equipment"]["default"]["members"]}
    default_ids |= {m["device_id"] for m in figures["connected_equipment"]["default"]["simulated_members"]}
    typer.echo("\nmembers (devices with any valid reading; * counted at the default rule):")
    typer.echo(f"  {'device':32} {'type':18} {'ind.':5} {'days':>4} {'messages':>9}  first seen / last seen")
    for m in any_day["members"] + any_day["simulated_members"]:
        mark = "*" if m["device_id"] in default_ids else " "
        sim = " (simulated)" if m["simulated"] else ""
        typer.echo(
            f"{mark} {m['device'] + sim:32} {m['type']:18} {m['industry']:5} {m['active_days']:>4}"
            f" {m['messages']:>9}  {m['first_seen']} / {m['last_seen']}"
        )


def figures_cmd(
    window: str | None = WindowOpt,
    dsn: str = DsnOpt,
    as_json: bool = JsonOpt,
    include_simulated: bool = SimOpt,
    ratio: float = RatioOpt,
) -> None:
    """Platform figures for a window, each with its members (DESIGN §5)."""
    from collector.figures import queries
    from collector.figures.compute import DEFINITIONS

    with _errors():
        params = _params(window, ratio, include_simulated)
        figures, loaded = queries.figures(dsn, params)
    if as_json:
        _echo_json({"parameters": params.to_json(), "storage": loaded.storage, "definitions": DEFINITIONS,
                    "figures": figures})  # fmt: skip
    else:
        print_figures(figures, params)


def tiers_cmd(
    window: str | None = WindowOpt,
    declared: Path | None = DeclaredOpt,
    dsn: str = DsnOpt,
    as_json: bool = JsonOpt,
    include_simulated: bool = SimOpt,
    ratio: float = RatioOpt,
) -> None:
    """Every threshold of the platform tiers with measured value and pass / fail, or declared."""
    from collector.figures import queries
    from collector.figures.declared import load_declared
    from collector.figures.tiers import evaluate

    with _errors():
        params = _params(window, ratio, include_simulated)
        decl = load_declared(declared)
        figures, _ = queries.figures(dsn, params)
    result = evaluate(figures, decl)
    if as_json:
        _echo_json({"parameters": params.to_json(), "declared": decl.to_json(), "tiers": result})
        return
    typer.echo(f"window {params.window.label}; {figures['counting']}")
    for tier, t in result.items():
        typer.echo(f"\n{tier}: {t['verdict']}   [{t['source']}]")
        for r in t["thresholds"]:
            status = r["status"] + (
                "" if r["status"] != "declared" else " (meets)" if r["met"] else " (short)"
            )
            src = "" if r["source"] == "measured" else f"  source: {r['source'] or r['note']}"
            typer.echo(
                f"  {r['id']:4} {r['figure']:38} >= {_fmt(r['minimum']):>10}  value {_fmt(r['value']):>10}"
                f"  {status}{src}"
            )


@evidence_app.command("export")
def evidence_export(
    out: Path = OutOpt,
    window: str | None = WindowOpt,
    claims: Path | None = ClaimsOpt,
    declared: Path | None = DeclaredOpt,
    dsn: str = DsnOpt,
    key: Path = KeyOpt,
    include_simulated: bool = SimOpt,
    ratio: float = RatioOpt,
) -> None:
    """Write a signed evidence bundle."""
    from collector.evidence.bundle import export
    from collector.figures.declared import load_declared

    with _errors():
        params = _params(window, ratio, include_simulated)
        done = export(dsn, params, out, declared=load_declared(declared), claims_path=claims, key_path=key)
    typer.echo(f"bundle {done.path}: {', '.join(done.files)}")
    typer.echo(f"signed by {done.fingerprint}")


@evidence_app.command("verify")
def evidence_verify(
    bundle_dir: Path = BundleArg,
    recompute: str | None = RecomputeOpt,
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

    with _errors():
        result = verify_bundle(bundle_dir, pubkey=pubkey, recompute_dsn=recompute)
    if as_json:
        _echo_json(result.to_json())
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
        raise typer.Exit(EXIT_FAILED)
    if result.status == "untrusted":
        raise typer.Exit(EXIT_UNTRUSTED)


@evidence_app.command("pubkey")
def evidence_pubkey(key: Path = KeyOpt) -> None:
    """Print the public key evidence bundles are signed with (generating the key pair if needed)."""
    from collector.evidence import signing

    with _errors():
        private = signing.load_or_create_key(key)
    typer.echo(signing.public_pem(private).decode(), nl=False)
    typer.echo(f"# fingerprint {signing.fingerprint(private.public_key())}")


def capacity_cmd(
    devices: int = typer.Option(..., "--devices", min=1, help="synthetic devices to register"),
    sample: int | None = typer.Option(None, "--sample", min=1, help="ping a random sample of this many"),
    mqtt: str = typer.Option("mqtt://127.0.0.1:1883", "--mqtt", envvar="PLANTPROOF_COLLECTOR_MQTT__URL"),
    dsn: str = DsnOpt,
    offline: int = typer.Option(0, "--offline", min=0, help="devices the simulated fleet leaves silent"),
    per_gateway: int = typer.Option(1000, "--per-gateway", min=1, help="devices per simulated gateway"),
    timeout: float = typer.Option(30.0, "--timeout", help="seconds to wait for each answer"),
    seed: int | None = typer.Option(None, "--seed", help="seed of the random sample"),
    as_json: bool = JsonOpt,
) -> None:
    """Demonstrate management capacity with a synthetic, labelled population (never managed equipment)."""
    from collector.migrate import migrate
    from plantproof.capacity import run_capacity

    with _errors():
        migrate(dsn)
        report = run_capacity(
            dsn,
            mqtt,
            devices,
            sample=sample,
            offline=offline,
            per_gateway=per_gateway,
            timeout=timeout,
            seed=seed,
        )
    if as_json:
        _echo_json(report.to_json())
        return
    r = report.to_json()
    typer.echo(f"capacity run {r['run_id']} (synthetic, namespace {r['namespace']})")
    typer.echo(
        f"  registered {r['devices_registered']}, sampled {r['devices_sampled']}, answered {r['answered']}"
    )
    typer.echo(f"  success rate {r['success_rate']:.4f}")
    lat = r["latency_ms"]
    typer.echo(f"  latency ms p50 {_fmt(lat['p50'])}  p95 {_fmt(lat['p95'])}  p99 {_fmt(lat['p99'])}")
    typer.echo(f"  {r['notes']}")


def register(root: typer.Typer) -> None:
    """Mount the reporting commands on the root app."""
    root.command("figures")(figures_cmd)
    root.command("tiers")(tiers_cmd)
    from plantproof.evidence_render import render_cmd

    evidence_app.command("render")(render_cmd)
    root.add_typer(evidence_app, name="evidence")
    root.command("capacity")(capacity_cmd)
