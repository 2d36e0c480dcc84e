"""What every command shares: its exit statuses and how it reports an error.

Exit status 0 is success and 2 an input, settings or database that cannot be used, everywhere;
commands whose answer can be "no" use 1 for it and 3 for "not proven" (README, command conventions).
Under `--json` an error is a JSON object on stdout, so a pipeline parsing stdout sees it.
"""

from __future__ import annotations

import json

import typer

EXIT_OK, EXIT_NO, EXIT_ERROR, EXIT_NOT_PROVEN = 0, 1, 2, 3


def fail(message: str, as_json: bool = False, code: int = EXIT_ERROR) -> typer.Exit:
    """Report one error and return the `typer.Exit` to raise."""
    if as_json:
        typer.echo(json.dumps({"error": message, "exit_code": code}, ensure_ascii=False))
    else:
        typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)
