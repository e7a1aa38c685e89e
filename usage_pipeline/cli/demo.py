"""`usage-pipeline demo`: the main job of the README, on simulated data.

Every stage runs at once, as in production: the stream worker and the sink are child
processes (each with its log file and, on a secured broker, its own user) started before
the first event is published, so events are anonymized while they are published and the
lake fills while they are anonymized. The console shows one progress bar per stage and the
summary; log records, librdkafka's included, go to the log files.
"""

from __future__ import annotations

import datetime as dt
import secrets
import signal
import socket
import threading
import time
import urllib.request
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from usage_pipeline.aggregates.build import build
from usage_pipeline.aggregates.report import write_report
from usage_pipeline.aggregates.tables import AGGREGATES
from usage_pipeline.broker.admin import GroupProgress
from usage_pipeline.broker.local import BrokerError, LocalBroker
from usage_pipeline.broker.maven import last_error_line
from usage_pipeline.broker.security import client_env
from usage_pipeline.cli.common import connect
from usage_pipeline.cli.console import err, log_to_file, out
from usage_pipeline.cli.scan import print_report, scan_pipeline
from usage_pipeline.cli.simulation import publish_events
from usage_pipeline.producers.publisher import PublishStats
from usage_pipeline.producers.simulator import SimulationConfig
from usage_pipeline.resolve import client_cluster, local_broker, secure_local_broker
from usage_pipeline.schemas.topics import CONSENT_FAMILY, DEAD_LETTER, raw_topic, raw_topics
from usage_pipeline.settings import Settings, load_settings
from usage_pipeline.streams.policy.loader import load_policy, policy_path
from usage_pipeline.streams.policy.model import Policy
from usage_pipeline.streams.sink.layout import LakeLayout
from usage_pipeline.streams.supervisor import PipelineProcess, WorkerProcess
from usage_pipeline.streams.topics import clean_topics, ensure_stream_topics
from usage_pipeline.streams.worker.loop import STATS_EVERY_S
from usage_pipeline.streams.worker.processes import child_metrics_port

POLL_S = 0.5
# A 1M-event demo on 2 cores with 4 partitions a topic against 12: the broker used 30-32 CPU
# seconds against 39-48, the sink 18-22 against 26-31, the lake held 690-704 files, not 1,800.
DEMO_PARTITIONS = 4
# With 4 partitions, 2 workers against 1: 54.2-67.2 s (median 61) against 62.5-81.4 (65.7);
# the worker is the slowest stage, and once publishing ends a second one takes the idle core.
DEMO_WORKERS = 2
# The worker's Prometheus counters (streams/worker/health.py) the summary is made of.
PRODUCED = "usage_pipeline_stream_records_produced_total"
TRANSACTIONS = "usage_pipeline_stream_transactions_total"


