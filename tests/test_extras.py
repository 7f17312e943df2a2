"""The core install builds and analyses the example without any extra; a command that needs
one says in one line which to install.

The core is checked in the test venv (which has everything) by a process whose imports of
the extras' packages fail, as they do where those packages are not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from warehouse_kit.core.extras import PROVIDERS

OPTIONAL = (
    "jupyterlab", "jupyter_server", "ipykernel", "papermill", "nbconvert", "nbformat", "altair",
    "vl_convert", "marimo", "psycopg", "openlineage", "confluent_kafka", "pyspark",
)  # fmt: skip
"""The top-level modules of the extras' packages: none may be needed by the core."""
TEST_ONLY = ("scipy", "statsmodels")
"""The test extra's references for the statistics: the core computes them itself."""

WITHOUT_EXTRAS = textwrap.dedent(
    """
    import json, sys

    class Refuse:  # as if the extras were not installed
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in OPTIONAL:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    OPTIONAL = set(json.loads(sys.argv[1]))
    sys.meta_path.insert(0, Refuse())
    sys.stderr = sys.stdout  # each command's errors in order with its output
    import warehouse_kit as wk
    for name in wk.__all__:
        getattr(wk, name)
    from warehouse_kit.apps.cli import main
    for args in json.loads(sys.argv[2]):
        sys.argv = ["wk", *args]
        print("$", *sys.argv, flush=True)
        try:
            main()
        except SystemExit as exit:
            print(f"exit {exit.code or 0}", flush=True)
    """
)

CORE_COMMANDS = [
    ["run"],
    ["check"],
    ["history"],
    ["metrics", "query", "monthly_kpis"],
    ["ab", "analyze", "checkout_redesign"],
    ["ab", "analyze", "checkout_redesign", "--engine", "sequential"],
    ["ab", "plan", "--baseline", "0.1", "--mde", "0.05"],
    ["show", "gold.dim_product", "--limit", "2"],
    ["export", "gold.dim_product", "--format", "parquet", "-o", "products.parquet"],
]
NEEDS_AN_EXTRA = {
    ("report", "kpi_report"): ("wk report", "notebooks"),
    ("lab",): ("wk lab", "notebooks"),
    ("dashboard", "kpi_dashboard"): ("wk dashboard", "dashboards"),
    ("run", "--target", "postgres://root@127.0.0.1:1/x"): ("a postgres target", "postgres"),
}


def _copy_example(root: Path) -> Path:
    for name in ("warehouse.yml", "pipelines", "seeds", "analytics", "notebooks"):
        source = REPO_ROOT / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, root / name)
    return root


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example project, with nothing built yet."""
    return _copy_example(tmp_path_factory.mktemp("example"))


def _transcripts(output: str) -> dict[tuple[str, ...], list[str]]:
    """Each command's lines, by its arguments (the last line is ``exit CODE``)."""
    found: dict[tuple[str, ...], list[str]] = {}
    lines: list[str] = []
    for line in output.splitlines():
        if line.startswith("$ wk "):
            lines = found.setdefault(tuple(line.split()[2:]), [])
        else:
            lines.append(line)
    return found


def test_the_example_builds_and_is_analysed_without_the_extras_and_others_name_theirs(
    example: Path,
) -> None:
    commands = CORE_COMMANDS + [list(args) for args in NEEDS_AN_EXTRA]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            WITHOUT_EXTRAS,
            json.dumps(OPTIONAL + TEST_ONLY),
            json.dumps(commands),
        ],
        capture_output=True,
        text=True,
        cwd=example,
        env={**os.environ, "COLUMNS": "200", "WK_LAKE": str(example / "lake")},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    transcripts = _transcripts(done.stdout)
    assert set(transcripts) == {tuple(args) for args in commands}, done.stdout
    for args in CORE_COMMANDS:
        *_, status = transcripts[tuple(args)]
        assert status == "exit 0", "\n".join(transcripts[tuple(args)])
    assert transcripts[("run",)][-2].startswith("run "), transcripts[("run",)]
    assert "success: 18 success" in transcripts[("run",)][-2]
    assert (example / "products.parquet").stat().st_size > 0
    for args, (what, extra) in NEEDS_AN_EXTRA.items():
        error, status = transcripts[args]  # one line, then the exit
        assert (
            error == f"error: {what} needs the {extra} extra: pip install 'warehouse-kit[{extra}]'"
        )
        assert status == "exit 1"


def test_every_optional_module_names_its_extra_and_the_core_needs_none() -> None:
    spec = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras: dict[str, list[str]] = spec["optional-dependencies"]
    assert set(OPTIONAL) <= set(PROVIDERS)
    assert set(PROVIDERS.values()) <= set(extras)
    core = {requirement.split(">")[0].split("=")[0] for requirement in spec["dependencies"]}
    for extra in set(PROVIDERS.values()):
        optional = {requirement.split(">")[0] for requirement in extras[extra]}
        assert not optional & core, f"[{extra}] is in the core dependencies"
    (everything,) = extras["all"]
    assert set(everything.removeprefix("warehouse-kit[").rstrip("]").split(",")) == set(
        PROVIDERS.values()
    )
    assert "warehouse-kit[all]" in extras["test"]
