"""A fresh namespace of clean topics on the real broker, real clean records, and the lake."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from confluent_kafka import Producer

from usage_pipeline.broker.clients import producer_config
from usage_pipeline.broker.config import KafkaSettings, ProducerSettings
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.schemas.topics import TopicSettings
from usage_pipeline.settings import Settings
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.deadletter import Source
from usage_pipeline.streams.output import Output
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.processor import Processor
from usage_pipeline.streams.sink.arrow_schema import partitioning
from usage_pipeline.streams.sink.config import SinkSettings
from usage_pipeline.streams.sink.layout import DATA_DIR
from usage_pipeline.streams.sink.sink import LakeSink, SinkStats
from usage_pipeline.streams.topics import clean_topics, ensure_stream_topics

REPO = Path(__file__).resolve().parents[3]
POLICY = load_policy(REPO / "config" / "anonymization.yaml")
PARTITIONS = 3
GRANTED_ALL = {p: ["granted", 0] for p in ("analytics", "marketing", "partner_sharing")}
ROW_KEY = ["kafka_topic", "kafka_partition", "kafka_offset", "event_id"]


@dataclass(frozen=True)
class Produced:
    """One clean record as the broker stored it."""

    topic: str
    partition: int
    offset: int
    event_id: str


def clean_outputs(events: int, seed: int, days: int = 3, namespace: str = "") -> list[Output]:
    """Real clean records: simulated events through the stream's own Processor."""
    processor = Processor(
        Anonymizer(POLICY, Pseudonymizer(b"k" * 32, "test")), load_contracts(), namespace=namespace
    )
    today = dt.datetime.now(dt.UTC).date()
    config = SimulationConfig(events=events, days=days, seed=seed, until=today)
    clean = set(clean_topics(POLICY, namespace))
    outputs = []
    for event in simulate(config):
        outcome = processor.process(orjson.dumps(event), Source("raw", 0, 0), GRANTED_ALL.get)
        outputs.extend(o for o in outcome.outputs if o.topic in clean)
    return outputs


@dataclass
class SinkEnv:
    """Clean topics of a fresh namespace, a lake folder, and ways to run the sink on them."""

    bootstrap: str
    namespace: str
    lake: Path
    log_file: Path

    def settings(self, **sink: object) -> Settings:
        return Settings(
            kafka=KafkaSettings(bootstrap_servers=self.bootstrap),
            topics=TopicSettings(namespace=self.namespace, partitions=PARTITIONS),
            sink=SinkSettings(lake_dir=self.lake, **sink),
        )

    def produce(self, outputs: list[Output], partition: int | None = None) -> list[Produced]:
        """Publish records (keyed by event id, as the stream does; all to ``partition`` if
        given); returns where each went."""
        stored: list[Produced] = []

        def delivered(error, message) -> None:
            assert error is None, error
            event_id = orjson.loads(message.value())["event_id"]
            stored.append(
                Produced(message.topic(), message.partition(), message.offset(), event_id)
            )

        producer = Producer(producer_config(self.bootstrap, ProducerSettings(), "sink-tests"))
        for output in outputs:
            chosen = {} if partition is None else {"partition": partition}
            producer.produce(
                output.topic, output.value, key=output.key, on_delivery=delivered, **chosen
            )
            producer.poll(0)
        assert producer.flush(30) == 0
        return stored

    def run(self, **sink: object) -> SinkStats:
        """Run the sink in this process until it has caught up."""
        settings = self.settings(**sink)
        lake_sink = LakeSink(
            self.bootstrap, settings.sink, POLICY, namespace=settings.topics.namespace
        )
        return lake_sink.run(until_caught_up=True)

    def process_env(self, **sink: object) -> dict[str, str]:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "USAGE_PIPELINE_TOPICS__NAMESPACE": self.namespace,
            "USAGE_PIPELINE_TOPICS__PARTITIONS": str(PARTITIONS),
            "USAGE_PIPELINE_SINK__LAKE_DIR": str(self.lake),
        }
        env.update({f"USAGE_PIPELINE_SINK__{k.upper()}": str(v) for k, v in sink.items()})
        return env

    def start_process(self, *args: str, **sink: object) -> subprocess.Popen[bytes]:
        """`usage-pipeline sink ARGS` as a child process, logging to ``log_file``."""
        with self.log_file.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "usage_pipeline", "sink", *args],
                cwd=REPO, env=self.process_env(**sink), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def rows(self) -> pa.Table:
        """Every row of the lake, as a reader sees it."""
        return read_lake(self.lake)


def read_lake(lake: Path) -> pa.Table:
    """Every row of a lake with the identifying columns and the event date, sorted."""
    folder = lake / DATA_DIR
    tables = [
        ds.dataset(purpose, format="parquet", partitioning=partitioning()).to_table(
            columns=[*ROW_KEY, "event_date"]
        )
        for purpose in sorted(folder.iterdir())
    ]
    return pa.concat_tables(tables).sort_by([(c, "ascending") for c in ROW_KEY[:3]])


def expected_rows(produced: list[Produced]) -> list[tuple]:
    """What the lake must hold: each record once, duplicates of an event id after the first gone."""
    first: dict[tuple[str, int, str], Produced] = {}
    for record in sorted(produced, key=lambda p: (p.topic, p.partition, p.offset)):
        first.setdefault((record.topic, record.partition, record.event_id), record)
    return sorted((p.topic, p.partition, p.offset, p.event_id) for p in first.values())


def lake_rows(table: pa.Table) -> list[tuple]:
    """The identifying columns of a lake table as sorted tuples."""
    return sorted(zip(*(table[c].to_pylist() for c in ROW_KEY), strict=True))


@pytest.fixture
def sink_env(kafka_bootstrap: str, tmp_path: Path) -> SinkEnv:
    """A namespace of its own with every clean topic (3 partitions) and an empty lake."""
    namespace = f"test-{uuid.uuid4().hex[:10]}."
    topics = TopicSettings(namespace=namespace, partitions=PARTITIONS)
    ensure_stream_topics(kafka_bootstrap, POLICY, topics)
    return SinkEnv(kafka_bootstrap, namespace, tmp_path / "lake", tmp_path / "sink.log")


@pytest.fixture(scope="session")
def make_outputs() -> Callable[..., list[Output]]:
    """``make_outputs(namespace, events, seed)``: clean records for a namespace."""

    def make(namespace: str, events: int = 1500, seed: int = 5) -> list[Output]:
        return clean_outputs(events, seed, namespace=namespace)

    return make
