"""Run a project: plan every selected model (`planner`), then build them in order.

A run holds its target from before it plans until it ends (`runlock`): one run
at a time per target, and a run found ``running`` then is dead (`state.start_run`).

A model whose definition and inputs are unchanged since its last build is up
to date and not written; the others are written by the `executor`, each in its
own transaction together with its row in ``_wk.model_runs``. A failed model
leaves its previous table in place; the models downstream of it are skipped;
the others still run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from warehouse_kit.core import (
    history_rules,
    lakehouse,
    lineage,
    monitoring,
    quality,
    runlock,
    state,
)
from warehouse_kit.core.backends import Warehouse, connect, duckdb_path, engine_of, redact
from warehouse_kit.core.catalog import Catalog, load_catalog
from warehouse_kit.core.executor import Executor, record_row
from warehouse_kit.core.extras import missing_extra
from warehouse_kit.core.fingerprint import fingerprint
from warehouse_kit.core.gate import result_rows
from warehouse_kit.core.planner import Planned, Planner
from warehouse_kit.core.progress import Reporter, Silent
from warehouse_kit.core.project import Project
from warehouse_kit.core.quality import CheckResult, CheckResults
from warehouse_kit.core.results import ModelResult, RunResult

log = logging.getLogger(__name__)


def run(
    project: Project | str | Path = ".",
    *,
    pipelines: Sequence[str | Path] | None = None,
    target: str | None = None,
    select: Sequence[str] = (),
    full_refresh: bool = False,
    dry_run: bool = False,
    reporter: Reporter | None = None,
    wait: float = runlock.DEFAULT_WAIT_S,
) -> RunResult:
    """Build the project's warehouse (or the `select`ed part of it).

    One run at a time per target: while another holds it (or, on DuckDB, a
    reader has the file open), waits up to `wait` seconds, logging who holds
    it, then raises `WarehouseBusy`. Returns the run's result; a failed model
    does not raise, check `.ok`.
    """
    with _session(project, pipelines, target, reading=dry_run, wait=wait) as session:
        catalog, warehouse, held = session
        ids = catalog.graph.select(select)
        runner = Runner(
            catalog, warehouse, reporter or Silent(), full_refresh=full_refresh, held=held
        )
        return runner.dry_run(ids) if dry_run else runner.run(ids, selection=" ".join(select))


def plan(
    project: Project | str | Path = ".",
    *,
    pipelines: Sequence[str | Path] | None = None,
    target: str | None = None,
    select: Sequence[str] = (),
) -> tuple[Catalog, dict[str, Planned]]:
    """Every selected model's planned expression and output schema; nothing is written."""
    with _session(project, pipelines, target, reading=True) as (catalog, warehouse, _):
        runner = Runner(catalog, warehouse, Silent(), full_refresh=False)
        return catalog, runner.plan(catalog.graph.select(select))


def check(
    project: Project | str | Path = ".",
    *,
    pipelines: Sequence[str | Path] | None = None,
    target: str | None = None,
    select: Sequence[str] = (),
    wait: float = runlock.DEFAULT_WAIT_S,
) -> CheckResults:
    """Run the selected models' checks on what the warehouse holds now, without rebuilding.

    The results are recorded in ``_wk.check_results`` under a run of their own,
    which holds the target as a run does (see `run` for `wait`).
    """
    with _session(project, pipelines, target, wait=wait) as (catalog, warehouse, held):
        models = catalog.graph.models
        ids = [
            node
            for node in catalog.graph.select(select)
            if models[node].checks or history_rules.of(models[node]) is not None
        ]
        return Runner(catalog, warehouse, Silent(), full_refresh=False, held=held).check(ids)


