"""SASL/SCRAM and ACLs on a real broker: each role may do its job and nothing more."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer

from tests.conftest import free_port
from tests.streams.test_worker import consent, feature
from usage_pipeline.broker.admin import (
    ClusterUnreachableError,
    LoginRefusedError,
    describe_cluster,
    read_topic,
)
from usage_pipeline.broker.clients import producer_config
from usage_pipeline.broker.config import (
    KafkaSettings,
    LocalBrokerSettings,
    LocalRole,
    ProducerSettings,
)
from usage_pipeline.broker.local import LocalBroker
from usage_pipeline.broker.security import Cluster, client_env
from usage_pipeline.producers.publisher import EventPublisher
from usage_pipeline.producers.topics import ensure_raw_topics
from usage_pipeline.resolve import local_broker, secure_local_broker
from usage_pipeline.schemas.topics import TopicSettings
from usage_pipeline.settings import Settings
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.sink.config import SinkSettings
from usage_pipeline.streams.sink.sink import LakeSink
from usage_pipeline.streams.supervisor import WorkerProcess
from usage_pipeline.streams.topics import ensure_stream_topics

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "config" / "anonymization.yaml"
NAMESPACE = "acl."
DENIED = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}


@dataclass
class Secured:
    """A broker with SCRAM users and the pipeline's ACLs, and the settings that made it."""

    settings: Settings
    broker: LocalBroker

    def client(self, role: LocalRole) -> Cluster:
        return self.broker.client(role)

    def group(self, role: LocalRole) -> str:
        """A consumer group this role is allowed to use."""
        if role == "sink":
            return NAMESPACE + self.settings.sink.group_id
        return f"{NAMESPACE}{self.settings.stream.app_id}-test"


def prepare_namespace(settings: Settings) -> None:
    """The ACLs and topics of ``settings``' namespace, made by the admin."""
    secure_local_broker(settings)
    admin = local_broker(settings).client("admin")
    ensure_raw_topics(admin, settings.topics)
    ensure_stream_topics(admin, load_policy(POLICY), settings.topics)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    home = tmp_path_factory.mktemp("secured")
    settings = Settings(
        home=home,
        local_broker=LocalBrokerSettings(
            port=free_port(), controller_port=free_port(), security="sasl_scram"
        ),
        topics=TopicSettings(namespace=NAMESPACE, partitions=2),
        sink=SinkSettings(lake_dir=home / "lake"),
    )
    broker = local_broker(settings)
    broker.start()
    try:
        prepare_namespace(settings)
        yield Secured(settings, broker)
    finally:
        broker.stop()


def produce(cluster: Cluster, topic: str) -> KafkaError | None:
    """Produce one record; its delivery error or the producer's fatal error, else None."""
    errors: list[KafkaError] = []
    config = producer_config(cluster, ProducerSettings(delivery_timeout_ms=10_000), "acl-test")
    producer = Producer(config)
    producer.produce(
        topic, b"{}", key=b"k", on_delivery=lambda e, _: errors.extend([e] if e else [])
    )
    try:
        producer.flush(30)
    except KafkaException as fatal:  # e.g. no idempotent producer id without any WRITE grant
        return fatal.args[0]
    return errors[0] if errors else None


def denial(call: object) -> int:
    """The error code with which ``call()`` failed."""
    with pytest.raises(KafkaException) as failure:
        call()  # type: ignore[operator]
    return failure.value.args[0].code()


def test_generated_passwords_are_files_only_their_owner_can_read(secured):
    for role in ("admin", "producer", "stream", "sink"):
        path = secured.broker.credentials_dir / role
        assert path.stat().st_mode & 0o777 == 0o600
    assert secured.broker.properties_file.stat().st_mode & 0o777 == 0o600


def test_producer_may_write_raw_topics(secured):
    assert produce(secured.client("producer"), NAMESPACE + "raw.usage") is None


def test_producer_may_not_write_clean_topics(secured):
    error = produce(secured.client("producer"), NAMESPACE + "clean.analytics")
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_producer_may_not_read_raw_topics(secured):
    producer = secured.client("producer")
    topic = NAMESPACE + "raw.usage"
    assert denial(lambda: read_topic(producer, topic, group="acl-producer")) in DENIED


