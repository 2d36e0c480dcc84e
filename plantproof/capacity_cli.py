"""`plantproof capacity`: a synthetic, labelled fleet the collector manages (needs the simulators)."""

from __future__ import annotations

import typer

from collector.commands.common import DsnOpt, JsonOpt, echo_json, errors, fmt


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
    from infra.progress import Progress
    from plantproof.capacity import run_capacity

    # on stderr: stdout (--json included) carries the report alone
    with errors(), Progress("capacity", unit="devices") as progress:
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
            progress=progress,
        )
    if as_json:
        echo_json(report.to_json())
        return
    r = report.to_json()
    typer.echo(f"capacity run {r['run_id']} (synthetic, namespace {r['namespace']})")
    typer.echo(
        f"  registered {r['devices_registered']}, sampled {r['devices_sampled']}, answered {r['answered']}"
    )
    typer.echo(f"  success rate {r['success_rate']:.4f}")
    lat = r["latency_ms"]
    typer.echo(f"  latency ms p50 {fmt(lat['p50'])}  p95 {fmt(lat['p95'])}  p99 {fmt(lat['p99'])}")
    typer.echo(f"  {r['notes']}")
