"""`usage-pipeline demo`: the main job of the README, on simulated data."""

from __future__ import annotations

import datetime as dt
import time

import typer
from rich.table import Table

from broker.admin import topic_sizes
from broker.local import local_broker
from producers.simulator import SimulationConfig
from schemas.topics import raw_topics
from usage_pipeline.cli.console import err, out
from usage_pipeline.cli.publish import connect, publish_simulation
from usage_pipeline.settings import load_settings


def demo(
    events: int = typer.Option(200_000, "--events", "-n", min=1, help="Events to simulate."),
    days: int = typer.Option(30, "--days", min=1, help="Days of activity."),
    seed: int = typer.Option(42, "--seed", help="Seed of the simulation."),
) -> None:
    """Start the local broker (unless a cluster is configured), create the raw topics,
    publish a simulated population's events, and show what each raw topic received.

    Stops what it started. The stream worker, the lake sink and the aggregates join the
    demo as they are built.
    """
    settings = load_settings()
    broker = None if settings.kafka.bootstrap_servers else local_broker(settings)
    started_here = False
    if broker is not None:
        with err.status(f"Starting Kafka on {broker.bootstrap_servers} ..."):
            started_here = not broker.start().already_running
    try:
        bootstrap = connect(settings)
        topics = list(raw_topics(settings.topics.namespace))
        before = topic_sizes(bootstrap, topics)
        config = SimulationConfig(
            events=events, days=days, seed=seed, until=dt.datetime.now(dt.UTC).date()
        )
        start = time.perf_counter()
        publish_simulation(settings, config, None)
        seconds = time.perf_counter() - start
        after = topic_sizes(bootstrap, topics)
    finally:
        if started_here and broker is not None:
            with err.status("Stopping the Kafka broker this demo started ..."):
                broker.stop()

    table = Table(title="Raw topics: events acknowledged by the broker in this run")
    table.add_column("topic")
    table.add_column("events", justify="right")
    for topic in topics:
        table.add_row(topic, f"{after[topic] - before[topic]:,}")
    table.add_row("[bold]total[/]", f"[bold]{sum(after.values()) - sum(before.values()):,}[/]")
    out.print(table)
    out.print(f"Published {events:,} events in {seconds:.1f} s ({events / seconds:,.0f} events/s).")
