"""`usage-pipeline emit` and `usage-pipeline simulate`: publish events to the raw topics."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import BinaryIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from usage_pipeline.cli.common import connect, open_publisher
from usage_pipeline.cli.console import err, fail, out
from usage_pipeline.cli.simulation import publish_events
from usage_pipeline.producers import simulated
from usage_pipeline.producers.emit import Rejection, emit_lines
from usage_pipeline.producers.simulator import SimulationConfig
from usage_pipeline.settings import Settings, load_settings


def emit(
    file: str = typer.Argument(..., help="JSON Lines file, one event per line; '-' for stdin."),
    fail_fast: bool = typer.Option(
        False, "--fail-fast", help="Stop at the first invalid line instead of continuing."
    ),
) -> None:
    """Validate each line against the schemas and publish the valid ones.

    Each invalid line is reported with its number and reason (never its content). Counts
    are printed at the end; the exit code is 1 when any line was rejected.
    """
    lines = _open_input(file)
    settings = load_settings()
    connect(settings)

    def report(rejection: Rejection) -> None:
        err.print(f"line {rejection.line}: {rejection.reason}", highlight=False, markup=False)

    with lines, open_publisher(settings) as publisher:
        result = emit_lines(lines, publisher, stop_at_first_error=fail_fast, on_rejection=report)
    stopped = " (stopped at the first error)" if result.stopped_early else ""
    out.print(
        f"read {result.read}, published {result.published}, "
        f"rejected {len(result.rejected)}{stopped}"
    )
    if result.rejected:
        raise typer.Exit(1)


def _open_input(file: str) -> BinaryIO:
    """Standard input for '-', else the file opened for reading; a usage error (exit 2) in
    one line when it cannot be read."""
    if file == "-":
        return sys.stdin.buffer
    try:
        return Path(file).open("rb")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", 2)


def simulate_command(
    events: int = typer.Option(1_000_000, "--events", "-n", min=1, help="How many events."),
    days: int = typer.Option(30, "--days", min=1, help="Days of activity to spread them over."),
    seed: int = typer.Option(
        42, "--seed", help="Same seed, --until, --days and --events give the same events."
    ),
    until: dt.datetime | None = typer.Option(
        None, "--until", formats=["%Y-%m-%d"], help="Exclusive last day (UTC); default today."
    ),
    out_file: Path | None = typer.Option(
        None, "--out", help="Write JSON Lines here instead of publishing to Kafka."
    ),
) -> None:
    """Generate a realistic synthetic population's events and publish them (or write them).

    Accounts of several sizes, users with e-mail and IPv4/IPv6 addresses, real user agents,
    daily and weekly seasonality, a growth trend, and consent changes at realistic rates.
    """
    settings = load_settings()
    config = SimulationConfig(
        events=events,
        days=days,
        seed=seed,
        until=(until.date() if until else dt.datetime.now(dt.UTC).date()),
    )
    publish_simulation(settings, config, out_file)
    where = str(out_file) if out_file else "the raw topics"
    out.print(f"{events} events written to {where} (seed {seed}, until {config.until}).")


def publish_simulation(settings: Settings, config: SimulationConfig, out_file: Path | None) -> None:
    """Generate ``config``'s events with a progress bar; publish them, or write JSON Lines."""
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        "[progress.percentage]{task.percentage:>3.0f}%",
        TimeRemainingColumn(),
        console=err,
    )
    with progress:
        task = progress.add_task("simulating", total=config.events)

        def advance(count: int) -> None:
            progress.update(task, completed=count)

        if out_file is None:
            connect(settings)
            publish_events(settings, config, advance)
        else:
            with out_file.open("wb") as sink:
                simulated.write_simulation(sink, config, advance)
        progress.update(task, completed=config.events)
