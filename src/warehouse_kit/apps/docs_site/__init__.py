"""`wk docs`: the data dictionary as a static site, from the project and its warehouse.

`build_docs` writes, into ``docs/`` by default, one self-contained ``index.html`` (inline
CSS, an inline script for its search box, lineage graphs as inline SVG: it opens from
``file://`` with no network) and Markdown that GitHub renders (``README.md`` and a file
per schema). What it says comes from `analytics.docs.gather`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from warehouse_kit.analytics.docs import DataDictionary, gather
from warehouse_kit.apps.docs_site.formats import count, share
from warehouse_kit.apps.docs_site.lineage_svg import lineage_svg
from warehouse_kit.apps.docs_site.markdown import markdown_files
from warehouse_kit.core.project import Project
from warehouse_kit.core.templating import render

__all__ = ["DocsSite", "build_docs", "render_html"]

DEFAULT_FOLDER = "docs"


@dataclass(frozen=True)
class DocsSite:
    dictionary: DataDictionary
    files: tuple[Path, ...]
    """What was written: ``index.html`` first, then the Markdown files."""


def build_docs(
    project: Project | str | Path = ".",
    out: str | Path | None = None,
    *,
    target: str | None = None,
) -> DocsSite:
    """Write the data dictionary of `project` into `out` (default: the project's
    ``docs/``), reading its warehouse (or `target`) for the counts and run history."""
    project = Project.of(project)
    folder = Path(out) if out is not None else project.root / DEFAULT_FOLDER
    with project.reading(target) as warehouse:
        dictionary = gather(project, warehouse)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "index.html"]
    written[0].write_text(render_html(dictionary), encoding="utf-8")
    for name, text in markdown_files(dictionary).items():
        written.append(folder / name)
        written[-1].write_text(text, encoding="utf-8")
    return DocsSite(dictionary, tuple(written))


def render_html(dictionary: DataDictionary) -> str:
    """The page: every table with its columns and lineage graph, metrics, experiments."""
    edges = list(dictionary.edges)
    views = {table.id for table in dictionary.tables if table.view}
    graphs: dict[str, Markup] = {
        table.id: lineage_svg(edges, table.id, link=lambda node: f"#t-{node}", views=views)
        for table in dictionary.tables
    }
    return render(
        "docs_site.html.j2",
        d=dictionary,
        graphs=graphs,
        undocumented=sum(len(table.undocumented) for table in dictionary.tables),
        table_ids={table.qualified: table.id for table in dictionary.tables},
        count=count,
        share=share,
    )
