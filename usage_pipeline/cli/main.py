"""Entry point of `usage-pipeline`: registers the command groups and maps errors to exit codes."""

from __future__ import annotations

import sys

import typer
from confluent_kafka import KafkaError, KafkaException
from pydantic import ValidationError
from pydantic_settings import SettingsError

from usage_pipeline.broker.admin import ClusterUnreachableError, TopicCreationError
from usage_pipeline.broker.local import BrokerError
from usage_pipeline.broker.security import MissingCredentialsError
from usage_pipeline.cli.commands import LazyCommands
from usage_pipeline.cli.console import configure_logging, err, fail
from usage_pipeline.producers.collect.tokens import TokenFileError
from usage_pipeline.producers.publisher import DeliveryFailedError
from usage_pipeline.schemas.contracts import ContractViolation
from usage_pipeline.streams.policy.loader import PolicyError
from usage_pipeline.streams.secret_key import PseudonymizationKeyError
from usage_pipeline.streams.sink.errors import CompactionError, OutputSchemaError, RecordError
from usage_pipeline.streams.supervisor import ProcessExitedError
from usage_pipeline.streams.worker.loop import AssignmentError
from usage_pipeline.streams.worker.ordering import FenceUnansweredError
from usage_pipeline.streams.worker.run import TopicLayoutError
from usage_pipeline.streams.worker.salt_log import SaltLogError
from usage_pipeline.streams.worker.transaction import FatalTransactionError

# Tracebacks with local variables could print personal data: never show them.
app = typer.Typer(
    rich_markup_mode="markdown",
    help="Consent-aware usage pipeline: Kafka events, anonymized by consent, "
    "into a Parquet lake and DuckDB aggregates.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyCommands,
)

# Failures a user can meet and act on: one line on stderr (their messages name places,
# settings and reasons, never personal data), exit code 1.
USER_ERRORS = (
    AssignmentError,
    BrokerError,
    ClusterUnreachableError,
    CompactionError,
    ContractViolation,
    DeliveryFailedError,
    FatalTransactionError,
    FenceUnansweredError,
    KafkaException,  # a fatal client error: refused by an ACL, fenced, broker gone
    MissingCredentialsError,
    OSError,  # a file or folder that cannot be read or written; names the path
    OutputSchemaError,
    PolicyError,
    ProcessExitedError,
    PseudonymizationKeyError,
    RecordError,
    SaltLogError,
    SettingsError,  # names the setting and its source, never the value
    TokenFileError,  # names the line, never the token
    TopicCreationError,
    TopicLayoutError,
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
    """Run the CLI; known failures print one line on stderr and exit 1, Ctrl-C exits 130."""
    try:
        app()
    except USER_ERRORS as exc:
        fail(describe(exc))
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)


def describe(exc: BaseException) -> str:
    """What went wrong, for a person: a Kafka error by its name and text, else the message."""
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    if isinstance(error, KafkaError):
        return f"Kafka: {error.name()}: {error.str()}"
    return str(exc)
