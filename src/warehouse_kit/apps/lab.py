"""`wk lab`: JupyterLab on the project's notebooks, with the project's environment.

The server runs on this Python (the venv warehouse-kit is installed in), so the ``python3``
kernel the notebooks name is this venv's: `JUPYTER_PREFER_ENV_PATH` puts the venv's kernel
before one a user installed in their home folder. It opens on ``notebooks/`` (the project
folder when there is none); a kernel starts in its notebook's folder and finds the project,
and so the warehouse, by walking up to ``warehouse.yml``, as `wk` does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from warehouse_kit.core.extras import require
from warehouse_kit.core.project import Project

ROOT_NOTE = (
    "running as root: JupyterLab refuses to start as root unless told, so wk lab passes "
    "--allow-root (its notebooks can do anything root can; run it as another user to avoid it)"
)


@dataclass(frozen=True)
class Launch:
    """How to start JupyterLab: the command, its environment and folder, and a note for the
    user (or None)."""

    command: list[str]
    environment: dict[str, str]
    cwd: Path
    note: str | None


def launch(
    project: Project,
    *,
    target: str | None = None,
    port: int | None = None,
    open_browser: bool = True,
    as_root: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> Launch:
    """The JupyterLab server to start for `project`; `MissingExtra` without the notebooks extra.

    `target` overrides the project's warehouse for the notebooks (as ``WK_TARGET``)."""
    require("wk lab", "jupyterlab", "ipykernel")
    folder = project.root / "notebooks"
    root_dir = folder if folder.is_dir() else project.root
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root_dir}"]
    command += [f"--port={port}"] if port is not None else []
    command += [] if open_browser else ["--no-browser"]
    if as_root is None:
        as_root = os.geteuid() == 0
    command += ["--allow-root"] if as_root else []
    environment = dict(os.environ if environ is None else environ)
    environment["JUPYTER_PREFER_ENV_PATH"] = "1"
    # `!wk ...` in a notebook runs this venv's wk, whatever the user's PATH says.
    scripts = str(Path(sys.executable).parent)
    environment["PATH"] = os.pathsep.join([scripts, environment.get("PATH", "")]).rstrip(os.pathsep)
    if target is not None:
        environment["WK_TARGET"] = target
    return Launch(command, environment, project.root, ROOT_NOTE if as_root else None)
