"""`wk stream` and `wk demo produce`."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from warehouse_kit.apps.cli.base import (
    WAIT_S,
    PipelinesArgument,
    ProjectOption,
    TargetOption,
    WaitOption,
    app,
    console,
    demo_app,
    errors,
)


@app.command()
def stream(
    pipelines: PipelinesArgument = None,
    target: TargetOption = None,
    interval: Annotated[
        float, typer.Option("--interval", min=0, help="Seconds from one batch to the next.")
    ] = 1.0,
    max_batches: Annotated[
        int | None,
        typer.Option("--max-batches", min=1, help="Stop after this many batches."),
    ] = None,
    max_messages: Annotated[
        int | None,
        typer.Option("--max-messages", min=1, help="Stop once this many messages landed."),
    ] = None,
    until_idle: Annotated[
        bool,
        typer.Option("--until-idle", help="Stop at the first batch with no new message."),
    ] = False,
    build_every: Annotated[
        int,
        typer.Option(
            "--build-every",
            min=1,
            metavar="N",
            help="Build the models downstream of the streams every N batches (and at the end).",
        ),
    ] = 1,
    wait: WaitOption = WAIT_S,
    project: ProjectOption = Path("."),
) -> None:
    """Land the pipelines' Kafka topics in bronze, exactly once, and build on them.

    Batch after batch; Ctrl-C or SIGTERM ends it after the current batch."""
    from warehouse_kit.core.project import Project
    from warehouse_kit.core.stream import MicroBatch
    from warehouse_kit.core.stream import stream as stream_project

    asked: list[int] = []

    def finish(signum: int, frame: Any) -> None:
        if asked:  # a second Ctrl-C: stop now (the batch's transaction rolls back)
            raise KeyboardInterrupt
        asked.append(signum)
        errors.print("finishing the current batch, then stopping", highlight=False)

    for kind in (signal.SIGTERM, signal.SIGINT):
        signal.signal(kind, finish)

    def show(batch: MicroBatch) -> None:
        console.print(batch.line(), highlight=False, soft_wrap=True, markup=False)

    files = [path.resolve() for path in pipelines] if pipelines else None
    result = stream_project(
        Project.load(project),
        pipelines=files,
        target=target,
        interval=interval,
        max_batches=max_batches,
        max_messages=max_messages,
        until_idle=until_idle,
        build_every=build_every,
        stop=lambda: bool(asked),
        on_batch=show,
        wait=wait,
    )
    batches = len(result.batches)
    console.print(
        f"stopped ({result.stopped}): {result.messages:,} messages in "
        f"{batches} batch{'es' if batches != 1 else ''}",
        highlight=False,
        markup=False,
    )
    if not result.ok:
        raise typer.Exit(1)


@demo_app.command("produce")
def demo_produce(
    brokers: Annotated[
        str, typer.Option("--brokers", "-b", help="Kafka brokers, host:port[,host:port...].")
    ],
    topic: Annotated[str, typer.Option("--topic", help="The topic (created when missing).")] = (
        "order_events"
    ),
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, help="Order events to send.")
    ] = 1000,
    first_id: Annotated[
        int, typer.Option("--first-id", min=1, help="The first order id (continue a series).")
    ] = 1,
    bad: Annotated[
        int, typer.Option("--bad", min=0, help="Malformed messages to add (dead letters).")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 42,
) -> None:
    """Publish order events as JSON to a Kafka topic, for the streaming example."""
    from warehouse_kit.demo.events import produce

    sent = produce(brokers, topic, count, seed=seed, first_id=first_id, bad=bad)
    console.print(f"{topic}: {sent:,} messages sent", highlight=False, markup=False)
