"""`usage-pipeline audit scan`: personal data where the pipeline promises there is none."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from audit.detectors import Detector, read_canaries
from audit.report import Allowance, ScanReport, parse_allowance
from audit.scan import DEFAULT_ALLOWANCES, ScanTargets, scan
from broker.local import local_broker
from broker.security import Cluster
from schemas.topics import DEAD_LETTER
from usage_pipeline.cli.console import err, out
from usage_pipeline.settings import Settings, load_settings

ALLOW_HELP = (
    "Where e-mail and IP addresses may be (repeatable); replaces the default "
    + ", ".join(str(a) for a in DEFAULT_ALLOWANCES)
    + ". Paths of lake files are matched relative to the lake folder too."
)
app = typer.Typer(
    help="Leak audit: e-mail addresses, full IP addresses and canaries where none belong.",
    no_args_is_help=True,
)


@app.command("scan")
def scan_command(
    canary: list[str] = typer.Option(
        [], "--canary", metavar="VALUE", help="A value that must appear nowhere (repeatable)."
    ),
    canaries: list[Path] = typer.Option(
        [], "--canaries", metavar="FILE", help="File of canary values, one a line (repeatable)."
    ),
    log: list[Path] = typer.Option(
        [], "--log", metavar="FILE", help="Another log file to scan (repeatable)."
    ),
    allow: list[str] = typer.Option(
        [],
        "--allow",
        metavar="PATH_GLOB:COLUMN",
        help=ALLOW_HELP,
    ),
    kafka: bool = typer.Option(
        True, "--kafka/--no-kafka", help="Read the dead-letter topic from its beginning."
    ),
    show: int = typer.Option(200, "--show", min=0, help="Most findings printed one by one."),
) -> None:
    """Scan the lake, the DuckDB database, the dead-letter topic and the logs for leaks.

    Scans every file under sink.lake_dir (Parquet: every string column, structs and lists
    opened), every string column of every table and view of aggregate.database (opened
    read-only), the dead-letter topic from its beginning, the stream worker log
    (<home>/stream-worker.log), the local broker's log and each --log FILE, for e-mail
    addresses, full IP addresses (truncated networks x.y.z.0 and IPv6 /48 are not full) and
    canary values. Prints each finding's place and kind, never the value (a reference valid
    for this run only). Exits 1 on any finding, 2 if a source could not be read, else 0.
    """
    settings = load_settings()
    try:
        allowances = [parse_allowance(a) for a in allow] if allow else list(DEFAULT_ALLOWANCES)
        values = read_canaries(canary, [str(f) for f in canaries])
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None
    bootstrap = _bootstrap(settings) if kafka else None
    report = scan_pipeline(settings, bootstrap, values, log, allowances)
    print_report(report, show)
    raise typer.Exit(report.exit_code)


def pipeline_targets(
    settings: Settings, bootstrap: Cluster | None, logs: list[Path] | None = None
) -> ScanTargets:
    """Every place these settings' pipeline writes, plus ``logs``."""
    return ScanTargets(
        lake_dir=settings.sink.lake_dir,
        database=settings.aggregate.database,
        bootstrap=bootstrap,
        topics=[DEAD_LETTER.full_name(settings.topics.namespace)],
        logs=list(logs or []),
        optional_logs=[settings.home / "stream-worker.log", local_broker(settings).log_file],
    )


def scan_pipeline(
    settings: Settings,
    bootstrap: Cluster | None,
    canaries: tuple[str, ...] = (),
    logs: list[Path] | None = None,
    allowances: list[Allowance] | None = None,
) -> ScanReport:
    """Scan every place the pipeline writes, showing progress on stderr."""
    targets = pipeline_targets(settings, bootstrap, logs)
    detector = Detector(canaries)
    chosen = DEFAULT_ALLOWANCES if allowances is None else allowances
    with _progress() as progress:
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


def _bootstrap(settings: Settings) -> Cluster | None:
    """The configured cluster, or the local broker (as its admin) if it runs; else None."""
    if settings.kafka.bootstrap_servers:
        return settings.kafka
    broker = local_broker(settings)
    return broker.client("admin") if broker.running_pid() is not None else None


@contextmanager
def _progress() -> Iterator[Callable[[str, int | None], Callable[[int], None]]]:
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
