"""`wk monitor` and `wk alerts test`: the monitors of ``monitoring:`` (`core.monitoring`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from warehouse_kit.apps.cli.base import (
    WAIT_S,
    PipelinesArgument,
    ProjectOption,
    TargetOption,
    WaitOption,
    app,
    console,
    show,
)

alerts_app = typer.Typer(
    help="The alert channels of monitoring.alerts: try them.", no_args_is_help=True
)
app.add_typer(alerts_app, name="alerts")

_STYLES = {"ok": "green", "firing": "bold red", "unknown": "yellow"}


@app.command()
def monitor(
    pipelines: PipelinesArgument = None,
    target: TargetOption = None,
    wait: WaitOption = WAIT_S,
    project: ProjectOption = Path("."),
) -> None:
    """Evaluate the monitors now and print each one's state; send the alerts that changed.

    Alerts go out as after a run: once when a monitor begins firing, once when it is ok
    again; deliveries that failed before are tried again. Exits 1 when any monitor fires."""
    from warehouse_kit.core.monitoring import monitor as evaluate
    from warehouse_kit.core.project import Project

    files = [path.resolve() for path in pipelines] if pipelines else None
    evaluation = evaluate(Project.load(project), pipelines=files, target=target, wait=wait)
    if not evaluation.states:
        console.print("no monitors: declare them in monitoring: of a pipeline file")
        return
    table = Table("pipeline", "monitor", "state", "reason")
    for verdict in evaluation.states:
        state = Text(verdict.status, style=_STYLES[verdict.status])
        table.add_row(Text(verdict.pipeline), Text(verdict.monitor), state, Text(verdict.reason))
    show(table)
    for sent in evaluation.sent:
        outcome = "delivered" if sent.delivered else f"not delivered: {sent.error}"
        console.print(
            f"alert ({sent.kind}) of {sent.monitor} to {sent.channel} {sent.recipient}: {outcome}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    if evaluation.firing:
        raise typer.Exit(1)


@alerts_app.command("test")
def try_channels(
    pipeline: Annotated[
        str | None,
        typer.Argument(
            metavar="[PIPELINE]",
            help="A pipeline's name or file (default: every pipeline).",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Send a test message on every alert channel and say whether each was delivered.

    Exits 1 when one was not."""
    from warehouse_kit.core.monitoring import send_test_alerts
    from warehouse_kit.core.project import Project

    results = send_test_alerts(Project.load(project), pipeline)
    if not results:
        console.print("no alert channels: declare them in monitoring.alerts of a pipeline file")
        return
    table = Table("pipeline", "channel", "to", "result", "attempts")
    for result in results:
        delivery = result.delivery
        outcome = (
            Text("delivered", style="green")
            if delivery.delivered
            else Text(f"failed: {delivery.error}", style="red")
        )
        table.add_row(
            Text(result.pipeline),
            result.channel,
            Text(result.recipient),
            outcome,
            str(delivery.attempts),
        )
    show(table)
    if not all(result.delivery.delivered for result in results):
        raise typer.Exit(1)
