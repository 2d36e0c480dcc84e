"""The `plantproof` command: mounts each package's commands."""

import typer

from api.cli import app as api_app
from assessment import cli as assessment_cli
from bridge.cli import app as bridge_app
from collector import commands as collector_commands
from collector.cli import app as collector_app
from gateway.cli import app as gateway_app
from plantproof import __version__, capacity_cli
from plantproof.demo import demo
from plantproof.manage import app as manage_app
from simulators.cli import app as sim_app

app = typer.Typer(
    name="plantproof",
    help="Industrial telemetry gateway and platform-metrics collector with verifiable figures.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every subcommand
)
app.add_typer(gateway_app, name="gateway")
collector_commands.mount(app, collector_app)
app.add_typer(collector_app, name="collector")
app.add_typer(sim_app, name="sim")
app.add_typer(bridge_app, name="bridge")
app.add_typer(manage_app, name="manage")
app.add_typer(api_app, name="api")
app.command("demo")(demo)
app.command("capacity")(capacity_cli.capacity_cmd)
assessment_cli.register(app)


@app.command("version")
def version() -> None:
    """Print the software version."""
    typer.echo(__version__)


def main() -> None:
    app()
