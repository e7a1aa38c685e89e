"""A simulation published to the raw topics, or written as JSON Lines, with its progress."""

from __future__ import annotations

import datetime as dt
import io

import orjson

from usage_pipeline.broker.admin import topic_sizes
from usage_pipeline.producers.publisher import EventPublisher
from usage_pipeline.producers.simulated import PROGRESS_EVERY, publish_simulation, write_simulation
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.schemas.topics import raw_topics

CONFIG = SimulationConfig(events=25_000, days=3, seed=4, until=dt.date(2026, 11, 1))


def test_writing_gives_every_event_of_the_simulation_as_one_json_line():
    sink, progress = io.BytesIO(), []
    assert write_simulation(sink, CONFIG, progress.append) == CONFIG.events
    lines = sink.getvalue().splitlines()
    assert lines == [orjson.dumps(event) for event in simulate(CONFIG)]
    assert progress == [PROGRESS_EVERY, 2 * PROGRESS_EVERY]


def test_publishing_sends_every_event_to_its_raw_topic(kafka_bootstrap, raw_namespace):
    progress = []
    with EventPublisher(kafka_bootstrap, namespace=raw_namespace) as publisher:
        assert publish_simulation(publisher, CONFIG, progress.append) == CONFIG.events
    assert publisher.stats.delivered == CONFIG.events
    assert sum(topic_sizes(kafka_bootstrap, list(raw_topics(raw_namespace))).values()) == (
        CONFIG.events
    )
    assert progress == [PROGRESS_EVERY, 2 * PROGRESS_EVERY]