def test_sink_may_not_read_raw_topics(secured):
    sink = secured.client("sink")
    topic = NAMESPACE + "raw.usage"
    code = denial(lambda: read_topic(sink, topic, group=secured.group("sink")))
    assert code == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_stream_reads_raw_and_writes_clean_and_dead_letters(secured):
    stream = secured.client("stream")
    assert produce(secured.client("producer"), NAMESPACE + "raw.consent") is None
    assert read_topic(stream, NAMESPACE + "raw.consent", group=secured.group("stream"))
    assert produce(stream, NAMESPACE + "clean.analytics") is None
    assert produce(stream, NAMESPACE + "dead.letter") is None


def test_stream_may_not_write_raw_topics_but_consent(secured):
    error = produce(secured.client("stream"), NAMESPACE + "raw.usage")
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert produce(secured.client("stream"), NAMESPACE + "raw.consent") is None


def test_sink_reads_clean_topics(secured):
    assert produce(secured.client("stream"), NAMESPACE + "clean.service") is None
    sink = secured.client("sink")
    assert read_topic(sink, NAMESPACE + "clean.service", group=secured.group("sink"))


def test_sink_may_not_write_clean_topics(secured):
    error = produce(secured.client("sink"), NAMESPACE + "clean.service")
    assert error is not None and error.code() in {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,  # no WRITE anywhere: no idempotent producer id
    }


@pytest.mark.parametrize(
    ("user", "password"),
    [("nobody", "whatever"), ("producer", "wrong-password")],
    ids=["unknown user", "wrong password"],
)
def test_a_bad_login_is_refused_as_an_authentication_failure(secured, user, password):
    login = KafkaSettings(
        bootstrap_servers=secured.broker.bootstrap_servers,
        security_protocol="SASL_PLAINTEXT",
        sasl_username=user,
        sasl_password=password,
    )
    with pytest.raises(LoginRefusedError) as refused:
        describe_cluster(login)
    assert password not in str(refused.value)


def test_a_client_without_credentials_gets_nothing(secured):
    with pytest.raises(ClusterUnreachableError):
        describe_cluster(secured.broker.bootstrap_servers)


def test_worker_and_sink_run_the_pipeline_under_their_own_users(secured, tmp_path):
    # A namespace of its own, so the probes' stray records above never reach this lake.
    settings = secured.settings.model_copy(
        update={"topics": TopicSettings(namespace="e2e.", partitions=2)}
    )
    prepare_namespace(settings)
    key_file = tmp_path / "pseudonymization.key"
    key_file.write_bytes(secrets.token_bytes(32))
    user = f"u-{uuid.uuid4().hex[:8]}"
    with EventPublisher(secured.client("producer"), namespace="e2e.") as publisher:
        publisher.publish(consent(user, "analytics", "granted", "2026-11-19T12:00:00Z"))
        for _ in range(3):
            publisher.publish(feature(user))
    env = {
        **client_env(secured.client("stream")),
        "USAGE_PIPELINE_TOPICS__NAMESPACE": "e2e.",
        "USAGE_PIPELINE_TOPICS__PARTITIONS": "2",
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(key_file),
        "USAGE_PIPELINE_STREAM__BATCH_WITHIN_S": "0.2",
    }
    group = "e2e." + settings.stream.app_id
    with WorkerProcess(
        secured.client("admin"), group, "e2e.", tmp_path / "worker.log", env, cwd=REPO
    ) as worker:
        worker.wait_until_caught_up(timeout_s=600)
    log = secured.broker.log_file.read_text().splitlines()
    assert not [line for line in log if "User:stream is Denied" in line and group in line]

    sink = secured.client("sink")
    analytics = read_topic(sink, "e2e.clean.analytics", group="e2e." + settings.sink.group_id)
    assert len(analytics) == 3
    stats = LakeSink(
        sink, settings.sink, load_policy(POLICY), namespace=settings.topics.namespace
    ).run(until_caught_up=True)
    assert stats.rows >= len(analytics)
