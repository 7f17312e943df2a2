"""Experiments: `wk dashboard experiments`, or `marimo run` this file.

The A/B tests of `analytics/experiments/`, one at a time: the sample ratio
check first (a mismatch voids every lift), each metric's lift with its
interval, the primary metric's lift as of each day with the sequential
engine's always-valid interval, and the conclusion in plain words. Everything
is computed in the warehouse by `warehouse_kit.analytics.experiments`
(`warehouse_kit.apps.experiments_dashboard`), which opens it read-only for a
refresh and closes it in between.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Experiments")

with app.setup:
    from html import escape

    import marimo as mo

    from warehouse_kit.apps import charts, dashboards
    from warehouse_kit.apps import experiments_dashboard as board

    charts.enable()  # the house theme; charts as inline SVG, nothing from the network


@app.cell
def _():
    project = mo.notebook_dir() or "."  # the project whose notebooks/apps/ holds this app
    keys = board.experiment_keys(project)
    picked = mo.ui.dropdown(keys, value=keys[0], label="Experiment")
    mo.vstack([mo.md("# Experiments"), picked])
    return picked, project


@app.cell
def _(picked, project):
    view = board.experiment_view(picked.value, project=project)
    banner = view.result.srm_banner()
    mo.vstack(
        [
            mo.md(f"## {escape(view.title)}"),
            mo.md(f"{escape(view.result.headline())}"),
            mo.callout(
                mo.md(f"**{escape(banner.headline)}**  \n{escape(banner.detail)}"),
                kind="success" if banner.ok else "danger",
            ),
        ]
    )
    return (view,)


@app.cell
def _(view):
    shown = ["label", "role", "control_value", "variant_value", "relative",
             "relative_ci_low", "relative_ci_high", "p_adjusted", "verdict"]  # fmt: skip
    columns = [column for column in shown if column in view.lifts.columns]
    mo.vstack(
        [
            charts.lift_forest(
                view.lifts, label="label", title=f"Relative lift against {view.result.control}"
            ),
            dashboards.table(view.lifts[columns], board.LIFT_FORMATS, label="Each metric's lift"),
        ]
    )
    return


@app.cell
def _(view):
    primary = view.result.primary_metric
    mo.vstack(
        [
            mo.md(f"## {escape(primary)} as of each day"),
            mo.md(
                "The relative lift on the data up to the end of each day, with the sequential "
                "engine's always-valid interval: it may be read every day. Early days without "
                "an interval have too little data for a relative lift."
            ),
            charts.cumulative_lift(view.daily, title=f"{primary}: lift as of each day"),
        ]
    ) if view.daily is not None else mo.md(
        f"## {escape(primary)} as of each day\n\n{escape(view.key)} has no sequential "
        "settings (`sequential: {planned_units: N}` in its file), so there is no "
        "always-valid path to show."
    )
    return


@app.cell
def _(view):
    mo.vstack([mo.md("## Conclusion"), mo.md(escape(view.conclusion))])
    return


if __name__ == "__main__":
    app.run()
