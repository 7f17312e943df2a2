"""Every shell and Python example of README.md runs, so the README cannot drift.

The fenced ```bash/sh/shell/console and ```python blocks run in README order in one fresh
copy of the example project (the repository's files, as a clone has them): later examples
read what earlier ones built (the tour builds the warehouse that `wk lineage`, `wk metrics`
and `wk ab` read), and a copy per block would build it twenty times. A shell block runs in
bash, a Python block as a script, each with the project as its folder. A ```text block right
after a shell block is what it prints: its lines must appear in the output (`...` skips).

A block that cannot run here (an install, a server, a Kafka broker, minutes of work) says so
in README.md just before it, `<!-- not-run: why -->`; each is reported as a skipped test
with its reason. A shell block without that marker must consist of commands this test can
run (`wk`, `cd`, `export`, `source .venv/bin/activate`): anything else fails, so a new
example is tested unless its author says why not.

The copy's `.venv/bin/wk` runs each command through `warm_wk` (a fork of a process that has
imported warehouse-kit) rather than a new interpreter: the same command, without 2 s of
imports each time for some fifty commands."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

import warm_wk

REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"
WARM_WK = Path(__file__).resolve().parent / "warm_wk.py"

SHELL = {"bash", "sh", "shell", "console"}
RUNNABLE = SHELL | {"python"}
MARKER = re.compile(r"<!--\s*not-run:\s*(.+?)\s*-->")
FENCE = re.compile(r"^```\s*(\w*)\s*$")
ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
SEPARATORS = {"&&", "||", ";", "|", "&"}
PROGRAMS = {"wk", ".venv/bin/wk", "cd", "export"}


@dataclass(frozen=True)
class Block:
    line: int  # README line of the opening fence
    language: str
    lines: tuple[str, ...]
    not_run: str | None  # the reason of a <!-- not-run: ... --> just above
    shows: tuple[str, ...] = ()  # the output a ```text block right after it shows

    @property
    def where(self) -> str:
        return f"README.md line {self.line}"

    def script(self) -> str:
        """The block as a script whose line k is README line `self.line + k`: console
        prompts stripped, the output lines they show left blank."""
        if self.language != "console":
            return "\n".join(self.lines)
        kept, continued = [], False
        for text in self.lines:
            command = continued or text.startswith("$ ")
            kept.append(text.removeprefix("$ ").removeprefix("> ") if command else "")
            continued = command and text.endswith("\\")
        return "\n".join(kept)

    def expected_output(self) -> tuple[str, ...]:
        """What the block shows it prints: a console block's output lines, then the lines
        of a ```text block right after it."""
        script = self.script().splitlines()
        shown = [
            text for text, run in zip(self.lines, script, strict=True) if text and not run.strip()
        ]
        return (*shown, *self.shows) if self.language == "console" else self.shows


def readme_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks: list[Block] = []
    number = 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        if not opening:
            number += 1
            continue
        end = next(i for i in range(number + 1, len(lines)) if lines[i].startswith("```"))
        language, body = opening.group(1), tuple(lines[number + 1 : end])
        if language == "text" and blocks and blocks[-1].language in SHELL:
            between = lines[blocks[-1].line + len(blocks[-1].lines) + 1 : number]
            if not any(part.strip() for part in between):  # right after it: its output
                blocks[-1] = replace(blocks[-1], shows=body)
        reason = None
        above = number - 1
        while above >= 0 and lines[above].startswith("<!--"):  # the comments just above
            if found := MARKER.fullmatch(lines[above].strip()):
                reason = found.group(1)
            above -= 1
        blocks.append(Block(number + 1, language, body, reason))
        number = end + 1
    return blocks


BLOCKS = [block for block in readme_blocks(README.read_text()) if block.language in RUNNABLE]


def commands(script: str) -> Iterator[list[str]]:
    """Each simple command of a shell script: its words, without VAR=value before them."""
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)  # comments dropped
        lexer.whitespace_split = True
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token not in SEPARATORS:
                words.append(token)
                continue
            if command := list(itertools.dropwhile(ASSIGNMENT.match, words)):
                yield command
            words = []


def unrunnable(block: Block) -> list[str]:
    """The commands of a shell block that this test does not run."""
    if block.language not in SHELL:
        return []
    return [" ".join(words) for words in commands(block.script()) if not runs_here(words)]


def runs_here(command: list[str]) -> bool:
    return command[0] in PROGRAMS or command == ["source", ".venv/bin/activate"]


SAMPLE = """
<!-- not-run: serves until stopped -->
```bash
wk dashboard kpi_dashboard
```

```console
$ wk lineage x \\
>   --upstream
x
  <- y
$ wk models
```

```bash
WK_SEEDS=b wk run && cd shop  # comment; pip
pip install x | tee log
```

```text
printed
...
```
"""


def test_blocks_prompts_markers_and_shown_output_are_read():
    marked, console, bash, text = readme_blocks(SAMPLE)
    assert (marked.line, marked.not_run, console.not_run) == (3, "serves until stopped", None)
    assert console.script() == "wk lineage x \\\n  --upstream\n\n\nwk models"
    assert console.expected_output() == ("x", "  <- y")
    assert bash.expected_output() == ("printed", "...")
    assert text.language == "text"
    assert list(commands(bash.script())) == [
        ["wk", "run"], ["cd", "shop"], ["pip", "install", "x"], ["tee", "log"]
    ]  # fmt: skip
    assert unrunnable(bash) == ["pip install x", "tee log"]
    assert unrunnable(console) == []
    assert unshown(("a", "...", "c", "d"), "a\nb\nc\nd  \n") == []
    assert unshown(("c", "d"), "c\nb\nd\n") == ["c\nd"]


