"""One CLI dialect: every command spells the shared options and their short flags the same way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer
from typer.testing import CliRunner

from plantproof.cli import app

SHORT = {"--window": "-w", "--json": "-j", "--out": "-o", "--key": "-k", "--config": "-c", "--plant": "-p"}


def _commands(group: Any, path: str = "plantproof") -> Iterator[tuple[str, Any]]:
    yield path, group
    if hasattr(group, "commands"):  # a group (typer may bundle its own click, so no isinstance)
        for name, sub in group.commands.items():
            yield from _commands(sub, f"{path} {name}")


def test_shared_options_carry_the_same_short_flag_everywhere() -> None:
    seen: dict[str, int] = dict.fromkeys(SHORT, 0)
    wrong = []
    for path, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            for long, short in SHORT.items():
                if long in param.opts:
                    seen[long] += 1
                    if short not in param.opts:
                        wrong.append(f"{path} {long}: {param.opts}")
            stray = [o for o in param.opts if len(o) == 2 and o not in SHORT.values()]
            if stray:
                wrong.append(f"{path}: short flag {stray} outside the shared set")
    assert wrong == []
    assert all(seen.values()), seen  # each shared option is in use somewhere


def test_dash_h_is_help_at_every_level() -> None:
    runner = CliRunner()
    for args in (["-h"], ["evidence", "verify", "-h"], ["collector", "import", "-h"], ["sim", "-h"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and "Usage:" in res.output, (args, res.output)
