"""`plantproof demo`: the whole system, embedded, on one machine (the work is in demo_run)."""

from pathlib import Path

import typer

KeepOpt = typer.Option(False, "--keep", help="Leave the stack running and print how to connect.")
OutOpt = typer.Option(Path("demo-output"), "--out", "-o", help="Where the stack and the bundle go.")
IntervalOpt = typer.Option(600.0, "--interval", help="History sample interval, s.")
KafkaOpt = typer.Option(
    False, "--kafka", help="Ingest through the bridge and Kafka (Tansu), two collectors in one group."
)


def demo(
    keep: bool = KeepOpt, out: Path = OutOpt, interval: float = IntervalOpt, kafka: bool = KafkaOpt
) -> None:
    """Run the embedded demo stack (simulated plant → gateway → broker → collector → figures)."""
    from plantproof.demo_run import run_demo

    run_demo(keep, out, interval, kafka)
