"""nbval runs every notebook here, top to bottom, against a warehouse built for the session.

pytest's configuration (pyproject.toml) runs nbval with ``--nbval-lax``: every
cell must run, and the output of the cells marked ``# NBVAL_CHECK_OUTPUT`` must
match the committed one once `sanitize_config` has replaced what changes
between builds (run ids, their timestamps, the warehouse's path). The kernel is
``python3``, the one `wk report` uses.

Before the first cell of a notebook runs, the example warehouse is built once
(seeds, then the later batch) into a temporary DuckDB file, and the notebook's
kernel starts with ``WK_TARGET`` pointing at it; the pytest process's own
environment is left as it was. Under xdist (``-n 2``) all notebook cells go to
one worker, in order, since each cell needs the ones before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from nbval.plugin import IPyNbCell

from warehouse_kit.apps.notebooks_refresh import example_warehouse, sanitize_config
from warehouse_kit.core.project import Project

HERE = Path(__file__).parent
SANITIZE = sanitize_config(Project(HERE.parent))
_target = pytest.StashKey[str]()
_cleanup = pytest.StashKey[ExitStack]()


def pytest_configure(config: pytest.Config) -> None:
    # An absolute path, so pytest finds it from any working directory.
    if config.option.nbval_sanitize_with is None:
        config.option.nbval_sanitize_with = str(SANITIZE)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``-n``, xdist's default scheduling, except that the notebooks' cells all go to
    one worker, in order (xdist's own ``xdist_group`` is lost on pytest 9's node ids)."""
    if config.getvalue("dist") != "load":
        return None  # the user chose another --dist
    from xdist.scheduler import LoadScopeScheduling

    class NotebooksTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "notebooks" if nodeid.split("::")[0].endswith(".ipynb") else nodeid

    return NotebooksTogether(config, log)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """Start each notebook's kernel (nbval does, in its first cell's setup) with WK_TARGET."""
    if not isinstance(item, IPyNbCell):
        return (yield)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WK_TARGET", _warehouse(item.config))
        return (yield)


def _warehouse(config: pytest.Config) -> str:
    if _target not in config.stash:
        stack = ExitStack()
        config.stash[_cleanup] = stack
        config.stash[_target] = stack.enter_context(example_warehouse(Project.load(HERE)))
    return config.stash[_target]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _cleanup in config.stash:
        config.stash[_cleanup].close()
