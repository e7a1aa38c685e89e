"""`usage-pipeline subject export | erase`: a data subject's access and erasure requests."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from usage_pipeline.cli.console import err, fail, out
from usage_pipeline.cli.scan import scan_progress
from usage_pipeline.resolve import client_cluster, subject_stores
from usage_pipeline.settings import Settings, load_settings
from usage_pipeline.subjects.erase import PipelineBusyError, erase
from usage_pipeline.subjects.export import export, to_json
from usage_pipeline.subjects.receipt import RECEIPTS_DIR
from usage_pipeline.subjects.request import SubjectRequest, open_request

app = typer.Typer(
    rich_markup_mode="markdown",
    help="A data subject's requests: export everything held about it, or erase it.",
    no_args_is_help=True,
)
SUBJECT = typer.Argument(..., metavar="ID", help="The subject: its user id, else its account id.")
EMAIL = typer.Option(
    None, "--email", metavar="E", help="The subject's e-mail address, also looked for."
)


@app.command("export")
def export_command(
    subject_id: str = SUBJECT,
    email: str | None = EMAIL,
    out_file: Path | None = typer.Option(
        None, "--out", metavar="FILE", help="Write the JSON here (mode 0600), not to stdout."
    ),
) -> None:
    """Everything the pipeline holds about a subject, as JSON.

    Consent history and current state, clean lake records by output, key-rotation links,
    how many dead letters mention the subject (expected none: they are redacted), and how
    many records of the raw and clean topics do (they stay until the topics' retention).

    Needs the pseudonymization key (to compute the subject's pseudonyms); exits 1 without.
    """
    request = _open(load_settings(), subject_id, email)
    with scan_progress() as progress:
        document = to_json(export(request, progress))
    if out_file is None:
        out.file.write(document.decode() + "\n")
        return
    descriptor = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as sink:
        sink.write(document)
    err.print(f"Export written to {out_file}", highlight=False)


@app.command("erase")
def erase_command(
    subject_id: str = SUBJECT,
    email: str | None = EMAIL,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    wait: float | None = typer.Option(
        None,
        "--wait",
        metavar="SECONDS",
        help="Wait up to SECONDS for the stream worker and sink to catch up, instead of refusing.",
    ),
    receipt_dir: Path | None = typer.Option(
        None,
        "--receipt-dir",
        metavar="DIR",
        help="Where the receipt goes; default `<lake>/_receipts`.",
    ),
) -> None:
    """Make a subject's data gone or unlinkable everywhere, and write a receipt.

    Refuses (exit 1) while the stream worker or the sink has lag, unless --wait. Deletes
    the subject's rows from the outputs that need consent and unlinks them (random tokens)
    in the service output; tombstones its consent state; checks the dead letters; rebuilds
    the aggregates. The receipt (JSON) holds counts, times, policy and key id, and the
    subject only as a keyed hash. See docs/erasure.md.
    """
    settings = load_settings()
    request = _open(settings, subject_id, email)
    if not yes:
        typer.confirm(
            "Erase this subject's data from the lake, consent state and aggregates?", abort=True
        )
    try:
        with scan_progress() as progress:
            receipt = erase(request, progress, wait, lambda text: err.print(text, highlight=False))
    except PipelineBusyError as exc:
        fail(str(exc))
    path = receipt.write(receipt_dir or settings.sink.lake_dir / RECEIPTS_DIR)
    found = "nothing found" if receipt.empty else "erased"
    out.print(f"Subject {found}; receipt {path}", highlight=False)


def _open(settings: Settings, subject_id: str, email: str | None) -> SubjectRequest:
    """The subject's request, reading every store as the admin."""
    admin = client_cluster(settings, "admin")
    return open_request(subject_stores(settings), settings.stream, admin, subject_id, email)