def test_every_example_is_run_or_says_why_not():
    markers = [line for line in README.read_text().splitlines() if MARKER.fullmatch(line.strip())]
    assert len(markers) == sum(block.not_run is not None for block in BLOCKS), (
        "a <!-- not-run: ... --> marker must be the line just above a shell or Python block"
    )
    assert len(BLOCKS) >= 25  # the parser still finds the README's examples
    problems = [
        f"{block.where}: {command!r} does not run in this test: mark the block "
        "<!-- not-run: why --> or leave it out"
        for block in BLOCKS
        if block.not_run is None
        for command in unrunnable(block)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.not_run], ids=lambda block: f"line{block.line}"
)
def test_not_run(block: Block):
    """The examples that do not run here, each with its reason (pytest -ra lists them)."""
    pytest.skip(f"{block.where}: {block.not_run}")


@pytest.mark.slow
def test_every_readme_example_runs(tmp_path):
    project, home = tmp_path / "project", tmp_path / "home"
    fresh_clone(project)
    exports = home / "exports"  # the CSV files of `wk init shop --from ~/exports`
    exports.mkdir(parents=True)
    for table in ("customers", "products"):
        shutil.copyfile(REPO_ROOT / "seeds" / f"{table}_seed.csv", exports / f"{table}.csv")
    failures_log = tmp_path / "failed-commands.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("WK_")}
    env |= {
        "HOME": str(home),
        "PATH": f"{project / '.venv' / 'bin'}{os.pathsep}{env['PATH']}",
        "COLUMNS": "200",  # no wrapping: the output checks read whole lines
        "WK_WARM_FAILURES": str(failures_log),
    }
    failures = []
    with warm_wk.started(env) as socket:
        env["WK_WARM_SOCKET"] = socket
        for block in BLOCKS:
            if block.not_run:
                continue
            result = run_block(block, project, env, tmp_path)
            failed = failures_log.read_text() if failures_log.exists() else ""
            failures_log.unlink(missing_ok=True)
            if problem := failure(block, result, failed):
                failures.append(problem)
    assert not failures, "\n\n".join(failures)


def fresh_clone(project: Path) -> None:
    """The repository's files as a clone has them (tracked, or new and not ignored): none
    of what the README's commands write in a checkout (a warehouse, `shop/`, `lake/`)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # a file deleted but not yet committed is listed too
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, project / name)
    venv = project / ".venv" / "bin"  # what `source .venv/bin/activate` and `.venv/bin/wk` find
    venv.mkdir(parents=True)
    (venv / "activate").write_text(f'export PATH="{venv}:$PATH"\n')
    (venv / "wk").write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "{WARM_WK}" wk "$@"\n')
    (venv / "wk").chmod(0o755)


def run_block(block: Block, project: Path, env: dict[str, str], tmp_path: Path):
    if block.language == "python":
        script = tmp_path / f"readme_line_{block.line}.py"
        script.write_text(block.script() + "\n")
        command = [sys.executable, "-I", "-S", str(WARM_WK), "python", str(script)]
    else:
        # Each command's README line (the script's line 2 is the fence's next) reaches `wk`,
        # which logs a failure with it, and the ERR trap; `set -e` stops the block at a
        # failure (but one in an && list: the log has those).
        where = f"README.md line $(({block.line - 1} + LINENO)): "
        preamble = (
            f"set -e; trap 'export WK_WARM_WHERE=\"{where}\"' DEBUG; "
            "trap 'echo \"${WK_WARM_WHERE}exit $?: $BASH_COMMAND\" >&2' ERR"
        )
        command = ["bash", "-c", f"{preamble}\n{block.script()}"]
    return subprocess.run(
        command, cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip


def failure(block: Block, result: subprocess.CompletedProcess[str], failed: str) -> str | None:
    """What went wrong with a block, naming README lines and commands; None if nothing."""
    problems = failed.strip().splitlines() if block.language in SHELL else []
    if result.returncode != 0 and block.language == "python":
        lines = re.findall(rf"readme_line_{block.line}\.py\", line (\d+)", result.stderr)
        at = block.line + int(lines[-1]) if lines else block.line
        problems.append(f"README.md line {at}: the Python block failed")
    elif result.returncode != 0 and not problems:
        problems.append(f"{block.where}: the block exited {result.returncode}")
    for lines in unshown(block.expected_output(), result.stdout):
        problems.append(f"{block.where}: the output does not show these lines as the README does:")
        problems.append(textwrap.indent(lines, "    "))
    if not problems:
        return None
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
    return "\n".join([*problems, "--- its output ends:", tail])


def unshown(expected: tuple[str, ...], output: str) -> list[str]:
    """The parts of `expected` (runs of lines between `...` lines, each in order) that
    `output` does not print as whole lines in that order."""
    printed = [line.rstrip() for line in output.splitlines()]
    parts: list[list[str]] = [[]]
    for line in expected:
        if line.strip() == "...":
            parts.append([])
        else:
            parts[-1].append(line.rstrip())
    missing, start = [], 0
    for part in filter(None, parts):
        found = next(
            (i for i in range(start, len(printed)) if printed[i : i + len(part)] == part), None
        )
        if found is None:
            missing.append("\n".join(part))
        else:
            start = found + len(part)
    return missing