def demo(
    events: int = typer.Option(1_000_000, "--events", "-n", min=1, help="Events to simulate."),
    days: int = typer.Option(30, "--days", min=1, help="Days of activity."),
    seed: int = typer.Option(42, "--seed", help="Seed of the simulation."),
    partitions: int = typer.Option(
        DEMO_PARTITIONS,
        "--partitions",
        min=1,
        help="Partitions of each topic the demo creates, instead of topics.partitions (12, "
        "sized for a cluster): one broker on a laptop spends less CPU on fewer.",
    ),
    workers: int = typer.Option(
        DEMO_WORKERS,
        "--workers",
        min=1,
        help="Stream worker processes, instead of stream.processes (1).",
    ),
) -> None:
    """Run the pipeline end to end on a simulated population and print what each stage did.

    Starts the local broker (unless KAFKA_BOOTSTRAP_SERVERS is set), the stream worker and
    the sink, publishes the events while they anonymize and write them, waits until every
    event is in the Parquet lake, builds the DuckDB aggregates and the HTML report, scans
    for leaks, prints what each stage did, and stops what it started. It writes under the
    working directory unless configured otherwise (home, sink.lake_dir, aggregate.database)
    and says where at the start. Without a configured pseudonymization key it makes a
    random demo key in the home folder. Exits 1 if a process it started stops on its own.
    """
    loaded = load_settings()
    settings = loaded.model_copy(
        update={
            "topics": loaded.topics.model_copy(update={"partitions": partitions}),
            "stream": loaded.stream.model_copy(update={"processes": workers}),
        }
    )
    policy_file = policy_path(settings.stream.policy_file)
    policy = load_policy(policy_file)
    home = settings.home.resolve()
    log_to_file(home / "demo.log")
    _say_where(settings, policy_file)
    interrupted = _record_interrupts()
    try:
        with ExitStack() as started:
            broker = None
            if not settings.kafka.bootstrap_servers:
                broker = local_broker(settings)
                with err.status(f"Starting Kafka on {broker.bootstrap_servers} ..."):
                    if not broker.start().already_running:
                        started.callback(broker.stop)
                    secure_local_broker(settings)
            connect(settings)
            admin = client_cluster(settings, "admin")
            ensure_stream_topics(admin, policy, settings.topics)
            worker, metrics_ports = _worker(settings, home)
            sink = _sink(settings, home, policy)
            lake_before = _lake_files(settings, policy)
            started.enter_context(worker)
            started.enter_context(sink)
            watch = _Watch(broker, [worker, sink])
            run = _run_stages(settings, _simulation(events, days, seed), worker, sink, watch)
            produced = _worker_counters(settings, metrics_ports)
            sink.stop()  # everything is committed: it flushes nothing and leaves
            watch.processes.remove(sink)
            if sink.process is not None and sink.process.returncode:
                sink.check()  # it failed on its way out: say so
            lake = _lake_summary(_lake_files(settings, policy) - lake_before)
            aggregates, report = _aggregate(settings)
            run.times["aggregates and report"] = time.perf_counter() - run.start
            leaks = scan_pipeline(settings, admin, logs=[sink.log_file, home / "demo.log"])
            with err.status("Stopping what the demo started ..."):
                started.close()
    except BaseException:
        # librdkafka can turn a Ctrl-C into a SystemError: the recorded signal tells.
        if not interrupted.is_set():
            raise
        # The ExitStack has stopped the worker, the sink and the broker by now.
        err.print("Interrupted: stopped what the demo started.")
        raise typer.Exit(130) from None

    _print_records(settings, policy, run.published, produced)
    # Every clean record reached the sink (its lag is 0): those not added were repeats.
    clean = sum(produced.get((PRODUCED, topic), 0) for topic in sink.topics)
    out.print(
        f"Lake: {lake.rows:,} rows written in {lake.files:,} new Parquet files under "
        f"{settings.sink.lake_dir}/ ({int(clean) - lake.rows:,} duplicates dropped: events "
        "already in the lake, by event id)."
    )
    suppressed = sum(a.suppressed or 0 for a in aggregates)
    out.print(
        f"Aggregates: {len(aggregates)} tables in {settings.aggregate.database} and "
        f"{settings.sink.lake_dir}/aggregates/; {suppressed:,} small cells suppressed "
        f"(k = {settings.aggregate.k}). Try: usage-pipeline aggregate query "
        '"select * from email_funnel limit 5"'
    )
    out.print(f"Report: {report} (one self-contained HTML file; open it in a browser).")
    seconds = run.times["aggregates and report"]
    out.print(
        f"{events:,} events published, anonymized, written and aggregated in {seconds:.1f} s "
        f"({events / seconds:,.0f} events/s end to end); "
        + ", ".join(f"{stage} done at {at:.1f} s" for stage, at in run.times.items())
        + "."
    )
    out.print(f"Logs: {worker.log_file}, {sink.log_file}, {home / 'demo.log'}")
    out.print("Leak audit (usage-pipeline audit scan):")
    print_report(leaks, show=50)
    if leaks.exit_code:
        raise typer.Exit(leaks.exit_code)


@dataclass
class _Run:
    """What the concurrent stages did: what was published, and when each stage was done
    (seconds since the first event)."""

    start: float
    published: PublishStats
    times: dict[str, float]


