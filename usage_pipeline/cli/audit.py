"""`usage-pipeline audit scan`: personal data where the pipeline promises there is none."""

from __future__ import annotations

from pathlib import Path

import typer

from usage_pipeline.audit.detectors import read_canaries
from usage_pipeline.audit.report import parse_allowance
from usage_pipeline.audit.scan import DEFAULT_ALLOWANCES
from usage_pipeline.broker.security import Cluster
from usage_pipeline.cli.scan import print_report, scan_pipeline
from usage_pipeline.resolve import local_broker
from usage_pipeline.settings import Settings, load_settings

ALLOW_HELP = (
    "Where e-mail and IP addresses may be (repeatable); replaces the default "
    + ", ".join(f"`{a}`" for a in DEFAULT_ALLOWANCES)
    + ". Paths of lake files are matched relative to the lake folder too."
)
app = typer.Typer(
    rich_markup_mode="markdown",
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
    (`<home>/stream-worker.log`), the local broker's log and each --log FILE, for e-mail
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
    cluster = _running_cluster(settings) if kafka else None
    report = scan_pipeline(settings, cluster, values, log, allowances)
    print_report(report, show)
    raise typer.Exit(report.exit_code)


def _running_cluster(settings: Settings) -> Cluster | None:
    """The configured cluster, or the local broker (as its admin) if it runs; else None."""
    if settings.kafka.bootstrap_servers:
        return settings.kafka
    broker = local_broker(settings)
    return broker.client("admin") if broker.running_pid() is not None else None
