"""The ``calibrate`` command line: a thin shell over the library.

Every command calls one library function and prints its result, as text or with ``--json`` as one
JSON object on stdout. User mistakes (:class:`calibrate.errors.CalibrateError`) become a clear
message on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from calibrate.errors import CalibrateError

app = typer.Typer(
    name="calibrate",
    help="Trustworthy scoring of educator micro-credentials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def emit_json(payload: Any) -> None:
    """Print ``payload`` as JSON (NaN becomes null, as JSON has no NaN)."""
    typer.echo(json.dumps(_json_safe(payload), indent=2, allow_nan=False))


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if obj != obj or obj in (float("inf"), float("-inf")) else obj
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def main() -> None:
    """Entry point: run the app, turning user mistakes into one clear message and exit status 1."""
    try:
        app(standalone_mode=False)
    except CalibrateError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