@dataclass(frozen=True)
class _Lake:
    """The Parquet files this run added to the lake."""

    files: int
    rows: int


class _Watch:
    """The processes the demo started; ``check`` raises, in one line, when one has exited."""

    def __init__(self, broker: LocalBroker | None, processes: list[PipelineProcess]) -> None:
        self.broker = broker
        self.processes = processes

    def check(self) -> None:
        """Raise ProcessExitedError (or BrokerError) if a process stopped on its own."""
        if self.broker is not None and self.broker.running_pid() is None:
            tail = self.broker.log_file.read_text(errors="replace")[-20_000:]
            cause = last_error_line(tail) or "no error logged"
            raise BrokerError(f"the Kafka broker exited: {cause}", self.broker.log_file)
        for process in self.processes:
            process.check()


class _Follower:
    """A progress bar that follows a consumer group: committed records of its topics since
    the demo started, out of those plus its lag."""

    def __init__(self, progress: Progress, description: str, process: PipelineProcess) -> None:
        self.progress = progress
        self.group = GroupProgress(process.cluster, process.group, process.topics)
        self.task = progress.add_task(description, total=None, detail="")
        self.start: int | None = None

    def poll(self) -> int:
        """Update the bar; the group's lag."""
        committed, lag = self.group.now()
        if self.start is None:
            self.start = committed
        done = committed - self.start
        self.progress.update(self.task, completed=done, total=(done + lag) or None)
        return lag


def _run_stages(
    settings: Settings,
    config: SimulationConfig,
    worker: WorkerProcess,
    sink: PipelineProcess,
    watch: _Watch,
) -> _Run:
    """Publish while the worker anonymizes and the sink writes; return once every event is in
    the lake. Processes are checked all along: one that exits ends the demo."""
    progress = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=err,
    )
    with progress, ExitStack() as following:
        publishing = progress.add_task("publishing", total=config.events, detail="")
        anonymizing = _Follower(progress, "anonymizing", worker)
        writing = _Follower(progress, "writing the lake", sink)
        followers = [anonymizing, writing]
        for follower in followers:
            following.callback(follower.group.close)
        last_poll = 0.0

        def published(count: int) -> None:
            nonlocal last_poll
            progress.update(publishing, completed=count, detail=f"{count:,} events")
            if time.monotonic() - last_poll >= POLL_S:
                last_poll = time.monotonic()
                watch.check()
                for follower in followers:
                    follower.poll()

        start = time.perf_counter()
        stats = publish_events(settings, config, published)
        published(config.events)
        times = {"publish": time.perf_counter() - start}
        for name, follower in (("anonymize", anonymizing), ("lake", writing)):
            while True:
                watch.check()
                lags = {other: other.poll() for other in followers}
                if lags[follower] == 0:
                    break
                time.sleep(POLL_S)
            times[name] = time.perf_counter() - start
            followers.remove(follower)
    # The worker's counters reach /metrics every STATS_EVERY_S, in a loop round at most
    # batch_within_s long: wait until the last records it wrote are in them.
    settle = start + times["anonymize"] + STATS_EVERY_S + settings.stream.batch_within_s
    time.sleep(max(0.0, settle - time.perf_counter()))
    return _Run(start, stats, times)


def _aggregate(settings: Settings) -> tuple[list, Path]:
    """Build the aggregates and write the report, with one progress bar."""
    lake_dir = settings.sink.lake_dir
    progress = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
    )
    with progress:
        task = progress.add_task("aggregates, report", total=len(AGGREGATES) + 1)
        built = build(
            lake_dir,
            settings.aggregate.database,
            settings.aggregate.k,
            on_built=lambda _: progress.advance(task),
        )
        report = write_report(lake_dir, lake_dir / "report.html", settings.aggregate.k)
        progress.advance(task)
    return built, report


