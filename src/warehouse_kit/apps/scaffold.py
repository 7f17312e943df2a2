"""`wk init`: a new project from a folder of CSV files (or a small template), ready to run.

It writes ``warehouse.yml``; ``pipelines/<name>.yml``, whose bronze stage lands each CSV
file as a table and whose silver stage casts each table's text columns to the types
inferred from their values, turns blank text into NULL and removes duplicates (on the
id column, when one looks like an id and is unique, else whole rows); ``analytics/`` with
a row count per table, each table's date and timestamp columns its time; and
``notebooks/start.ipynb``, which reads the warehouse through the library. The CSV files
stay where they are: the source's path points at them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
import yaml

from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.type_inference import infer_types

TEMPLATE = {
    "customers.csv": "customer_id,name,city,signup_date\n"
    "1,Ada,London,2024-01-05\n2,Grace,New York,2024-02-11\n3,Linus,Helsinki,2024-03-01\n",
    "orders.csv": "order_id,customer_id,amount,ordered_at\n"
    "100,1,25.50,2024-03-02 10:15:00\n101,2,12.00,2024-03-03 16:40:00\n"
    "102,1,7.25,2024-03-05 09:05:00\n",
}
"""The CSV files a project starts from without --from."""


def init_project(folder: Path, *, csv_folder: Path | None = None, force: bool = False) -> Path:
    """Write a project into `folder` (made if missing) from `csv_folder`'s CSV files, or
    from `TEMPLATE` into ``seeds/``; returns its pipeline file. A folder with files in it
    is refused unless `force`, which overwrites the files this writes."""
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise WarehouseKitError(f"{folder} is not empty: choose a new folder, or give --force")
    folder.mkdir(parents=True, exist_ok=True)
    if csv_folder is None:
        csv_folder = folder / "seeds"
        csv_folder.mkdir(exist_ok=True)
        for name, text in TEMPLATE.items():
            (csv_folder / name).write_text(text, encoding="utf-8")
    files = _csv_files(csv_folder)
    name = _name(folder.resolve().name) or "warehouse"
    where = os.path.relpath(csv_folder.resolve(), folder.resolve())
    pipeline = folder / "pipelines" / f"{name}.yml"
    _write(folder / "warehouse.yml", {"name": name})
    found = {table: inspect_csv(table, path) for table, path in files.items()}
    _write(pipeline, _pipeline(name, where, files, found))
    _write(folder / "analytics" / f"{name}.yml", _metrics(found))
    _write_notebook(folder / "notebooks" / "start.ipynb", next(iter(files)))
    return pipeline


def _csv_files(folder: Path) -> dict[str, Path]:
    """Each CSV file of `folder` by the table name it becomes."""
    if not folder.is_dir():
        raise WarehouseKitError(f"--from {folder}: no such folder")
    found = {_name(path.stem): path for path in sorted(folder.glob("*.csv"))}
    if not found:
        raise WarehouseKitError(f"--from {folder}: no .csv files there")
    if "" in found:
        raise WarehouseKitError(f"--from {folder}: {found['']}: name it with a letter first")
    return found


def _name(text: str) -> str:
    """`text` as a table name: lower case, words joined by underscores; "" when no letter."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    name = name if not name[:1].isdigit() else f"t_{name}"
    return name[:55] if re.search(r"[a-z]", name) else ""


def _pipeline(
    name: str, where: str, files: Mapping[str, Path], found: Mapping[str, Found]
) -> dict[str, object]:
    tables = [{"name": table, "path": path.name} for table, path in files.items()]
    models = [
        {"name": table, "operations": ["type_casting", "null_handling", _deduplicate(found[table])]}
        for table in files
    ]
    return {
        "pipeline": {
            "name": name,
            "sources": [{"name": "csv_files", "type": "files", "path": where, "tables": tables}],
            "transformations": [
                {"stage": "bronze"},
                {"stage": "silver", "drop_load_metadata": True, "models": models},
            ],
        }
    }


def _deduplicate(found: Found) -> object:
    return {"op": "deduplicate", "key": [found.key]} if found.key else "deduplicate"


@dataclass(frozen=True)
class Found:
    """What `wk init` reads off a CSV file."""

    key: str | None
    """The column that looks like an id (``id``, ``<table>_id``, then any ``..._id``) and
    is unique and never empty; None when none is."""
    times: list[str]
    """The columns the silver stage's `type_casting` will make dates or timestamps
    (`type_inference`, the same inference)."""


def inspect_csv(table: str, path: Path) -> Found:
    """The CSV file of `table` read once, as text, by DuckDB."""
    con = ibis.duckdb.connect()
    try:
        rows = con.read_csv(path, all_varchar=True)
        types = infer_types(rows, rows.columns)
        times = [column for column, kind in types.items() if kind in ("date", "timestamp")]
        return Found(_unique_id(table, rows), times)
    finally:
        con.disconnect()


def _unique_id(table: str, rows: ir.Table) -> str | None:
    singular = table[:-1] if table.endswith("s") else table
    preferred = ["id", f"{singular}_id", f"{table}_id"]
    named = [c for c in rows.columns if c.lower() in preferred or c.lower().endswith("_id")]
    ids = sorted(named, key=lambda c: (c.lower() not in preferred, named.index(c)))
    if not ids:
        return None
    counts = rows.aggregate(
        _rows=rows.count(),
        **{f"_{i}": rows[c].strip().nullif("").nunique() for i, c in enumerate(ids)},
    )
    found = counts.to_pyarrow().to_pylist()[0]
    return next((c for i, c in enumerate(ids) if found[f"_{i}"] == found["_rows"]), None)


def _metrics(found: Mapping[str, Found]) -> dict[str, object]:
    """A model per table, with its date and timestamp columns as its `time` (so a query
    can take a grain), and a row count per table."""
    models = {
        table: {"table": f"silver.{table}", **({"time": seen.times} if seen.times else {})}
        for table, seen in found.items()
    }
    return {
        "models": models,
        "metrics": {
            f"{table}_rows": {"type": "count", "model": table, "description": f"Rows of {table}."}
            for table in found
        },
    }


def _write(path: Path, data: Mapping[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=None, width=100)
    path.write_text(text, encoding="utf-8")


def _write_notebook(path: Path, table: str) -> None:
    """A starter notebook: the library does the work, the notebook only asks."""
    cells = [
        ("markdown", f"# Start here\n\n`wk run` builds the warehouse; this reads `{table}`."),
        (
            "code",
            "import warehouse_kit as wk\n\n"
            'project = wk.Project.load("..")\n'
            "with project.reading() as warehouse:  # closed after the block: wk run can write\n"
            f'    rows = warehouse.table("{table}", "silver").limit(10).to_pandas()\n'
            "rows",
        ),
    ]
    notebook = {
        "cells": [
            {"id": f"cell-{i}", "cell_type": kind, "metadata": {}, "source": text}
            | ({"outputs": [], "execution_count": None} if kind == "code" else {})
            for i, (kind, text) in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
