"""CSV files read strictly, so that a malformed file is named with its line.

DuckDB's sniffer guesses a file's dialect from a sample, and a malformed row in
the sample makes it settle for a dialect that reads without error, but wrongly
(one column named ``id,name``; a stray quote taken as text). So each file's
layout comes from the sniffer, checked against its header line, and the file is
read with that layout fixed and strict mode on: DuckDB's reader then reports
the line of any row that does not fit, and `explain` turns that into one line
naming the file. The header is the first line: the sniffer may not skip lines,
another of its ways to make rows agree. Files are checked over the sniffer's
sample before anything is written; a bad row past it fails the load, which is
rolled back.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import ibis
import ibis.expr.types as ir
from ibis.backends.sql import SQLBackend

SAMPLE_ROWS = 20_480
"""The rows DuckDB's sniffer reads (its default `sample_size`), checked before loading."""
DELIMITERS = (",", ";", "\t", "|")
NEEDS_HEADER = "the first line must name the columns"


class MalformedFile(Exception):
    """A file that is not CSV as its header line says; the message names it and the line."""


@dataclass(frozen=True)
class Layout:
    """How one file is read: its dialect and its columns (all text)."""

    delimiter: str
    quote: str
    escape: str
    columns: tuple[str, ...]

    def options(self) -> dict[str, Any]:
        return {
            "columns": dict.fromkeys(self.columns, "VARCHAR"),
            "delim": self.delimiter,
            "quote": self.quote,
            "escape": self.escape,
            "header": True,
            "strict_mode": True,
        }


def read_csv(
    reader: SQLBackend,
    files: list[Path],
    shown: Mapping[str, str],
    check: Collection[Path] = (),
    filename: str = "filename",
) -> ir.Table:
    """The files as one table of text columns, plus each row's file path in `filename`;
    `shown` maps each path to the name errors give it. Files whose layout differs
    (another delimiter, a new column) are read apart and stacked by column name. The
    files in `check` are read over the sniffer's sample first, so what it saw fits
    before anything is written."""
    layouts = {path: layout(reader, path, shown) for path in files}
    for path in check:
        _try(reader, reader.read_csv([str(path)], **layouts[path].options()), shown)
    groups: dict[Layout, list[str]] = {}
    for path in files:
        groups.setdefault(layouts[path], []).append(str(path))
    return _stack(
        [
            reader.read_csv(paths, filename=filename, **group.options())
            for group, paths in groups.items()
        ]
    )


def _try(reader: SQLBackend, table: ir.Table, shown: Mapping[str, str]) -> None:
    try:
        reader.to_pyarrow(table.limit(SAMPLE_ROWS).count())
    except Exception as exc:  # DuckDB's reader names the line
        _reraise(exc, shown)


def layout(reader: SQLBackend, path: Path, shown: Mapping[str, str]) -> Layout:
    """The sniffer's layout of a file, unless its header line says otherwise."""
    query = "SELECT Delimiter, Quote, Escape, HasHeader, Columns FROM sniff_csv(?, skip = 0)"
    try:
        row = reader.con.execute(query, [str(path)]).fetchone()
    except Exception as exc:  # the sniffer, too, names a line it cannot read
        _reraise(exc, shown)
    delimiter, quote, escape, has_header, columns = row
    header = _first_line(path)
    name = shown[str(path)]
    if not header.strip():
        problem = "the file is empty" if path.stat().st_size == 0 else "line 1 is blank"
        raise MalformedFile(f"{name}: {problem}; {NEEDS_HEADER}")
    if not has_header:
        raise MalformedFile(
            f"{name}: no header row: line 1 reads as data ({header!r}); {NEEDS_HEADER}"
        )
    # No quote in the sample (or one never closed) leaves the sniffer without one;
    # a quote is `"` in CSV, doubled to escape it.
    quote = '"' if quote == "(empty)" else quote
    escape = quote if escape == "(empty)" else escape
    names = tuple(column["name"] for column in columns)
    if len(names) == 1:  # the sniffer's way out when rows disagree with the header
        delimiter, names = _split_header(header, delimiter, names)
    return Layout(delimiter, quote, escape, names)


def explain(exc: BaseException, shown: Mapping[str, str]) -> MalformedFile | None:
    """DuckDB's error for a row it cannot read, as one line naming the file and line;
    None for any other error."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    if line is None:
        return None
    file = re.search(r"^\s*file = (.+)$", text, re.MULTILINE)
    name = shown.get(file.group(1), file.group(1)) if file else "a file"
    original = re.search(r"Original Line: ?(.*)$", text, re.MULTILINE)
    quoted = f": {original.group(1)[:80]!r}" if original else ""
    return MalformedFile(f"{name}, line {line.group(1)}: {_reason(text)}{quoted}")


def _reraise(exc: Exception, shown: Mapping[str, str]) -> NoReturn:
    problem = explain(exc, shown)
    if problem is None:
        raise exc
    raise problem from exc


def _reason(text: str) -> str:
    counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if counts:
        expected, found = counts.groups()
        return f"{found} field{'' if found == '1' else 's'} where the header has {expected}"
    if "unterminated quote" in text:
        return "a quoted value is never closed"
    if "Invalid unicode" in text:
        return "not UTF-8 text"
    return "cannot be read as CSV"


def _split_header(
    header: str, delimiter: str, names: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """The delimiter that splits the header line into the most names, with the names."""
    splits = {d: next(csv.reader([header], delimiter=d)) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: len(splits[d]))
    if len(splits[best]) < 2:
        return delimiter, names
    return best, tuple(splits[best])


def _first_line(path: Path) -> str:
    with path.open("rb") as handle:  # utf-8-sig: a byte-order mark is not part of a name
        return handle.readline().decode("utf-8-sig", "replace").rstrip("\r\n")


def _stack(tables: list[ir.Table]) -> ir.Table:
    """One table, by column name: a column a file lacks is NULL in its rows (as DuckDB's
    own `union_by_name`, which needs the sniffer)."""
    if len(tables) == 1:
        return tables[0]
    columns = list(dict.fromkeys(c for table in tables for c in table.columns))
    aligned = [
        table.select(
            *(table[c] if c in table.columns else ibis.null("string").name(c) for c in columns)
        )
        for table in tables
    ]
    return ibis.union(*aligned, distinct=False)