def _worker(settings: Settings, home: Path) -> tuple[WorkerProcess, list[int]]:
    """The stream worker (``stream.processes`` of them), logged in as the stream role, each
    serving /metrics; and their ports."""
    namespace = settings.topics.namespace
    env = {
        **_key_env(settings),
        **client_env(client_cluster(settings, "stream")),
        "USAGE_PIPELINE_STREAM__PROCESSES": str(settings.stream.processes),
    }
    port = settings.stream.metrics_port
    if port is None:
        port = _free_port()
        env["USAGE_PIPELINE_STREAM__METRICS_PORT"] = str(port)
    worker = WorkerProcess(
        client_cluster(settings, "admin"),
        namespace + settings.stream.app_id,
        namespace,
        home / "stream-worker.log",
        env=env,
    )
    return worker, [child_metrics_port(port, i) for i in range(settings.stream.processes)]


def _sink(settings: Settings, home: Path, policy: Policy) -> PipelineProcess:
    """The lake sink, logged in as the sink role."""
    namespace = settings.topics.namespace
    return PipelineProcess(
        "sink",
        ["sink"],
        client_cluster(settings, "admin"),
        namespace + settings.sink.group_id,
        sorted(clean_topics(policy, namespace)),
        home / "sink.log",
        env=client_env(client_cluster(settings, "sink")),
    )


def _worker_counters(settings: Settings, ports: list[int]) -> dict[tuple[str, str], float]:
    """The workers' counters now, summed, by (sample name, its topic or result label)."""
    host = settings.stream.metrics_host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    counters: dict[tuple[str, str], float] = defaultdict(float)
    for port in ports:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in (PRODUCED, TRANSACTIONS):
                    label = sample.labels.get("topic") or sample.labels.get("result", "")
                    counters[sample.name, label] += sample.value
    return dict(counters)


def _print_records(
    settings: Settings,
    policy: Policy,
    published: PublishStats,
    produced: dict[tuple[str, str], float],
) -> None:
    """The records each topic got in this run, counted by their writers (not by offsets:
    transactions leave markers at offsets of their own)."""
    namespace = settings.topics.namespace
    outputs = [
        *sorted(clean_topics(policy, namespace)),
        DEAD_LETTER.full_name(namespace),
    ]
    consent = raw_topic(CONSENT_FAMILY, namespace)
    table = Table(title=f"Records added in this run (policy {policy.version})")
    table.add_column("topic")
    table.add_column("records", justify="right")
    table.add_column("written by")
    for topic in raw_topics(namespace):
        derived = int(produced.get((PRODUCED, topic), 0))
        writers = "producer" + (" + stream worker (derived)" if topic == consent else "")
        table.add_row(topic, f"{published.sent_by_topic.get(topic, 0) + derived:,}", writers)
    for topic in outputs:
        table.add_row(topic, f"{int(produced.get((PRODUCED, topic), 0)):,}", "stream worker")
    out.print(table)
    aborted = int(produced.get((TRANSACTIONS, "aborted"), 0))
    if aborted:
        out.print(
            f"{aborted} transaction(s) of the worker were aborted and redone: the stream "
            "worker's counts include their records twice."
        )


def _lake_files(settings: Settings, policy: Policy) -> set[Path]:
    """Every data file of the lake now."""
    layout = LakeLayout(settings.sink.lake_dir)
    return {
        data_file.path
        for purpose in policy.purposes
        for _, folder in layout.days(purpose)
        for data_file in layout.files(folder)
    }


def _lake_summary(files: set[Path]) -> _Lake:
    """Files and rows (from the Parquet footers)."""
    return _Lake(len(files), sum(pq.ParquetFile(path).metadata.num_rows for path in files))


def _say_where(settings: Settings, policy_file: Path) -> None:
    """Where the demo writes (relative defaults are relative to the working directory)."""
    err.print(
        f"Working directory {Path.cwd()}: state and logs in {settings.home.resolve()}/, "
        f"lake in {settings.sink.lake_dir.resolve()}/, DuckDB in "
        f"{settings.aggregate.database.resolve()}; policy {policy_file}.",
        highlight=False,
        markup=False,
    )


def _simulation(events: int, days: int, seed: int) -> SimulationConfig:
    return SimulationConfig(
        events=events, days=days, seed=seed, until=dt.datetime.now(dt.UTC).date()
    )


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
