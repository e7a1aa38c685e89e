"""Entry point of `usage-pipeline`: registers the command groups and maps errors to exit codes."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from broker.admin import ClusterUnreachableError
from broker.local import BrokerError
from producers.collect.tokens import TokenFileError
from schemas.contracts import ContractViolation
from streams.policy.loader import PolicyError
from streams.secret_key import PseudonymizationKeyError
from usage_pipeline.cli import (
    aggregate,
    audit,
    collect,
    demo,
    kafka,
    policy,
    publish,
    report,
    sink,
    stream,
    subject,
)
from usage_pipeline.cli.console import configure_logging, err

# Tracebacks with local variables could print personal data: never show them.
app = typer.Typer(
    help="Consent-aware usage pipeline: Kafka events, anonymized by consent, "
    "into a Parquet lake and DuckDB aggregates.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(kafka.app, name="kafka")
app.add_typer(policy.app, name="policy")
app.command("emit")(publish.emit)
app.command("simulate")(publish.simulate_command)
app.command("demo")(demo.demo)
app.command("stream")(stream.stream)
app.command("sink")(sink.sink)
app.add_typer(sink.lake_app, name="lake")
app.add_typer(aggregate.app, name="aggregate")
app.add_typer(audit.app, name="audit")
app.add_typer(subject.app, name="subject")
app.command("report")(report.report)
app.command("collect")(collect.collect)

USER_ERRORS = (
    BrokerError,
    ClusterUnreachableError,
    ContractViolation,
    PolicyError,
    PseudonymizationKeyError,
    SettingsError,  # names the setting and its source, never the value
    TokenFileError,  # names the line, never the token
    ValidationError,
)


@app.callback()
def _configure(
    log_level: str = typer.Option(
        "INFO", "--log-level", envvar="USAGE_PIPELINE_LOG_LEVEL", help="DEBUG, INFO, WARNING."
    ),
) -> None:
    configure_logging(log_level)


def main() -> None:
    """Run the CLI; known failures print one line on stderr and exit 1."""
    try:
        app()
    except USER_ERRORS as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(1)
