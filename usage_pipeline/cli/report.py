"""`usage-pipeline report`: the published aggregates as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

import typer

from usage_pipeline.aggregates.report import write_report
from usage_pipeline.cli.console import err, fail
from usage_pipeline.settings import load_settings


def report(
    output: Path = typer.Option(
        Path("lake/report.html"), "--output", "-o", help="HTML file to write."
    ),
) -> None:
    """Write one HTML file of the published aggregates: trends, top lists, e-mail, consent.

    Charts are inline SVG and styles inline CSS: the file opens without network access.
    Suppressed cells show as "suppressed (< k)" with the k of the last build (recorded in
    `<lake>/aggregates/_build.json`). Run `usage-pipeline aggregate build` first.
    """
    settings = load_settings()
    try:
        path = write_report(settings.sink.lake_dir, output)
    except FileNotFoundError as exc:
        fail(str(exc))
    err.print(f"report written to {path}", highlight=False)
