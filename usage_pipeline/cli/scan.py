"""The leak scan that `audit scan`, `demo` and the subject commands run, with its progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from usage_pipeline.audit.detectors import Detector
from usage_pipeline.audit.report import Allowance, ScanReport
from usage_pipeline.audit.scan import DEFAULT_ALLOWANCES, ScanTargets, scan
from usage_pipeline.broker.security import Cluster
from usage_pipeline.cli.console import err, out
from usage_pipeline.resolve import local_broker
from usage_pipeline.schemas.topics import DEAD_LETTER
from usage_pipeline.settings import Settings


def pipeline_targets(
    settings: Settings, cluster: Cluster | None, logs: list[Path] | None = None
) -> ScanTargets:
    """Every place these settings' pipeline writes, plus ``logs``."""
    return ScanTargets(
        lake_dir=settings.sink.lake_dir,
        database=settings.aggregate.database,
        cluster=cluster,
        topics=[DEAD_LETTER.full_name(settings.topics.namespace)],
        logs=list(logs or []),
        optional_logs=[settings.home / "stream-worker.log", local_broker(settings).log_file],
    )


def scan_pipeline(
    settings: Settings,
    cluster: Cluster | None,
    canaries: tuple[str, ...] = (),
    logs: list[Path] | None = None,
    allowances: list[Allowance] | None = None,
) -> ScanReport:
    """Scan every place the pipeline writes, showing progress on stderr."""
    targets = pipeline_targets(settings, cluster, logs)
    detector = Detector(canaries)
    chosen = DEFAULT_ALLOWANCES if allowances is None else allowances
    with scan_progress() as progress:
        return scan(targets, detector, chosen, progress)


def print_report(report: ScanReport, show: int = 200) -> None:
    """Each finding (place, kind, reference) up to ``show``, then the summary."""
    for finding in report.findings[:show]:
        out.print(
            f"LEAK {finding.kind:<11} {finding.location}  ref {finding.ref}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if report.finding_count > show:
        out.print(f"... and {report.finding_count - show:,} more findings", highlight=False)
    for line in report.summary_lines():
        out.print(line, highlight=False, markup=False, soft_wrap=True)


@contextmanager
def scan_progress() -> Iterator[Callable[[str, int | None], Callable[[int], None]]]:
    """A progress bar per place scanned, on stderr, gone when done."""
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err, transient=True) as progress:

        def start(label: str, total: int | None) -> Callable[[int], None]:
            task = progress.add_task(f"Scanning {label}", total=total)
            return lambda units: progress.advance(task, units)

        yield start
