"""Benchmark: the whole pipeline on N events, against the broker's own limit, in one run.

The pipeline runs as in production, every stage at once on the same broker: the stream
worker (`usage-pipeline stream`) and the lake sink (`usage-pipeline sink`) are child
processes started first, then this process simulates and publishes N events. When the
sink has committed every clean record (so every row is in Parquet), `usage-pipeline
aggregate build` runs. End to end is the wall time from the first publish to the end of
the build; the target is 1M events in 60 s on 2 cores.

Latency from publish to Parquet (method in lake_latency.py): the publish time of every
(N / 10,000)-th event is noted; after the run each lake file's rows are matched with them,
the file's ctime (set by the sink's rename into the lake) being the moment they became
visible. Measured twice: "under load" for events of the bulk run (it includes the queue in
front of the slowest stage), and "at rest" for probe events published at 20/s for two flush
intervals once the pipeline has caught up. The target, p99 at most 5 s (issue 16; the
defaults sink.flush_seconds = 2 and stream.commit_interval_s = 0.5 are chosen for it),
applies to the latter.

Then, alone on the same broker, each stage's baseline (ratios are ours / baseline):

  confluent loop        bench/stream.py's plain confluent-kafka loop running the same
                        Processor on the same raw topics (its own group and output topics)
  lake sink alone       bench/sink.py's LakeSink run over the clean topics the worker wrote,
                        with a fresh group and a fresh lake (the sink's own capacity)
  ProducerPerformance   Kafka's Java tool, N records drawn from our serialized events,
                        our producer's settings (acks=all, idempotent, lz4, linger, batch)
  ConsumerPerformance   Kafka's Java tool reading those N records back

Usage: python bench/pipeline.py [--events 1000000] [--partitions 6] [--keep] [--json FILE]
Uses KAFKA_BOOTSTRAP_SERVERS if set, else starts (or reuses) the local broker. Needs java
and mvn (Kafka's tools are resolved from Maven Central once). Figures go to
bench/results/pipeline-<time>-<commit>.json unless --json names another file.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from multiprocessing import get_context
from pathlib import Path

import harness
import kafka_tools
import pyarrow.parquet as pq
from lake_latency import PublishClock, latencies, summary
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sink import lake_sink
from stream import run_baseline

from usage_pipeline.broker.admin import consumer_lag, create_topics, topic_sizes
from usage_pipeline.cli.console import err
from usage_pipeline.producers.publisher import EventPublisher
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.producers.topics import ensure_raw_topics
from usage_pipeline.schemas.topics import TopicSpec, raw_topics
from usage_pipeline.settings import Settings
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.sink.config import SinkSettings
from usage_pipeline.streams.supervisor import WorkerProcess
from usage_pipeline.streams.topics import clean_topics, ensure_stream_topics

REPO = harness.REPO
POLICY_FILE = REPO / "config" / "anonymization.yaml"
RESULTS = REPO / "bench" / "results"
LATENCY_SAMPLES = 10_000
PROBES_PER_S = 20
PAYLOAD_SAMPLE = 10_000
POLL_S = 1.0
SINK_GROUP = "bench-pipeline-sink"
TARGET_E2E_S = 60.0
TARGET_P99_S = 5.0


def simulation(events: int, seed: int, days: int = 30) -> SimulationConfig:
    """N simulated events over the ``days`` days up to today, so every lake partition is recent."""
    return SimulationConfig(
        events=events, days=days, seed=seed, until=dt.datetime.now(dt.UTC).date()
    )


def progress_bar() -> Progress:
    """A stderr progress bar with counts, elapsed and remaining time."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )


def follow(
    description: str, total: int, remaining: Callable[[], int], done: Callable[[int], bool]
) -> list[tuple[float, int]]:
    """Show a stage's progress until ``done(remaining)``; the (time, remaining) samples."""
    samples = []
    with progress_bar() as progress:
        task = progress.add_task(description, total=total)
        while True:
            left = remaining()
            samples.append((time.perf_counter(), left))
            progress.update(task, completed=total - left)
            if done(left):
                return samples
            time.sleep(POLL_S)


