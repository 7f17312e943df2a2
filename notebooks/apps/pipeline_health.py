"""Pipeline health: `wk dashboard pipeline_health`, or `marimo run` this file.

The last runs from the run history (schema `_wk`): their status and duration,
each model's seconds and rows, the quality checks that did not pass, and each
stream partition's offset, lag and dead letters. The
warehouse is opened read-only for each refresh and closed in between.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Pipeline health")

with app.setup:
    import marimo as mo

    from warehouse_kit.apps import charts, dashboards

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
    health = dashboards.pipeline_health(runs=runs.value, project=project)
    latest = health.latest
    mo.vstack(
        [
            mo.md(f"**Latest run** `{latest.run_id}` of {latest.pipeline}: **{latest.status}**"),
            mo.callout(latest.error, kind="danger") if latest.error else mo.md(""),
            mo.ui.table(health.runs, selection=None, label="Last runs"),
        ]
    )
    return (health,)


@app.cell
def _(health):
    durations = charts.time_series(
        health.runs, x="started_at", y="duration_s", title="Seconds per run"
    )
    timings = charts.stage_timings(health.timings, title="Seconds per model, latest run")
    mo.hstack([durations, timings], widths="equal")
    return


@app.cell
def _(health):
    charts.time_series(
        health.row_counts, x="run_started_at", y="rows_out", color="model",
        title="Rows in each gold table after each run",
    )  # fmt: skip
    return


@app.cell
def _(health):
    failed = health.failures
    mo.vstack(
        [
            mo.md(f"## Quality checks that did not pass ({len(failed)})"),
            mo.ui.table(failed, selection=None) if len(failed) else mo.md("Every check passed."),
        ]
    )
    return


@app.cell
def _(health):
    streams = health.streams
    mo.vstack(
        [
            mo.md("## Streams: each partition's next offset and lag"),
            mo.ui.table(streams, selection=None),
            charts.time_series(
                health.stream_batches,
                x="started_at",
                y="messages",
                color="model",
                title="Messages landed by each batch",
            ),
        ]
    ) if len(streams) else mo.md("")
    return


if __name__ == "__main__":
    app.run()
