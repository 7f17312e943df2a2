"""The errors warehouse-kit raises.

Every error derives from `WarehouseKitError`, and its message is meant to be
shown to a user as one line: it names the file, key, model, column or row
involved and, where it can, what to do about it. The CLI prints that line and
exits non-zero; `--debug` shows the traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class WarehouseKitError(Exception):
    """Root of every error warehouse-kit raises on purpose."""


class ConfigError(WarehouseKitError):
    """A project or pipeline file is invalid.

    `file` and `key_path` (``pipeline.transformations[1].operations[0]``) say
    where; they prefix the message when present.
    """

    def __init__(self, message: str, *, file: str | None = None, key_path: str | None = None):
        self.message = message
        self.file = file
        self.key_path = key_path
        where = ": ".join(part for part in (file, key_path) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigErrors(ConfigError):
    """Several problems of one file, found together: one `ConfigError` line each."""

    def __init__(self, errors: Sequence[ConfigError]):
        self.errors = tuple(errors)
        super().__init__("\n".join(str(error) for error in self.errors))
        self.file = next((error.file for error in self.errors), None)


class ExpressionError(WarehouseKitError):
    """A SQL expression from a pipeline file cannot be used.

    Raised for a syntax error, an unknown column or function, or a construct
    that is not allowed where it appears (an aggregate in a row rule).
    """


class SourceError(WarehouseKitError):
    """A source cannot be read: a missing file, an unreachable database."""


class ModelError(WarehouseKitError):
    """A model failed to build or materialize; names the model."""

    def __init__(self, model: str, message: str):
        self.model = model
        self.message = message
        super().__init__(f"model {model}: {message}")


class SelectionError(WarehouseKitError):
    """A `--select` expression names no model or is malformed."""


class TransientError(WarehouseKitError):
    """A failure a retry may fix (a locked file, a dropped connection)."""


class SourceUnavailable(SourceError, TransientError):
    """A source cannot be read now but may be soon: brokers unreachable, a topic not
    created yet. A run stops on it; a stream tries again."""


def first_line(exc: BaseException) -> str:
    """The first line of a foreign exception's message, for a one-line error."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'deduplicate'?"`` when a candidate is close to `word`, else ``""``."""
    options = sorted(set(candidates))
    same = [c for c in options if c.lower() == word.lower()]
    close = same or difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def column_hint(name: str, columns: Sequence[str]) -> str:
    """``did you mean 'email'? available columns: a, b``, for an unknown column."""
    suggestion = did_you_mean(name, columns).removeprefix("; ")
    return f"{suggestion} available columns: {', '.join(columns)}".lstrip()
