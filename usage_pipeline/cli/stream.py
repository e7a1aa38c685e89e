"""`usage-pipeline stream`: run the consent-aware anonymization worker(s)."""

from __future__ import annotations

import sys

import typer

from usage_pipeline.cli.common import connect
from usage_pipeline.cli.console import err
from usage_pipeline.resolve import client_cluster
from usage_pipeline.settings import load_settings
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.secret_key import load_pseudonymizer
from usage_pipeline.streams.topics import ensure_stream_topics
from usage_pipeline.streams.worker.config import worker_config
from usage_pipeline.streams.worker.processes import run_processes
from usage_pipeline.streams.worker.run import run_worker


def stream(
    processes: int | None = typer.Option(
        None,
        "--processes",
        "-p",
        min=1,
        help="Worker processes to run here (default stream.processes, 1); the group spreads "
        "the partitions over them and over workers on other machines.",
    ),
    instance: str | None = typer.Option(
        None,
        "--instance",
        help="This worker's stable name (default stream.instance_id, else the host name). "
        "Give each worker its own and keep it across restarts.",
    ),
) -> None:
    """Read the raw topics, apply consent and the anonymization policy, write one clean topic
    per purpose and a dead-letter topic, exactly once (Kafka transactions).

    Refuses to start with an invalid policy or without a pseudonymization key. Stop with
    Ctrl-C (or SIGTERM): the worker commits what it processed and leaves.
    """
    settings = load_settings()
    updates = {"processes": processes, "instance_id": instance}
    stream_settings = settings.stream.model_copy(
        update={name: value for name, value in updates.items() if value is not None}
    )
    policy = load_policy(stream_settings.policy_file)
    pseudonymizer = load_pseudonymizer(stream_settings)
    bootstrap = connect(settings)
    lifetime_ms = int(stream_settings.visitor_salt_lifetime_s * 1000)
    ensure_stream_topics(client_cluster(settings, "admin"), policy, settings.topics, lifetime_ms)
    config = worker_config(stream_settings, settings.topics)
    err.print(
        f"Stream worker {config.instance} on {bootstrap}: policy {policy.version}, "
        f"key id {pseudonymizer.key_id}, {stream_settings.processes} process(es)",
        highlight=False,
    )
    if stream_settings.processes > 1:
        port = stream_settings.metrics_port
        sys.exit(run_processes(stream_settings.processes, config.instance, port))
    run_worker(config, client_cluster(settings, "stream"), settings.producer, policy, pseudonymizer)
