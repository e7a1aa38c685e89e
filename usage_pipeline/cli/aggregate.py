"""`usage-pipeline aggregate build | query`: DuckDB statistics over the lake, for analysts."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path

import duckdb
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress
from rich.table import Table

from usage_pipeline.aggregates.build import Built, Recomputed, build
from usage_pipeline.aggregates.query import Format, run_query, write_result
from usage_pipeline.aggregates.tables import AGGREGATES
from usage_pipeline.cli.console import err, fail, out
from usage_pipeline.settings import load_settings

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Aggregate usage and trend statistics (DuckDB), with small cells suppressed.",
    no_args_is_help=True,
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DAYS_SHOWN = 5  # changed days listed per table; more are counted


def parse_interval(text: str) -> float:
    """Seconds in a duration such as ``90s``, ``15m``, ``1h`` or ``1d``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if match is None or float(match[1]) <= 0:
        raise typer.BadParameter(f"{text!r}: expected a positive duration like 30s, 15m, 1h")
    return float(match[1]) * _UNITS[match[2]]


@app.command("build")
def build_command(
    every: str | None = typer.Option(
        None,
        "--every",
        metavar="DURATION",
        help="Rebuild every DURATION (30s, 15m, 1h) until stopped.",
    ),
    full: bool = typer.Option(
        False, "--full", help="Recompute every table, not only the days that changed."
    ),
) -> None:
    """Bring every aggregate up to date with the lake (sink.lake_dir) and publish it.

    Each aggregate becomes `<lake>/aggregates/<name>/data.parquet` (written aside, then
    renamed) and a view in aggregate.database. Only the days whose lake files changed since
    the last build are recomputed (with their weeks and months); a changed aggregate.k or
    definition recomputes everything, as --full does. Cells with fewer than aggregate.k
    distinct subjects are suppressed, with their complements; billing tables are not.
    """
    settings = load_settings()
    interval = parse_interval(every) if every else None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set():
        _build_once(settings.sink.lake_dir, settings.aggregate.database, settings.aggregate.k, full)
        if interval is None:
            return
        # Later rounds are incremental: --full asks for one full recompute, not one per round.
        full = False
        stop.wait(interval)


def _build_once(lake_dir: Path, database: Path, k: int, full: bool) -> None:
    progress = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), console=err
    )
    with progress:
        task = progress.add_task("building aggregates", total=len(AGGREGATES))
        built = build(lake_dir, database, k, on_built=lambda _: progress.advance(task), full=full)
    out.print(_summary(built, k, database))


def _summary(built: list[Built], k: int, database: Path) -> Table:
    table = Table(title=f"Aggregates (k = {k}) in {database}")
    table.add_column("aggregate")
    table.add_column("rows", justify="right")
    table.add_column("suppressed cells", justify="right")
    table.add_column("recomputed")
    for item in built:
        suppressed = "-" if item.suppressed is None else f"{item.suppressed:,}"
        table.add_row(item.name, f"{item.rows:,}", suppressed, _recomputed(item))
    return table


def _recomputed(item: Built) -> str:
    """What the build recomputed of one table: all, the periods of some days, or nothing."""
    if item.recomputed is Recomputed.all:
        return "all"
    if item.recomputed is Recomputed.none:
        return "unchanged"
    days = [day.isoformat() for day in item.days]
    more = len(days) - _DAYS_SHOWN
    return "periods of " + ", ".join(days[:_DAYS_SHOWN]) + (f" (+{more} days)" if more > 0 else "")


@app.command("query")
def query_command(
    sql: str = typer.Argument(
        ..., help="SQL over the aggregate views, e.g. 'select * from usage'."
    ),
    fmt: Format | None = typer.Option(
        None, "--format", "-f", help="Write a file instead of a table."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (with --format)."
    ),
) -> None:
    """Run DuckDB SQL over the published aggregates: print a table, or write CSV, JSON, Parquet."""
    if (fmt is None) != (output is None):
        raise typer.BadParameter("--format and --output go together")
    settings = load_settings()
    try:
        result = run_query(settings.aggregate.database, sql)
    except (FileNotFoundError, duckdb.Error) as exc:
        fail(str(exc))
    if fmt is not None and output is not None:
        write_result(result, fmt, output)
        err.print(f"{result.num_rows:,} rows written to {output}", highlight=False)
        return
    grid = Table(*result.column_names)
    for row in result.to_pylist():
        grid.add_row(*("" if value is None else str(value) for value in row.values()))
    out.print(grid)
