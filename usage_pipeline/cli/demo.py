"""`usage-pipeline demo`: the main job of the README, on simulated data."""

from __future__ import annotations

import datetime as dt
import secrets
import signal
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from aggregates.build import build
from aggregates.report import write_report
from broker.acls import secure_local_broker
from broker.admin import topic_sizes
from broker.local import client_cluster, local_broker
from broker.security import client_env
from producers.simulator import SimulationConfig
from schemas.topics import DEAD_LETTER, raw_topics
from streams.policy.loader import load_policy
from streams.sink.sink import LakeSink
from streams.supervisor import WorkerProcess
from streams.topics import ensure_stream_topics
from usage_pipeline.cli.audit import print_report, scan_pipeline
from usage_pipeline.cli.console import err, out
from usage_pipeline.cli.publish import connect, publish_simulation
from usage_pipeline.settings import Settings, load_settings


def demo(
    events: int = typer.Option(1_000_000, "--events", "-n", min=1, help="Events to simulate."),
    days: int = typer.Option(30, "--days", min=1, help="Days of activity."),
    seed: int = typer.Option(42, "--seed", help="Seed of the simulation."),
) -> None:
    """Run the pipeline end to end on a simulated population and print what each stage did.

    Starts the local broker (unless KAFKA_BOOTSTRAP_SERVERS is set) and the stream worker,
    publishes the events, waits until the worker has processed every one, writes the clean
    topics into the Parquet lake, builds the DuckDB aggregates, prints what each stage did,
    and stops what it started. Without a configured pseudonymization key it
    makes a random demo key under the home folder.
    """
    settings = load_settings()
    policy = load_policy(settings.stream.policy_file)
    namespace = settings.topics.namespace
    interrupted = _record_interrupts()
    try:
        with ExitStack() as started:
            if not settings.kafka.bootstrap_servers:
                broker = local_broker(settings)
                with err.status(f"Starting Kafka on {broker.bootstrap_servers} ..."):
                    if not broker.start().already_running:
                        started.callback(broker.stop)
                    secure_local_broker(settings)
            connect(settings)
            admin = client_cluster(settings, "admin")
            ensure_stream_topics(admin, policy, settings.topics)
            topics = [
                *raw_topics(namespace),
                *sorted({namespace + p.output for p in policy.purposes.values()}),
                DEAD_LETTER.full_name(namespace),
            ]
            before = topic_sizes(admin, topics)
            worker = WorkerProcess(
                admin,
                namespace + settings.stream.app_id,
                namespace,
                settings.home / "stream-worker.log",
                env={**_key_env(settings), **client_env(client_cluster(settings, "stream"))},
            )
            started.enter_context(worker)
            config = SimulationConfig(
                events=events, days=days, seed=seed, until=dt.datetime.now(dt.UTC).date()
            )
            start = time.perf_counter()
            publish_simulation(settings, config, None)
            _wait_for_worker(worker)
            with err.status(
                f"Writing the clean topics into the lake ({settings.sink.lake_dir}/) ..."
            ):
                sink = client_cluster(settings, "sink")
                lake = LakeSink(sink, settings, policy).run(until_caught_up=True)
            with err.status("Building the aggregates with DuckDB ..."):
                aggregates = build(
                    settings.sink.lake_dir, settings.aggregate.database, settings.aggregate.k
                )
                report = write_report(
                    settings.sink.lake_dir,
                    settings.sink.lake_dir / "report.html",
                    settings.aggregate.k,
                )
            seconds = time.perf_counter() - start
            after = topic_sizes(admin, topics)
            leaks = scan_pipeline(settings, admin)  # lake, database, dead letters, logs
            with err.status("Stopping what the demo started ..."):
                started.close()
    except BaseException:
        # librdkafka can turn a Ctrl-C into a SystemError: the recorded signal tells.
        if not interrupted.is_set():
            raise
        # The ExitStack has stopped the worker and the broker by now.
        err.print("Interrupted: stopped what the demo started.")
        raise typer.Exit(130) from None

    table = Table(title=f"Records added in this run (policy {policy.version})")
    table.add_column("topic")
    table.add_column("records", justify="right")
    for topic in topics:
        table.add_row(topic, f"{after[topic] - before[topic]:,}")
    out.print(table)
    out.print(
        f"Lake: {lake.rows:,} rows written in {lake.files:,} Parquet files under "
        f"{settings.sink.lake_dir}/clean/ ({lake.duplicates:,} duplicates dropped)."
    )
    suppressed = sum(a.suppressed or 0 for a in aggregates)
    out.print(
        f"Aggregates: {len(aggregates)} tables in {settings.aggregate.database} and "
        f"{settings.sink.lake_dir}/aggregates/; {suppressed:,} small cells suppressed "
        f"(k = {settings.aggregate.k}). Try: usage-pipeline aggregate query "
        '"select * from email_funnel limit 5"'
    )
    out.print(f"Report: {report} (one self-contained HTML file; open it in a browser).")
    out.print(
        f"{events:,} events published, anonymized, written and aggregated in {seconds:.1f} s "
        f"({events / seconds:,.0f} events/s end to end). Worker log: {worker.log_file}"
    )
    out.print("Leak audit (usage-pipeline audit scan):")
    print_report(leaks, show=50)
    if leaks.exit_code:
        raise typer.Exit(leaks.exit_code)


def _wait_for_worker(worker: WorkerProcess) -> None:
    """Wait, with a progress bar, until the worker has committed every raw record; there is
    no deadline (the worker watches its own liveness; if it exits, the wait ends)."""
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    )
    with progress:
        backlog = worker.lag()
        task = progress.add_task("anonymizing", total=backlog)
        worker.wait_until_caught_up(
            timeout_s=None,
            on_lag=lambda lag: progress.update(task, completed=max(backlog - lag, 0)),
        )
        progress.update(task, completed=backlog)


def _record_interrupts() -> threading.Event:
    """An event set by Ctrl-C (SIGINT), which still raises KeyboardInterrupt as usual."""
    interrupted = threading.Event()

    def on_interrupt(_signum: int, _frame: object) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)
    return interrupted


def _key_env(settings: Settings) -> dict[str, str]:
    """Environment naming a key file: the configured one, or a random demo key."""
    stream = settings.stream
    if stream.pseudonymization_key or stream.pseudonymization_key_file:
        return {}
    key_file = settings.home.resolve() / "demo-pseudonymization.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_bytes(secrets.token_bytes(32))
    return {"USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(Path(key_file))}
