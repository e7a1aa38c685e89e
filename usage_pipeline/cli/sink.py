"""`usage-pipeline sink` and `usage-pipeline lake compact | retention`: the Parquet lake."""

from __future__ import annotations

import datetime as dt
import signal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress
from rich.table import Table

from usage_pipeline.cli.common import connect
from usage_pipeline.cli.console import err, fail, out
from usage_pipeline.resolve import client_cluster
from usage_pipeline.settings import load_settings
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.sink.compact import compact_group, plan_compaction
from usage_pipeline.streams.sink.layout import LakeLayout
from usage_pipeline.streams.sink.malloc_arenas import cap_malloc_arenas
from usage_pipeline.streams.sink.retention import (
    RetentionError,
    delete_partition,
    empty_trash,
    expired_partitions,
)
from usage_pipeline.streams.sink.sink import LakeSink
from usage_pipeline.streams.topics import ensure_stream_topics

lake_app = typer.Typer(
    rich_markup_mode="markdown",
    help="Housekeeping of the Parquet lake: merge small files, delete expired partitions.",
    no_args_is_help=True,
)


def sink(
    until_caught_up: bool = typer.Option(
        False,
        "--until-caught-up",
        help="Exit once every assigned partition is read to its end and everything is flushed.",
    ),
) -> None:
    """Write the clean topics into the Parquet lake (sink.lake_dir), each record exactly once.

    Files are Hive-partitioned by purpose and event date, named by topic, partition and
    offsets, written to a temporary file, fsynced and renamed before offsets are committed.
    Restarts resume after the highest offset on disk; duplicates (same event_id) are
    dropped. Runs until Ctrl-C or SIGTERM, which flush what is buffered first.
    """
    cap_malloc_arenas()  # first: the admin clients' threads below would fix glibc's limit
    settings = load_settings()
    policy = load_policy(settings.stream.policy_file)
    bootstrap = connect(settings)
    ensure_stream_topics(client_cluster(settings, "admin"), policy, settings.topics)
    lake_sink = LakeSink(
        client_cluster(settings, "sink"),
        settings.sink,
        policy,
        namespace=settings.topics.namespace,
        client_id=settings.kafka.client_id,
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: lake_sink.stop())
    err.print(
        f"Sink on {bootstrap}: {len(lake_sink.purposes)} clean topics into "
        f"{settings.sink.lake_dir}/",
        highlight=False,
    )
    stats = lake_sink.run(until_caught_up=until_caught_up)
    out.print(
        f"{stats.records:,} records read, {stats.rows:,} rows written in {stats.files:,} files "
        f"by {stats.flushes:,} flushes, {stats.duplicates:,} duplicates dropped"
    )


@lake_app.command("compact")
def compact(
    days: list[dt.datetime] = typer.Option(
        [],
        "--day",
        formats=["%Y-%m-%d"],
        metavar="YYYY-MM-DD",
        help="Event date to compact (repeatable); default every day before today (UTC).",
    ),
) -> None:
    """Merge each day's files into one file per topic-partition, keeping every row once.

    The merged file is named by the smallest start and largest end offset it replaces, so
    the sink still resumes where it should. Safe to run while the sink runs; run one
    compaction at a time. After a crash, run it again: it finishes what was left.
    """
    settings = load_settings()
    policy = load_policy(settings.stream.policy_file)
    layout = LakeLayout(settings.sink.lake_dir)
    wanted = {d.date() for d in days}
    today = dt.datetime.now(dt.UTC).date()
    groups = plan_compaction(
        layout, policy.purposes, lambda day: day in wanted if wanted else day < today
    )
    table = Table(title=f"Compaction of {layout.root}")
    for column in ("purpose", "event date", "topic-partition", "files", "rows", "result"):
        table.add_column(column, justify="right" if column in ("files", "rows") else "left")
    progress = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), console=err
    )
    with progress:
        for group in progress.track(groups, description="compacting"):
            result = compact_group(layout, group)
            offsets = group.offsets
            table.add_row(
                group.purpose,
                group.day.isoformat(),
                f"{offsets.topic}[{offsets.partition}]",
                str(len(group.files)),
                f"{result.rows:,}",
                result.skipped or (result.path.name if result.path else ""),
            )
    if groups:
        out.print(table)
    out.print(f"{len(groups)} topic-partition day(s) compacted.")


@lake_app.command("retention")
def retention(
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be deleted, only."),
) -> None:
    """Delete each purpose's event-date partitions older than its retention.

    Retention is set per purpose in sink.retention_days (days, by event date). A partition
    leaves the lake with one rename, so readers see all of it or none of it.
    """
    settings = load_settings()
    policy = load_policy(settings.stream.policy_file)
    layout = LakeLayout(settings.sink.lake_dir)
    today = dt.datetime.now(dt.UTC).date()
    try:
        expired = expired_partitions(layout, policy.purposes, settings.sink.retention_days, today)
    except RetentionError as exc:
        fail(str(exc))
    table = Table(title=f"Partitions past retention on {today} ({layout.root})")
    table.add_column("purpose")
    table.add_column("event date")
    table.add_column("retention (days)", justify="right")
    if not dry_run:
        empty_trash(layout)
    progress = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), console=err
    )
    with progress:
        for partition in progress.track(expired, description="deleting"):
            if not dry_run:
                delete_partition(layout, partition)
            retained = str(settings.sink.retention_days[partition.purpose])
            table.add_row(partition.purpose, partition.day.isoformat(), retained)
    if expired:
        out.print(table)
    verb = "would delete" if dry_run else "deleted"
    out.print(f"{verb} {len(expired)} partition(s).")
