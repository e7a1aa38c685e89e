"""`usage-pipeline stream`: run the consent-aware anonymization worker."""

from __future__ import annotations

import faust

from broker.admin import describe_cluster
from broker.local import client_cluster
from schemas.contracts import load_contracts
from schemas.topics import CONSENT_FAMILY, raw_topic
from streams.anonymizer import Anonymizer
from streams.policy.loader import load_policy
from streams.processor import Processor
from streams.secret_key import load_pseudonymizer
from streams.topics import ensure_stream_topics
from streams.worker import build_app
from usage_pipeline.cli.console import err
from usage_pipeline.cli.publish import connect
from usage_pipeline.settings import load_settings


def stream() -> None:
    """Read the raw topics, apply consent and the anonymization policy, write one clean topic
    per purpose and a dead-letter topic.

    Refuses to start with an invalid policy or without a pseudonymization key. Delivery is at
    least once; the lake sink removes duplicates. Stop with Ctrl-C (or SIGTERM).
    """
    settings = load_settings()
    policy = load_policy(settings.stream.policy_file)
    pseudonymizer = load_pseudonymizer(settings.stream)
    bootstrap = connect(settings)
    ensure_stream_topics(client_cluster(settings, "admin"), policy, settings.topics)
    namespace = settings.topics.namespace
    cluster = client_cluster(settings, "stream")
    consent_partitions = describe_cluster(cluster).topics[raw_topic(CONSENT_FAMILY, namespace)]
    processor = Processor(
        Anonymizer(policy, pseudonymizer),
        load_contracts(),
        namespace=namespace,
        consent_partitions=consent_partitions,
        max_event_bytes=settings.producer.max_event_bytes,
    )
    err.print(
        f"Stream worker on {bootstrap}: policy {policy.version}, key id {pseudonymizer.key_id}",
        highlight=False,
    )
    app = build_app(settings, cluster, processor)
    faust.Worker(app, loglevel="WARN", quiet=True).execute_from_commandline()
