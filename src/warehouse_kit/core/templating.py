"""Every HTML warehouse-kit shows, from the Jinja2 templates in ``templates/``.

Names in a page come from users' data: a model, a column or a check may be
called ``<script>``. So no HTML is put together from strings anywhere else:
a page is a template, rendered here with autoescape on, which escapes every
value (``<``, ``>``, ``&`` and both quotes) unless the template says otherwise.

    >>> render("run_info.html.j2", lines=["run <1>", "started"])
    '<p>run &lt;1&gt;<br>started</p>\\n'

(Not named ``html.py``: run as a script from this folder, that would shadow the
standard library's ``html`` for every module that imports it.)
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2


class Prose(str):
    """Text to read as a paragraph: a notebook shows it as HTML prose, not as a monospace
    string; it is still a plain `str` everywhere else."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return render("prose.html.j2", text=str(self))


def render(template: str, /, **values: Any) -> str:
    """The template named `template` (a file in ``templates/``), filled in with `values`."""
    return _environment().get_template(template).render(**values)


@functools.cache
def _environment() -> jinja2.Environment:
    # Imported on first use: jinja2 takes ~40 ms to import, and `wk --help` shows no HTML.
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("warehouse_kit", "templates"),
        autoescape=True,  # every template is HTML: escape every value, whatever the file name
        undefined=jinja2.StrictUndefined,  # a value the caller forgot is an error, not a blank
        trim_blocks=True,  # a line holding only {% ... %} leaves no empty line behind
        lstrip_blocks=True,
        keep_trailing_newline=True,  # a page written to a file ends its last line
    )