@contextmanager
def _session(
    project: Project | str | Path,
    pipelines: Sequence[str | Path] | None,
    target: str | None,
    *,
    reading: bool = False,
    wait: float = runlock.DEFAULT_WAIT_S,
) -> Iterator[tuple[Catalog, Warehouse, runlock.Held | None]]:
    """The project's catalog and its warehouse, open for the duration; held (no other
    run at the same time) unless only `reading`."""
    project = Project.of(project)
    catalog = load_catalog(project, pipelines)
    url = catalog.target(target)
    if not reading:
        with runlock.hold(url, base_dir=project.root, wait_s=wait) as held:
            yield catalog, held.warehouse, held
        return
    if engine_of(url) == "duckdb" and not Path(duckdb_path(url, project.root)).exists():
        # Only reading: do not leave an empty warehouse file behind.
        warehouse = Warehouse(connect("duckdb://").con, "duckdb", url)
    else:
        warehouse = connect(url, base_dir=project.root, wait_s=wait)
    try:
        yield catalog, warehouse, None
    finally:
        warehouse.close()


class Runner:
    def __init__(
        self,
        catalog: Catalog,
        warehouse: Warehouse,
        reporter: Reporter,
        *,
        full_refresh: bool,
        held: runlock.Held | None = None,
    ):
        self.catalog = catalog
        self.warehouse = warehouse
        self.reporter = reporter
        self.full_refresh = full_refresh
        self.held = held
        """The target's lock, when this runner holds it: a run announces itself there."""
        self.planner = Planner(catalog, warehouse, full_refresh=full_refresh)
        reconnect = held.reconnect if held is not None else warehouse.reconnect
        self.executor = Executor(warehouse, self.planner, full_refresh, reconnect)
        self._builds: dict[str, tuple[str, str | None, int | None]] = {}
        """Each model's last successful write (run id, fingerprint, rows), kept up to date."""

    def plan(self, ids: Sequence[str]) -> dict[str, Planned]:
        return self.planner.plan(ids)

    def dry_run(self, ids: Sequence[str]) -> RunResult:
        started = time.perf_counter()
        plan = self.plan(ids)
        lakehouse.check_layouts(self.catalog, {node: item.output for node, item in plan.items()})
        result = RunResult("dry-run", "planned", redact(self.warehouse.url), dry_run=True)
        self.reporter.run_started(result.run_id, result.target, list(ids))
        for node, item in plan.items():
            written = f"{item.model.materialization.kind} -> {item.schema}.{item.model.name}"
            note = "; ".join((written, *item.notes))
            outcome = ModelResult(
                node, item.model.stage, "planned", note=note, sql=item.sql(self.warehouse.con.name)
            )
            result.models.append(outcome)
            self.reporter.model_finished(outcome)
        result.duration_s = time.perf_counter() - started
        self.reporter.run_finished(result)
        return result

    def run(self, ids: Sequence[str], *, selection: str = "") -> RunResult:
        clock = time.perf_counter()
        plan = self.plan(ids)
        lakehouse.check_layouts(self.catalog, {node: item.output for node, item in plan.items()})
        # What the reporter is told also goes out as OpenLineage events, when the project asks.
        if self.catalog.project.spec.openlineage is not None:  # its client takes 0.3 s to load
            try:
                from warehouse_kit.core import openlineage
            except ModuleNotFoundError as exc:
                raise missing_extra(exc, "warehouse.yml's openlineage:") or exc from exc

            self.reporter = openlineage.listening(
                self.reporter,
                self.catalog,
                self.warehouse.url,
                plan,
                column_lineage=lineage.model_lineage,
            )
        started_at = state.now()
        run_id = state.new_run_id(started_at)
        target = redact(self.warehouse.url)
        state.ensure(self.warehouse)
        self._builds = state.last_builds(self.warehouse)
        pipelines = ",".join(p.name for p in self.catalog.pipelines)
        row = {"pipeline": pipelines, "target": target, "selection": selection}
        self._start(run_id, started_at, row)
        result = RunResult(run_id, "running", target)
        self.reporter.run_started(run_id, target, list(ids))
        broken: set[str] = set()
        for node in ids:
            outcome = self._run_one(plan[node], run_id, started_at, broken)
            result.models.append(outcome)
            if outcome.status in ("failed", "skipped"):
                broken.add(node)
            self.reporter.model_finished(outcome)
        if not result.failures():  # then the lake tables built since their last version
            result.published = lakehouse.publish_built(
                self.catalog, self.warehouse, self._builds, run_id, self.reporter
            )
        result.status = "failed" if result.first_error() else "success"
        result.duration_s = time.perf_counter() - clock
        self.warehouse.execute(
            state.update(
                "runs",
                {"run_id": run_id},
                {
                    "finished_at": state.now(),
                    "status": result.status,
                    "error": result.first_error(),
                },
            )
        )
        monitoring.after_run(self.catalog, self.warehouse)  # never fails the run
        self.reporter.run_finished(result)
        return result

    def check(self, ids: Sequence[str]) -> CheckResults:
        state.ensure(self.warehouse)
        started = state.now()
        run_id = state.new_run_id(started)
        row = {"pipeline": state.CHECK_RUN, "target": redact(self.warehouse.url)}
        self._start(run_id, started, row)
        found: list[CheckResult] = []
        for node in ids:
            model = self.catalog.graph.models[node]
            table = self.warehouse.table(model.name, self.catalog.schema_of(node))
            context = self.planner.check_context(model)
            if model.keys is not None:  # a dimension table: one row per surrogate key
                context = replace(context, key=(model.keys.surrogate,))
            found += quality.evaluate(table, model.checks, context)
            found += history_rules.check(self.warehouse, model, table)
        results = CheckResults(found, run_id=run_id)
        status = "success" if results.ok else "failed"
        with self.warehouse.transaction() as tx:
            for result in result_rows(results, run_id):
                tx.run(state.insert("check_results", result))
            where = {"run_id": run_id}
            tx.run(state.update("runs", where, {"finished_at": state.now(), "status": status}))
        return results

    def _start(self, run_id: str, started_at: datetime, row: dict[str, str]) -> None:
        """Record the run as running, and any run it finds dead as aborted."""
        holder = runlock.me()
        mine = {"run_id": run_id, "started_at": started_at, "host": holder.host, "pid": holder.pid}
        for dead in state.start_run(self.warehouse, {**row, **mine}, found_by=f"run {run_id}"):
            log.warning("run %s ended before it finished: marked aborted", dead)
        if self.held is not None:
            self.held.announce(run_id, started_at)

    def _run_one(
        self, item: Planned, run_id: str, started_at: datetime, broken: set[str]
    ) -> ModelResult:
        node = item.model.id
        result = ModelResult(node, item.model.stage, "success")
        failed_inputs = [p for p in self.catalog.graph.upstream[node] if p in broken]
        if failed_inputs:
            result.status, result.error = "skipped", f"input {failed_inputs[0]} did not build"
            self.warehouse.execute(record_row(run_id, item, result))
            return result
        self.reporter.model_started(node)
        clock = time.perf_counter()
        result.started_at = state.now()
        result.fingerprint = self._fingerprint(item)
        if self._up_to_date(item, result.fingerprint):
            result.status, result.note = "up_to_date", "its definition and inputs are unchanged"
            result.rows_out = self._builds[node][2]  # the table is as that build left it
            result.duration_s = time.perf_counter() - clock
            self.warehouse.execute(record_row(run_id, item, result))
            return result
        self.executor.write(item, result, run_id, started_at, clock)
        if result.status == "success":
            self._builds[node] = (run_id, result.fingerprint, result.rows_out)
        return result

    def _fingerprint(self, item: Planned) -> str | None:
        """See `fingerprint`; None for a source, whose files or tables say themselves
        what is new."""
        if item.batch is not None:
            return None
        upstream = self.catalog.graph.upstream[item.model.id]
        materialization: object = item.model.materialization
        if item.indexes and self.warehouse.capabilities.indexes:  # new ones need a publish
            materialization = (materialization, item.indexes)
        return fingerprint(
            item.definition if item.definition is not None else item.expr,
            materialization,
            item.model.checks,
            item.output,
            {parent: self._builds.get(parent, ("", None, None))[0] for parent in upstream},
        )

    def _up_to_date(self, item: Planned, fingerprint: str | None) -> bool:
        """Built before from the same definition and inputs, and still there."""
        if fingerprint is None or self.full_refresh:
            return False
        _, last, _ = self._builds.get(item.model.id, ("", None, None))
        return last == fingerprint and self.warehouse.exists(item.model.name, item.schema)
