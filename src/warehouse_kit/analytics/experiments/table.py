"""An experiment's result as a table: a row per comparison, for the console and the notebook.

`headers` and `cells` give the columns and each comparison's row (the HTML of
`ExperimentResult._repr_html_` shows the same ones); `console_view` lays out
the whole result for the console (rich): the headline, the sample ratio line,
the warnings in red, the table with better rows green and worse ones red, and
the notes; `plain_text` prints that without colour, for `str()`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from warehouse_kit.analytics.experiments.comparison import Comparison
from warehouse_kit.analytics.experiments.formatting import interval, number, p_value, percent

_LEFT = ("metric", "variant", "verdict")
_STYLE = {"better": "green", "worse": "bold red"}
_HEADERS = {
    False: (
        "metric", "variant", "mean: control -> variant", "absolute lift [CI]", "relative lift [CI]",
        "p adj.", "CUPED", "verdict",
    ),
    True: (
        "metric", "variant", "mean: control -> variant", "absolute lift [CI]", "relative lift [CI]",
        "P(better)", "risk", "CUPED", "verdict",
    ),
}  # fmt: skip


def headers(bayesian: bool) -> tuple[str, ...]:
    """The columns: the Bayesian engine's chance to beat control and risk replace the p-value."""
    return _HEADERS[bayesian]


def cells(c: Comparison, bayesian: bool) -> list[str]:
    tests = (
        [percent(c.chance_to_beat, plain=True), number(c.expected_loss)]
        if bayesian
        else [p_value(c.p_adjusted)]
    )
    values = ""
    if c.control_value is not None and c.variant_value is not None:
        values = f"{number(c.control_value)} -> {number(c.variant_value)}"
        values += " (CUPED-adjusted)" if c.cuped is not None else ""
    cuped = f"var -{c.cuped.variance_reduction:.0%}" if c.cuped is not None else ""
    return [
        f"{c.metric} ({c.role})",
        c.variant,
        values,
        f"{number(c.absolute, sign=True)} {interval(c.absolute_ci)}".strip(),
        f"{percent(c.relative)} {interval(c.relative_ci, percent=True)}".strip(),
        *tests,
        cuped,
        c.verdict,
    ]


def console_view(
    comparisons: Sequence[Comparison],
    *,
    bayesian: bool,
    headline: str,
    srm_line: str,
    warnings: Sequence[str],
    notes: Sequence[str],
) -> Group:
    """The headline, the sample ratio line, warnings, a row per comparison, notes."""
    parts: list[Any] = [Text(headline, style="bold"), Text(srm_line)]
    parts += [Text(f"warning: {w}", style="bold red") for w in warnings]
    table = Table(show_lines=False)
    for header in _HEADERS[bayesian]:
        table.add_column(header, justify="left" if header in _LEFT else "right")
    for c in comparisons:
        table.add_row(*cells(c, bayesian), style=_STYLE.get(c.verdict))
    parts.append(table)
    parts += [Text(f"note: {note}", style="dim") for note in notes]
    return Group(*parts)


def plain_text(view: Group) -> str:
    """The view as the console prints it, 200 columns wide and without colour."""
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(view)
    return buffer.getvalue()
