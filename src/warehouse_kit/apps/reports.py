"""Reports: a notebook run with papermill, then exported to HTML that opens offline.

`report` executes a parameterised notebook into
``reports/<name>-<timestamp>.ipynb`` and writes a self-contained
``.html`` next to it. The export uses nbconvert's ``lab`` template without
the scripts it loads from CDNs (require.js, MathJax, Mermaid, widgets); charts
are inline SVG (see `warehouse_kit.apps.charts.enable`), so the page needs no
network at all.

Notebooks run in the ``python3`` kernel, which Jupyter starts with the Python
running this code: the project's environment, the same kernel nbval uses.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import nbformat
import papermill  # type: ignore[import-untyped]
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError  # type: ignore[import-untyped]

from warehouse_kit.analytics import privacy
from warehouse_kit.core import state
from warehouse_kit.core.errors import WarehouseKitError, did_you_mean
from warehouse_kit.core.project import Project

KERNEL = "python3"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
CELL_TIMEOUT_S = 600
PLAIN_ERRORS = ("EmptyWindow",)
"""Errors a notebook raises about what was asked, shown as their message alone."""

# nbconvert's lab template, minus every script it would fetch from a CDN.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


class ReportError(WarehouseKitError):
    """A report could not be produced: a bad parameter, or a cell that failed."""


@dataclass(frozen=True)
class Report:
    notebook: Path
    """The executed notebook, with every output."""
    html: Path
    """The same, as one HTML file that opens offline."""


def parameters_of(notebook: Path) -> dict[str, dict[str, Any]]:
    """The parameters a notebook declares in its cell tagged ``parameters``, by name."""
    if not Path(notebook).is_file():
        raise ReportError(f"no notebook {notebook}")
    found: dict[str, dict[str, Any]] = papermill.inspect_notebook(str(notebook))
    return found


def parse_parameters(notebook: Path, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``NAME VALUE`` pairs from the command line, checked against the notebook's
    parameters and converted to the type of each one's default."""
    declared = parameters_of(notebook)
    _check_names(notebook, [name for name, _ in pairs], declared)
    return {name: _convert(value, declared[name]) for name, value in pairs}


def _check_names(notebook: Path, names: Sequence[str], declared: Mapping[str, Any]) -> None:
    for name in names:
        if name not in declared:
            known = ", ".join(declared) or "none (it has no cell tagged 'parameters')"
            raise ReportError(
                f"{notebook}: unknown parameter {name!r}{did_you_mean(name, declared)}"
                f" its parameters are: {known}"
            )


def _convert(value: str, declared: Mapping[str, Any]) -> Any:
    kind = _kind(declared)
    if value == "None":
        return None
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError:
        raise ReportError(f"parameter {declared['name']}: {value!r} is not a {kind}") from None
    if kind == "bool":
        if value.lower() not in ("true", "false"):
            raise ReportError(f"parameter {declared['name']}: {value!r} is not True or False")
        return value.lower() == "true"
    return value


def _kind(declared: Mapping[str, Any]) -> str:
    """The type a parameter takes: its annotation, else that of its default (text if None)."""
    if declared.get("inferred_type_name") not in (None, "None"):
        return str(declared["inferred_type_name"])
    try:
        default = ast.literal_eval(declared.get("default") or "None")
    except (ValueError, SyntaxError):
        return "str"
    return type(default).__name__ if isinstance(default, bool | int | float) else "str"


