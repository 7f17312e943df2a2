"""Pipeline health: `wk dashboard pipeline_health`, or `marimo run` this file.

The last runs from the run history (schema `_wk`), each labelled by its start
to the second: their status and duration, each model's seconds, each gold
table's rows (a panel per table), the quality checks that failed or warned apart
from the rows quarantine checks set aside as designed, the alerts once monitors
record them, and each stream partition's offset, lag and dead letters. The
warehouse is opened read-only for each refresh and closed in between.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Pipeline health")

with app.setup:
    import marimo as mo

    from warehouse_kit.apps import charts, dashboards, health_dashboard

    charts.enable()  # the house theme; charts as inline SVG, nothing from the network


@app.cell
def _():
    project = mo.notebook_dir() or "."  # the project whose notebooks/apps/ holds this app
    runs = mo.ui.slider(2, 50, value=10, label="Runs", show_value=True)
    refresh = mo.ui.refresh(options=["30s", "1m", "5m"], label="Refresh")
    mo.vstack([mo.md("# Pipeline health"), mo.hstack([runs, refresh], justify="start")])
    return project, refresh, runs


@app.cell
def _(project, refresh, runs):
    _tick = refresh.value  # each tick of the refresh button re-reads the history
    health = health_dashboard.pipeline_health(runs=runs.value, project=project)
    latest = health.latest
    mo.vstack(
        [
            mo.md(f"**Latest run** `{latest.run_id}` of {latest.pipeline}: **{latest.status}**"),
            mo.callout(latest.error, kind="danger") if latest.error else mo.md(""),
            dashboards.table(health.runs, label="Last runs"),
        ]
    )
    return (health,)


@app.cell
def _(health):
    durations = charts.per_run(
        health.runs, y="duration_s", runs=health.run_order, title="Seconds per run"
    )
    timings = charts.stage_timings(health.timings, title="Seconds per model, latest run")
    mo.hstack([durations, timings], widths="equal")
    return


@app.cell
def _(health):
    # A panel per table, each with its own scale: one large table does not flatten the rest.
    charts.per_run(
        health.row_counts, y="rows_out", runs=health.run_order, panels="model",
        title="Rows in each gold table after each run",
    )  # fmt: skip
    return


@app.cell
def _(health):
    failed, warned, set_aside = health.failures, health.warnings, health.set_aside
    mo.vstack(
        [
            mo.md(f"## Quality checks that failed ({len(failed)})"),
            dashboards.table(failed) if len(failed) else mo.md("No check failed."),
            mo.md(f"## Checks that warned ({len(warned)})"),
            dashboards.table(warned) if len(warned) else mo.md("No check warned."),
            mo.md(f"## Rows set aside as designed ({len(set_aside)})"),
            mo.md(
                "Quarantine checks doing their job: the rows they caught went to the model's "
                "quarantine table with their reasons, and the model was built without them."
            ),
            dashboards.table(set_aside) if len(set_aside) else mo.md("None."),
        ]
    )
    return


@app.cell
def _(health):
    # The monitors of the pipelines' monitoring: (ok, firing, unknown) and the alerts sent.
    firing = int((health.monitors["status"] == "firing").sum())
    mo.vstack(
        [
            mo.md(f"## Monitors ({firing} firing of {len(health.monitors)})"),
            dashboards.table(health.monitors)
            if len(health.monitors)
            else mo.md("No monitors: declare them in `monitoring.monitors` of a pipeline."),
            mo.md(f"## Alerts ({len(health.alerts)})") if len(health.alerts) else mo.md(""),
            dashboards.table(health.alerts) if len(health.alerts) else mo.md(""),
        ]
    )
    return


@app.cell
def _(health):
    streams = health.streams
    partitions = streams.assign(
        partition_of=streams["topic"] + " / " + streams["partition"].astype(str)
    )
    mo.vstack(
        [
            mo.md(f"## Streams: lag {int(streams['lag'].sum()):,} messages in all"),
            dashboards.table(streams),
            mo.hstack(
                [
                    charts.bar(
                        partitions,
                        category="partition_of",
                        value="lag",
                        color="model",
                        title="Lag per partition, as its last batch was read",
                    ),
                    charts.per_run(
                        health.stream_batches,
                        y="messages",
                        runs=health.run_order,
                        color="model",
                        title="Messages landed by each batch",
                    ),
                ],
                widths="equal",
            ),
        ]
    ) if len(streams) else mo.md("")
    return


if __name__ == "__main__":
    app.run()
