"""KPI dashboard: `wk dashboard kpi_dashboard` (or `marimo run notebooks/apps/kpi_dashboard.py`).

The numbers come from `warehouse_kit.apps.dashboards`, which reads the warehouse
(WK_TARGET, else warehouse.yml) read-only for each refresh and lets go of it
in between, so `wk run` can write while this app is up.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="KPI dashboard")

with app.setup:
    import marimo as mo

    from warehouse_kit.analytics.metrics.summary import EmptyWindow
    from warehouse_kit.apps import charts, dashboards

    charts.enable()  # the house theme; charts as inline SVG, nothing from the network


@app.cell
def _():
    project = mo.notebook_dir() or "."  # the project whose notebooks/apps/ holds this app
    first_day, last_day = dashboards.date_span(project)
    mo.md("# KPI dashboard")
    return first_day, last_day, project


@app.cell
def _(first_day, last_day):
    grain = mo.ui.dropdown(dashboards.GRAINS, value="month", label="Grain")
    dates = mo.ui.date_range(
        start=first_day, stop=last_day, value=(first_day, last_day), label="Dates"
    )
    by = mo.ui.dropdown(dashboards.BREAKDOWNS, value="segment", label="Breakdown by")
    metric = mo.ui.dropdown(dashboards.KPIS, value="revenue", label="Metric")
    mo.hstack([grain, dates, by, metric], justify="start", gap=2)
    return by, dates, grain, metric


@app.cell
def _(by, dates, grain, project):
    try:
        view = dashboards.kpi_view(
            grain=grain.value, dates=dates.value, by=by.value, project=project
        )
    except EmptyWindow as empty:  # dates with no data: say so, not empty tiles
        mo.stop(True, mo.callout(mo.md(str(empty)), kind="warn"))
    mo.vstack(
        [
            mo.md(f"_{view.window_note}_"),
            mo.hstack(
                [
                    mo.stat(
                        tile.value_text,
                        label=tile.label,
                        caption=tile.caption,
                        direction=tile.direction,
                        bordered=True,
                    )
                    for tile in view.tiles
                ],
                widths="equal",
            ),
        ]
    )
    return (view,)


@app.cell
def _(metric, view):
    charts.time_series(
        view.trend,
        x=view.grain,
        y=metric.value,
        grain=view.grain,
        y_format=view.format(metric.value),
        y_title=view.label(metric.value),
        title=f"{view.label(metric.value)} per {view.grain}",
    )
    return


@app.cell
def _(metric, view):
    charts.bar(
        view.breakdown,
        category=view.by,
        value=metric.value,
        value_format=view.format(metric.value),
        value_title=view.label(metric.value),
        title=f"{view.label(metric.value)} by {view.by}",
    )
    return


@app.cell
def _(metric, view):
    note = view.unknown_note(metric.value)  # what the "Unknown" group is, as the reports say
    mo.md(f"_{note}_" if note else "")
    return


@app.cell
def _(view):
    mo.accordion(
        {f"SQL of the {name}": mo.md(f"```sql\n{sql}\n```") for name, sql in view.sql.items()}
    )
    return


if __name__ == "__main__":
    app.run()