def report(
    notebook: Path | str,
    *,
    parameters: Mapping[str, Any] | None = None,
    target: str | None = None,
    show_code: bool = False,
    project: Project | str | Path = ".",
    out_dir: Path | None = None,
    unmask: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> Report:
    """Run `notebook` with `parameters` and export it; returns where both files are.

    `target` (or a ``target`` parameter) reaches the notebook as ``WK_TARGET``,
    which its ``target = None`` default reads, never as a parameter: papermill
    writes parameters into the notebook and its metadata, and a URL may hold a
    password. A failing cell raises a `ReportError` naming it; the partial
    notebook is kept. `say` hears each step. `unmask` sets the notebook's ``unmask``
    parameter, so that it shows personal data as it is, and records that in
    ``_wk.unmasked`` first.
    """
    notebook = Path(notebook)
    project = Project.of(project)
    values = dict(parameters or {})
    if unmask:
        values["unmask"] = True
    _check_names(notebook, list(values), parameters_of(notebook))
    named = values.pop("target", None)  # -p target URL is --target URL: never written
    target = target or named
    if values.get("unmask") is True:  # the notebook shows personal data as it is
        with closing(project.connect(target, wait_s=10.0)) as warehouse:
            privacy.record_unmasked(warehouse, "*", [], f"wk report {notebook}")
    output = _output_path(out_dir or project.path("reports"), notebook.stem)
    cells = len(nbformat.read(notebook, as_version=4).cells)
    say(f"running {notebook} ({cells} cells)")
    execute(notebook, output, parameters=values, target=target)
    say(f"exporting {output.with_suffix('.html').name}")
    return Report(output, to_html(output, output.with_suffix(".html"), show_code=show_code))


def _output_path(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = state.now().strftime("%Y%m%dT%H%M%S")
    path = folder / f"{name}-{stamp}.ipynb"
    counter = 2
    while path.exists():  # two reports in one second
        path = folder / f"{name}-{stamp}-{counter}.ipynb"
        counter += 1
    return path


def execute(
    notebook: Path,
    output: Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    target: str | None = None,
) -> None:
    """Run every cell of `notebook` in its own folder, writing `output` as it goes.

    The kernel process's own log (its sockets, the interrupt that stops it after a failed
    cell, races as it shuts down) goes to a file, not to our stderr: what matters is in the
    notebook and in our one line. It is shown only when the kernel itself fails."""
    with tempfile.TemporaryFile() as kernel_log:
        try:
            with environment(WK_TARGET=target), _quiet(logging.getLogger("papermill")):
                papermill.execute_notebook(
                    str(notebook),
                    str(output),
                    parameters=dict(parameters or {}),
                    kernel_name=KERNEL,
                    cwd=str(notebook.parent),
                    progress_bar=False,
                    execution_timeout=CELL_TIMEOUT_S,
                    extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                    kernel_manager_class=_logging_to(kernel_log),
                )
        except PapermillExecutionError as exc:
            if exc.ename in PLAIN_ERRORS:  # the data, not the notebook: its message says it all
                raise ReportError(f"{notebook}: {exc.evalue.strip()}") from None
            raise ReportError(
                f"{notebook}: cell In [{exc.exec_count}] ({_failing_line(exc)}) failed: "
                f"{exc.ename}: {(exc.evalue.strip() or '?').splitlines()[0]}; "
                f"the partial notebook is {output}"
            ) from None
        except Exception as exc:
            kernel_log.seek(0)  # why the kernel failed, where the user can read it
            sys.stderr.write(kernel_log.read().decode(errors="replace"))
            if isinstance(exc, DeadKernelError):  # a cell ended the process, or it crashed
                raise ReportError(
                    f"{notebook}: the kernel died while running it; the partial notebook "
                    f"is {output}"
                ) from None
            raise


@contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """`logger` silent but for critical messages: the errors it would log, raised here, are
    reported once, as one line."""
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _logging_to(log: IO[bytes]) -> type[AsyncKernelManager]:
    """A kernel manager whose kernels write their stderr to `log`."""

    class KernelLoggingToFile(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **options: Any) -> None:
            await super()._async_launch_kernel(kernel_cmd, **{**options, "stderr": log})

    return KernelLoggingToFile


def _failing_line(error: PapermillExecutionError) -> str:
    """The line of the cell that raised, as IPython's traceback names it, to name the cell by."""
    lines = error.source.splitlines()
    traceback = ANSI_ESCAPE.sub("", "\n".join(error.traceback or []))
    found = re.search(r"Cell In\[\d+\], line (\d+)", traceback)
    if found and 0 < int(found.group(1)) <= len(lines):
        return f"line {found.group(1)}: {lines[int(found.group(1)) - 1].strip()}"
    code = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return code[0] if code else "empty"


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Environment variables for the kernel papermill starts (it inherits ours)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update({name: value for name, value in values.items() if value is not None})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def to_html(notebook: Path, html: Path, *, show_code: bool = False) -> Path:
    """Export an executed notebook to one HTML file that needs no network."""
    exporter = HTMLExporter(
        template_name="lab",
        exclude_input=not show_code,
        exclude_input_prompt=not show_code,
        exclude_output_prompt=not show_code,
        embed_images=True,
    )
    exporter.raw_template = OFFLINE_TEMPLATE
    content = nbformat.read(notebook, as_version=4)
    body, _ = exporter.from_notebook_node(content, resources={"metadata": {"name": notebook.stem}})
    html.write_text(body, encoding="utf-8")
    return html