def steady_rate(samples: list[tuple[float, int]]) -> float:
    """Records/s between 90% and 10% of the backlog left at the first sample."""
    start = samples[0][1]
    t1, left1 = next(s for s in samples if s[1] <= 0.9 * start)
    t2, left2 = next(s for s in samples if s[1] <= 0.1 * start)
    return (left1 - left2) / (t2 - t1) if t2 > t1 else math.nan


def publish(
    bootstrap: str,
    settings: Settings,
    namespace: str,
    config: SimulationConfig,
    clock: PublishClock,
) -> float:
    """Simulate and publish ``config``'s events, noting sampled publish times; the seconds."""
    start = time.perf_counter()
    with (
        progress_bar() as progress,
        EventPublisher(bootstrap, settings.producer, namespace=namespace) as publisher,
    ):
        task = progress.add_task("simulate+publish", total=config.events)
        for count, event in enumerate(simulate(config), start=1):
            publisher.publish(event)
            clock.offer(event["event_id"])
            if count % 10_000 == 0:
                progress.update(task, completed=count)
        progress.update(task, completed=config.events)
    return time.perf_counter() - start


def publish_probes(bootstrap: str, settings: Settings, namespace: str, seconds: float) -> dict:
    """Publish probe events at PROBES_PER_S for ``seconds``; their publish times."""
    clock = PublishClock(every=1)
    count = int(seconds * PROBES_PER_S)
    start = time.perf_counter()
    with EventPublisher(bootstrap, settings.producer, namespace=namespace) as publisher:
        # One event date (yesterday), as live traffic has: one file per partition and flush.
        for i, event in enumerate(simulate(simulation(count, seed=99, days=1))):
            time.sleep(max(0.0, start + i / PROBES_PER_S - time.perf_counter()))
            publisher.publish(event)
            clock.offer(event["event_id"])
    return clock.published


def lake_rows(lake: Path) -> int:
    """Rows in the lake's Parquet files, from their footers."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in (lake / "clean").rglob("*.parquet"))


def follow_child(
    description: str, total: int, remaining: Callable[[], int], function: Callable, *args: object
) -> dict:
    """Run ``function`` in a fresh process (so its peak RSS is its own), showing its progress."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        running = pool.submit(function, *args)
        follow(description, total, remaining, lambda _: running.done())
        return running.result()


