"""The `wk` command: parses arguments, calls the Python API, prints the result.

One module per group of commands (`build`, `outputs`, `analysis`, `streaming`, `lakehouse`,
`lineage`, `docs`, `tables`, `monitoring`, `operate`, `start`); `base` holds what they share."""

from __future__ import annotations

import logging
import sys

import typer

from warehouse_kit.apps.cli import (  # noqa: F401 - they add the commands
    analysis,
    build,
    docs,
    lakehouse,
    lineage,
    monitoring,
    operate,
    outputs,
    start,
    streaming,
    tables,
)
from warehouse_kit.apps.cli.base import WAIT_S, _state, app, errors
from warehouse_kit.core.errors import WarehouseKitError, first_line
from warehouse_kit.core.extras import missing_extra

__all__ = ["WAIT_S", "app", "main"]


class _Notices(logging.Handler):
    """Prints what the library logs as it happens (a wait for a locked warehouse)."""

    def emit(self, record: logging.LogRecord) -> None:
        errors.print(record.getMessage(), highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point of the `wk` console script."""
    library = logging.getLogger("warehouse_kit")
    library.addHandler(_Notices(logging.WARNING))
    library.propagate = False
    try:
        app()
    except WarehouseKitError as exc:
        _fail(exc, str(exc))
    except ModuleNotFoundError as exc:  # a package of an extra that is not installed
        hint = missing_extra(exc, command_name(sys.argv[1:]))
        _fail(exc, str(hint) if hint else f"{type(exc).__name__}: {first_line(exc)}")
    except Exception as exc:  # an unexpected failure still gets one line
        _fail(exc, f"{type(exc).__name__}: {first_line(exc)} (run with --debug for the traceback)")


def command_name(argv: list[str]) -> str:
    """The command `argv` runs, as the user typed it (``wk notebooks refresh``)."""
    command = typer.main.get_command(app)
    words = ["wk"]
    for arg in argv:
        if arg.startswith("-"):  # the options before the command: --debug
            continue
        subcommands = getattr(command, "commands", {})  # a group's (typer vendors click)
        if arg not in subcommands:
            break
        command = subcommands[arg]
        words.append(arg)
    return " ".join(words)


def _fail(exc: BaseException, message: str) -> None:
    if _state["debug"]:
        raise exc
    # Several problems (a pipeline file's, `ConfigErrors`) are one line each.
    lines = "\n".join(f"error: {line}" for line in message.splitlines() or [""])
    errors.print(lines, highlight=False, soft_wrap=True)
    sys.exit(1)
