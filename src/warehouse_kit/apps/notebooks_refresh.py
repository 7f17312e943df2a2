"""`wk notebooks refresh`: re-run the project's notebooks and keep only what nbval checks.

Each notebook in ``notebooks/`` runs top to bottom (papermill, the ``python3``
kernel, its parameters' defaults) against an example warehouse built afresh
in a temporary folder. It is then written back with the outputs of the cells
marked ``# NBVAL_CHECK_OUTPUT`` and nothing else: no other output, no
execution counts but theirs (nbval compares only cells that have one), no run
metadata. Those outputs are what nbval compares a
test run with, so a refresh is how a deliberate change to a figure is
accepted. A notebook whose outputs differ only where nbval looks away
(`sanitize_config`: run ids, timestamps, the warehouse's path)
is left as it is, so a refresh that changes nothing leaves git clean.
"""

from __future__ import annotations

import configparser
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat

from warehouse_kit.apps import reports
from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.project import Project
from warehouse_kit.core.runner import run

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
LATER_BATCHES = ("batch2",)
"""Folders under the seeds folder that hold later exports, loaded in this order after the
seeds themselves, so the example has a history (``WK_SEEDS`` picks the folder)."""
NOTEBOOK_METADATA = ("kernelspec",)
DEFAULT_SANITIZE = Path(__file__).parents[1] / "templates" / "nbval-sanitize.cfg"


def notebooks(project: Project) -> list[Path]:
    """The notebooks of a project (``notebooks/*.ipynb``), by name."""
    return sorted((project.root / "notebooks").glob("*.ipynb"))


def build_example(project: Project, target: str, lake: Path | None = None) -> None:
    """Build the project's warehouse at `target`: the seeds, then each later batch; the
    example publishes its facts to `lake` if given (``WK_LAKE``)."""
    seeds = project.path("seeds")
    batches = [seeds, *(seeds / name for name in LATER_BATCHES if (seeds / name).is_dir())]
    for folder in batches:
        with reports.environment(WK_SEEDS=str(folder), WK_LAKE=str(lake) if lake else None):
            result = run(project, target=target)
        if not result.ok:
            failed = ", ".join(f"{m.model}: {m.error}" for m in result.failures())
            raise WarehouseKitError(f"the example did not build from {folder}: {failed}")


@contextmanager
def example_warehouse(project: Project) -> Iterator[str]:
    """The URL of a freshly built example warehouse, deleted afterwards (its lake too: it
    is no one's)."""
    with tempfile.TemporaryDirectory(prefix="wk-example-") as folder:
        target = f"duckdb://{folder}/warehouse.duckdb"  # folder is absolute
        build_example(project, target, lake=Path(folder) / "lake")
        yield target


def refresh(
    project: Project, paths: Sequence[Path] = (), say: Callable[[str], None] = lambda _: None
) -> list[tuple[Path, bool]]:
    """Re-run `paths` (default: every notebook) and write back, stripped, those whose
    checked outputs changed; each path with whether it changed. `say` hears each step."""
    chosen = [Path(path).resolve() for path in paths] or notebooks(project)
    if not chosen:
        raise WarehouseKitError(f"no notebooks to refresh in {project.root / 'notebooks'}")
    for path in chosen:
        if not path.is_file():
            raise WarehouseKitError(f"no notebook {path}")
    runs = project.path("reports") / "refresh"  # each run as executed, kept for debugging
    runs.mkdir(parents=True, exist_ok=True)
    sanitize = sanitizer(sanitize_config(project))
    done = []
    say("building the example warehouse (seeds, then each later batch)")
    with example_warehouse(project) as target:
        for index, path in enumerate(chosen, start=1):
            say(f"[{index}/{len(chosen)}] running {project.display(path)}")
            executed = runs / path.name
            reports.execute(path, executed, target=target)
            fresh = strip(nbformat.read(executed, as_version=4))
            changed = differs(fresh, nbformat.read(path, as_version=4), sanitize)
            if changed:
                nbformat.write(fresh, path)
            done.append((path, changed))
    return done


def differs(fresh: Any, old: Any, sanitize: Callable[[str], str]) -> bool:
    """Whether two notebooks differ where nbval looks (after `sanitize`)."""
    return sanitize(nbformat.writes(fresh)) != sanitize(nbformat.writes(old))


def sanitize_config(project: Project) -> Path:
    """What nbval replaces before comparing outputs: the project's
    ``notebooks/nbval-sanitize.cfg``, else warehouse-kit's (run ids, timestamps, URLs)."""
    own = project.root / "notebooks" / "nbval-sanitize.cfg"
    return own if own.is_file() else DEFAULT_SANITIZE


def sanitizer(config: Path) -> Callable[[str], str]:
    """The replacements nbval makes before it compares outputs (none without `config`)."""
    parser = configparser.ConfigParser()
    parser.read(config)
    rules = [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]

    def sanitize(text: str) -> str:
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        return text

    return sanitize


def strip(notebook: Any) -> Any:
    """A notebook with only the outputs nbval checks, and no run-specific metadata."""
    notebook.metadata = {k: v for k, v in notebook.metadata.items() if k in NOTEBOOK_METADATA}
    notebook.cells = [cell for cell in notebook.cells if not _injected(cell)]
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in notebook.cells:
        tags = cell.metadata.get("tags")
        cell.metadata = {"tags": tags} if tags else {}
    for number, cell in enumerate(code, start=1):
        # nbval compares only cells that have an execution count: the checked ones get
        # their place among the code cells (stable from one refresh to the next).
        cell.execution_count = number if is_checked(cell) else None
        cell.outputs = [_plain(o, number) for o in cell.outputs] if is_checked(cell) else []
    return notebook


def is_checked(cell: Any) -> bool:
    """Whether nbval compares this cell's output (it has the marker comment)."""
    return cell.cell_type == "code" and any(
        line.strip() == CHECK_MARKER for line in cell.source.splitlines()
    )


def _injected(cell: Any) -> bool:
    return "injected-parameters" in cell.metadata.get("tags", [])


def _plain(output: Any, number: int) -> Any:
    if "execution_count" in output:
        output.execution_count = number
    if "metadata" in output:
        output.metadata = {}
    return output
