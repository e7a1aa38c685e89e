"""`usage-pipeline kafka up|status|down`: the local development broker."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.table import Table

from usage_pipeline.broker.acls import apply_acls, pipeline_acls
from usage_pipeline.broker.admin import describe_cluster
from usage_pipeline.broker.local import kafka_version
from usage_pipeline.cli.console import err, out
from usage_pipeline.producers.topics import ensure_raw_topics
from usage_pipeline.resolve import acl_names, client_cluster, local_broker, secure_local_broker
from usage_pipeline.settings import load_settings
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.topics import ensure_stream_topics

app = typer.Typer(
    rich_markup_mode="markdown",
    help=(
        "Run a single-node Apache Kafka broker (KRaft) on 127.0.0.1 for development and tests. "
        "When KAFKA_BOOTSTRAP_SERVERS is set, these commands use that cluster and start nothing."
    ),
    no_args_is_help=True,
)


@app.command()
def up() -> None:
    """Download the broker once (Maven Central), format its storage, start it, wait until ready."""
    settings = load_settings()
    if settings.kafka.bootstrap_servers:
        cluster = describe_cluster(settings.kafka.bootstrap_servers)
        out.print(f"Using the configured cluster at {cluster.bootstrap_servers}; nothing started.")
        return
    broker = local_broker(settings)
    with err.status(f"Starting Apache Kafka {kafka_version()} on {broker.bootstrap_servers} ..."):
        result = broker.start()
        secure_local_broker(settings)
    state = "was already running" if result.already_running else "is up"
    out.print(f"Kafka {state} at [bold]{broker.bootstrap_servers}[/] (log: {broker.log_file})")
    if broker.secured:
        out.print(f"SASL/SCRAM and ACLs on; generated passwords in {broker.credentials_dir}/")


@app.command()
def setup() -> None:
    """As the admin: create every pipeline topic and apply the ACL table (docs/security.md).

    For a configured cluster (e.g. docker-compose), with kafka.sasl_username set to its
    admin; the users named by local_broker.users get the grants. Safe to run again.
    """
    settings = load_settings()
    admin = client_cluster(settings, "admin")
    ensure_raw_topics(admin, settings.topics)
    ensure_stream_topics(admin, load_policy(settings.stream.policy_file), settings.topics)
    bindings = pipeline_acls(acl_names(settings), settings.local_broker.users)
    apply_acls(admin, bindings)
    out.print(f"Topics created and {len(bindings)} ACLs applied.")


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Show the bootstrap address, broker ids, controller and topics; exit 1 if unreachable."""
    settings = load_settings()
    cluster = describe_cluster(client_cluster(settings, "admin"))
    pid = None if settings.kafka.bootstrap_servers else local_broker(settings).running_pid()
    if as_json:
        out.print_json(json.dumps({**asdict(cluster), "local_broker_pid": pid}))
        return
    table = Table(show_header=False, box=None)
    table.add_row("bootstrap", cluster.bootstrap_servers)
    table.add_row("managed by", f"usage-pipeline (pid {pid})" if pid else "external")
    table.add_row("cluster id", cluster.cluster_id or "?")
    table.add_row("brokers", ", ".join(map(str, cluster.broker_ids)))
    table.add_row("controller", str(cluster.controller_id))
    topics = ", ".join(f"{name} ({parts})" for name, parts in cluster.topics.items())
    table.add_row("topics", topics or "none")
    out.print(table)


@app.command()
def down() -> None:
    """Stop the local broker (its data is kept for the next `up`)."""
    settings = load_settings()
    if settings.kafka.bootstrap_servers:
        out.print("A configured cluster is in use (KAFKA_BOOTSTRAP_SERVERS); nothing to stop.")
        return
    broker = local_broker(settings)
    with err.status("Stopping Kafka ..."):
        stopped = broker.stop()
    out.print("Kafka stopped." if stopped else "Kafka was not running.")