class Pipeline:
    """The worker and sink child processes of one run, in a scratch folder."""

    def __init__(self, bootstrap: str, settings: Settings, namespace: str, root: Path) -> None:
        self.bootstrap = bootstrap
        self.settings = settings
        self.namespace = namespace
        self.root = root
        self.lake = root / "lake"
        self.clean_topics = sorted(clean_topics(load_policy(POLICY_FILE), namespace))
        self.env = {
            # The children run in the scratch folder but import the project from this
            # checkout, like `python -m` here.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "USAGE_PIPELINE_TOPICS__NAMESPACE": namespace,
            "USAGE_PIPELINE_STREAM__POLICY_FILE": str(POLICY_FILE),
            "USAGE_PIPELINE_SINK__LAKE_DIR": str(self.lake),
            "USAGE_PIPELINE_SINK__GROUP_ID": SINK_GROUP,
            "USAGE_PIPELINE_AGGREGATE__DATABASE": str(root / "aggregates.duckdb"),
        }
        self.worker: WorkerProcess | None = None
        self.sink: subprocess.Popen | None = None

    def start(self, key_file: Path) -> None:
        """Start the worker and the sink."""
        env = {**self.env, "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(key_file)}
        self.worker = WorkerProcess(
            self.bootstrap,
            self.namespace + self.settings.stream.app_id,
            self.namespace,
            self.root / "worker.log",
            env=env,
            cwd=self.root,
        )
        self.worker.start()
        self.sink = self._command("sink")

    def wait_for_worker(self, description: str, total: int) -> list[tuple[float, int]]:
        """Follow the worker until every raw record is committed."""
        worker = self.worker
        assert worker is not None
        with ThreadPoolExecutor(1) as pool:
            caught_up = pool.submit(worker.wait_until_caught_up, max(600.0, total / 200))
            samples = follow(description, total, worker.lag, lambda _: caught_up.done())
            caught_up.result()
        return samples

    def wait_for_sink(self, description: str) -> None:
        """Follow the sink until it has committed every clean record, i.e. all is in Parquet."""
        total = sum(topic_sizes(self.bootstrap, self.clean_topics).values())

        def remaining() -> int:
            if self.sink is not None and self.sink.poll() is not None:
                raise RuntimeError(f"the sink exited; see {self.root / 'sink.log'}")
            return consumer_lag(self.bootstrap, self.namespace + SINK_GROUP, self.clean_topics)

        follow(description, total, remaining, lambda left: left == 0)

    def build_aggregates(self) -> tuple[float, float]:
        """Run `usage-pipeline aggregate build` over the lake; its seconds and peak RSS."""
        start = time.perf_counter()
        build = self._command("aggregate", "build")
        rss = harness.wait_child(build)
        if build.returncode != 0:
            raise RuntimeError(f"the aggregate build failed; see {self.root / 'aggregate.log'}")
        return time.perf_counter() - start, rss

    def stop(self) -> dict:
        """Stop the sink (it flushes first) and the worker; their peak RSS (MiB)."""
        rss = {"worker": math.nan, "sink": math.nan}
        if self.worker is not None:
            process = self.worker.process
            if process is not None and process.poll() is None:
                rss["worker"] = self.worker.peak_rss_mib()
            self.worker.stop()
            self.worker = None
        if self.sink is not None and self.sink.poll() is None:
            self.sink.terminate()
            rss["sink"] = harness.wait_child(self.sink)
        self.sink = None
        return rss

    def _command(self, *arguments: str) -> subprocess.Popen:
        log = self.root / f"{arguments[0]}.log"
        with log.open("ab") as output:
            return subprocess.Popen(
                [sys.executable, "-m", "usage_pipeline", *arguments],
                cwd=self.root, env={**os.environ, **self.env}, stdout=output,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip


def run_pipeline(pipeline: Pipeline, events: int, key_file: Path) -> dict:
    """Publish, anonymize, write the lake and build the aggregates, all at once; the figures."""
    settings, namespace = pipeline.settings, pipeline.namespace
    pipeline.start(key_file)
    clock = PublishClock(every=events // LATENCY_SAMPLES)
    start = time.perf_counter()
    publish_s = publish(pipeline.bootstrap, settings, namespace, simulation(events, 7), clock)
    publisher_rss = harness.peak_rss_mib()  # before this process does anything else
    samples = pipeline.wait_for_worker("anonymize (worker)", events)
    worker_s = time.perf_counter() - start
    pipeline.wait_for_sink("lake sink")
    lake_s = time.perf_counter() - start
    with err.status("aggregate build ..."):
        build_s, build_rss = pipeline.build_aggregates()
    end_to_end_s = time.perf_counter() - start
    rows = lake_rows(pipeline.lake)

    probe_s = 2 * settings.sink.flush_seconds
    with err.status(f"latency probes at rest: {PROBES_PER_S}/s for {probe_s:g} s ..."):
        probes = publish_probes(pipeline.bootstrap, settings, namespace, probe_s)
    probe_events = len(probes)
    pipeline.wait_for_worker("probes: worker", probe_events)
    pipeline.wait_for_sink("probes: sink")
    rss = pipeline.stop()
    return {
        "publish": {"events": events, "seconds": publish_s, "peak_rss_mib": publisher_rss},
        "worker": {
            "events": events,
            "seconds": worker_s,
            "steady_events_per_s": steady_rate(samples),
            "peak_rss_mib": rss["worker"],
        },
        "sink": {"rows": rows, "seconds": lake_s, "peak_rss_mib": rss["sink"]},
        "aggregates": {"rows": rows, "seconds": build_s, "peak_rss_mib": build_rss},
        "end_to_end": {"events": events, "seconds": end_to_end_s},
        "latency": {
            "under_load": summary(latencies(pipeline.lake, clock.published)),
            "at_rest": summary(latencies(pipeline.lake, probes)),
            "flush_seconds": settings.sink.flush_seconds,
        },
    }


def run_baselines(pipeline: Pipeline, events: int, key: bytes, scratch: Path) -> dict:
    """Each stage's baseline, one after the other, alone on the broker; the figures."""
    bootstrap, namespace, settings = pipeline.bootstrap, pipeline.namespace, pipeline.settings
    raw = list(raw_topics(namespace))
    confluent = follow_child(
        "confluent loop (baseline)",
        sum(topic_sizes(bootstrap, raw).values()),
        lambda: consumer_lag(bootstrap, f"{namespace}baseline.baseline", raw),
        run_baseline, bootstrap, namespace, key,
    )  # fmt: skip

    clean = pipeline.clean_topics
    lake = pipeline.root / "lake-alone"
    # bench/sink.py's lake_sink uses the default sink group, which the pipeline's sink did not.
    group = namespace + SinkSettings().group_id
    sink_alone = follow_child(
        "lake sink alone",
        sum(topic_sizes(bootstrap, clean).values()),
        lambda: consumer_lag(bootstrap, group, clean),
        lake_sink, bootstrap, namespace, lake,
    )  # fmt: skip
    shutil.rmtree(lake, ignore_errors=True)

    jars = kafka_tools.tool_jars(settings)
    perf_topic = f"{namespace}perf"
    create_topics(bootstrap, [TopicSpec(perf_topic, settings.topics.partitions)])
    payloads, mean_bytes = kafka_tools.payload_file(
        simulation(min(events, PAYLOAD_SAMPLE), seed=5), scratch
    )
    with err.status(f"ProducerPerformance: {events:,} records ..."):
        producer = kafka_tools.producer_performance(
            jars, bootstrap, perf_topic, events, payloads, settings.producer
        )
    payloads.unlink()
    with err.status(f"ConsumerPerformance: {events:,} records ..."):
        consumer = kafka_tools.consumer_performance(
            jars, bootstrap, perf_topic, events, f"{namespace}perf-consumer"
        )
    return {
        "confluent_loop": confluent,
        "sink_alone": sink_alone,
        "producer_performance": {**producer, "mean_record_bytes": mean_bytes},
        "consumer_performance": consumer,
    }


def rates(figures: dict) -> dict:
    """Add each stage's per-second rate; return the ratios to the baselines."""
    for name, unit in (
        ("publish", "events"),
        ("worker", "events"),
        ("sink", "rows"),
        ("aggregates", "rows"),
        ("end_to_end", "events"),
        ("confluent_loop", "events"),
        ("sink_alone", "records"),
    ):
        figures[name][f"{unit}_per_s"] = figures[name][unit] / figures[name]["seconds"]
    confluent = figures["confluent_loop"]["events_per_s"]
    return {
        "worker / confluent loop": figures["worker"]["events_per_s"] / confluent,
        "worker after publishing / confluent loop": figures["worker"]["steady_events_per_s"]
        / confluent,
        "publish / ProducerPerformance": figures["publish"]["events_per_s"]
        / figures["producer_performance"]["records_per_s"],
        "sink alone / ConsumerPerformance": figures["sink_alone"]["records_per_s"]
        / figures["consumer_performance"]["records_per_s"],
    }


def print_table(figures: dict, ratios: dict, bootstrap: str, partitions: int) -> None:
    """The figures as one table, then latency, ratios and targets."""
    f = figures
    nan = math.nan
    rows = [
        ("simulate+publish", "bench process", f["publish"], "events"),
        ("anonymize", "stream worker", f["worker"], "events"),
        ("  after publishing", "stream worker",
         {"events_per_s": f["worker"]["steady_events_per_s"], "seconds": nan}, "events"),
        ("write the lake", "sink process", f["sink"], "rows"),
        ("aggregates build", "aggregate build", f["aggregates"], "rows"),
        ("end to end", "all", f["end_to_end"], "events"),
        ("alone on the broker:", "", None, ""),
        ("lake sink alone", "fresh group", f["sink_alone"], "records"),
        ("confluent loop", "same Processor", f["confluent_loop"], "events"),
        ("ProducerPerformance", "Kafka, Java", f["producer_performance"], "records"),
        ("ConsumerPerformance", "Kafka, Java", f["consumer_performance"], "records"),
    ]  # fmt: skip
    events = f["end_to_end"]["events"]
    print(f"\n{events:,} events, {partitions} partitions, broker {bootstrap}\n")
    print(f"{'stage':<22}{'process':<17}{'per s':>10} {'':<8}{'seconds':>9}{'peak RSS MiB':>14}")
    for stage, process, run, unit in rows:
        if run is None:
            print(stage)
            continue
        print(
            f"{stage:<22}{process:<17}{run[f'{unit}_per_s']:>10,.0f} {unit:<8}"
            f"{_cell(run.get('seconds', nan), 9, 1)}{_cell(run.get('peak_rss_mib', nan), 14, 0)}"
        )
    latency = f["latency"]
    print(f"\nlatency publish -> Parquet (s)   {'rows':>7}{'p50':>8}{'p99':>8}{'max':>8}")
    for name in ("under_load", "at_rest"):
        s = latency[name]
        print(
            f"  {name.replace('_', ' '):<30}{s['rows']:>7,}"
            f"{s['p50_s']:>8.1f}{s['p99_s']:>8.1f}{s['max_s']:>8.1f}"
        )
    print()
    for label, ratio in ratios.items():
        print(f"{label:<42}{ratio:>6.2f}")
    print(
        f"\ntargets (reported, not asserted): end to end {f['end_to_end']['seconds']:.0f} s "
        f"for {events:,} events (1M in <= {TARGET_E2E_S:.0f} s); "
        f"p99 at rest {latency['at_rest']['p99_s']:.1f} s (<= {TARGET_P99_S:g} s)"
    )


def _cell(value: float, width: int, decimals: int) -> str:
    """``value`` right-aligned, or blanks where a figure does not apply (NaN)."""
    return " " * width if math.isnan(value) else f"{value:>{width},.{decimals}f}"


def main() -> None:
    command_line = harness.parser(__doc__, "events", 1_000_000)
    command_line.add_argument("--partitions", type=int, help="partitions of every topic")
    command_line.add_argument("--keep", action="store_true", help="keep the topics and the lake")
    args = command_line.parse_args()
    try:
        kafka_tools.require_java_and_maven()
    except kafka_tools.ToolsUnavailableError as exc:
        sys.exit(f"error: {exc}")
    if args.partitions:  # children (worker, sink, baselines) read it from the environment
        os.environ["USAGE_PIPELINE_TOPICS__PARTITIONS"] = str(args.partitions)
    settings, bootstrap = harness.cluster()
    namespace = harness.fresh_namespace()
    topics = settings.topics.model_copy(update={"namespace": namespace})
    ensure_raw_topics(bootstrap, topics)
    ensure_stream_topics(bootstrap, load_policy(POLICY_FILE), topics)
    root = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    pipeline = Pipeline(bootstrap, settings, namespace, root)
    key = secrets.token_bytes(32)
    with ExitStack() as cleanup:
        if not args.keep:
            cleanup.callback(shutil.rmtree, root, ignore_errors=True)
            cleanup.callback(harness.delete_namespace, bootstrap, namespace)
        cleanup.callback(pipeline.stop)
        secret = Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
        key_file = secret / "pseudonymization.key"
        key_file.write_bytes(key)
        figures = run_pipeline(pipeline, args.events, key_file)
        figures.update(run_baselines(pipeline, args.events, key, secret))
        report(figures, bootstrap, settings.topics.partitions, args.json)
    if args.keep:
        print(f"kept: topics {namespace}*, lake and logs in {root}")


def report(figures: dict, bootstrap: str, partitions: int, json_path: str | None) -> None:
    """Print the table and save the figures (before anything is cleaned up)."""
    ratios = rates(figures)
    print_table(figures, ratios, bootstrap, partitions)
    sha, _ = harness.commit()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = Path(json_path) if json_path else RESULTS / f"pipeline-{stamp}-{sha[:12]}.json"
    harness.save(
        path,
        {
            "events": figures["end_to_end"]["events"],
            "partitions": partitions,
            "broker": bootstrap,
            **figures,
            "ratios": ratios,
        },
    )
    print(f"\nfigures saved to {path}")


if __name__ == "__main__":
    main()
