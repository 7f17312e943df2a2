"""The optional parts of warehouse-kit, and the one line that says which to install.

The core install (pipelines, checks, KPIs, A/B tests, DuckDB) imports none of the packages
below at the top of a module on its path; each is imported where it is used. When one is
missing, `missing_extra` turns the `ModuleNotFoundError` into a `MissingExtra` naming the
extra that provides it: ``wk report needs the notebooks extra: pip install
'warehouse-kit[notebooks]'``.
"""

from __future__ import annotations

import importlib.util

from warehouse_kit.core.errors import WarehouseKitError

PROVIDERS: dict[str, str] = {
    "jupyterlab": "notebooks",
    "jupyter_server": "notebooks",
    "jupyter_client": "notebooks",
    "ipykernel": "notebooks",
    "papermill": "notebooks",
    "nbconvert": "notebooks",
    "nbformat": "notebooks",
    "altair": "notebooks",
    "vl_convert": "notebooks",
    "marimo": "dashboards",
    "psycopg": "postgres",
    "psycopg_binary": "postgres",
    "pyspark": "spark",
    "confluent_kafka": "stream",
    "openlineage": "lineage",
}
"""Top-level module -> the extra that installs it (pyproject.toml's optional-dependencies)."""


class MissingExtra(WarehouseKitError):
    """A command or feature needs a package of an extra that is not installed."""

    def __init__(self, what: str, extra: str):
        self.what = what
        self.extra = extra
        super().__init__(f"{what} needs the {extra} extra: pip install 'warehouse-kit[{extra}]'")


def missing_extra(exc: BaseException, what: str) -> MissingExtra | None:
    """The `MissingExtra` for `what` when `exc` is (or was raised from) a
    `ModuleNotFoundError` for a module of an extra, else None (a module missing for another
    reason is a real error, shown as it is). Ibis, for one, wraps the driver's import error
    in its own."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ModuleNotFoundError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    extra = PROVIDERS.get((cause.name or "").partition(".")[0])
    return MissingExtra(what, extra) if extra else None


def require(what: str, *modules: str) -> None:
    """Raise `MissingExtra` for `what` unless every module in `modules` can be imported
    (checked without importing them: for a command that runs them in another process)."""
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # a parent package is missing
            found = False
        if not found:
            raise MissingExtra(what, PROVIDERS[module.partition(".")[0]])
