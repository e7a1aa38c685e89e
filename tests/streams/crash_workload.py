"""The crash test's workload, and what the pipeline must make of it by the stream's own rules.

Consent decisions are published before everything else and the event phase holds no
e-mail unsubscribe, so every event is judged against the subjects' final consent state:
the expected outputs follow from the records alone, whatever order the worker reads them in.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.schemas.keys import subject_id
from usage_pipeline.schemas.topics import family_of, raw_topic
from usage_pipeline.streams.consent import ConsentState
from usage_pipeline.streams.deadletter import Source
from usage_pipeline.streams.processor import Processor

UNTIL = dt.date(2026, 11, 20)
DAYS = 3

Coordinates = tuple[str, int, int]  # topic, partition, offset


@dataclass(frozen=True)
class RawRecord:
    """A record published as is, bypassing the producer library's contract check."""

    topic: str
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Acked:
    """A record the broker acknowledged (or, for a failed delivery, the offset is -1)."""

    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass(frozen=True)
class Workload:
    """Consent decisions to publish first, then events with bad records mixed in."""

    consent: list[dict[str, Any]]
    events: list[dict[str, Any] | RawRecord]

    @property
    def size(self) -> int:
        """Every record of the workload."""
        return len(self.consent) + len(self.events)


def build_workload(records: int, bad_every: int, seed: int, namespace: str) -> Workload:
    """``records`` records in all, one in ``bad_every`` of the event phase a bad one."""
    bad_count = records // bad_every
    simulated = (
        e
        for e in simulate(SimulationConfig(events=records * 2, days=DAYS, seed=seed, until=UNTIL))
        if not _unsubscribes(e)
    )
    good = list(itertools.islice(simulated, records - bad_count))
    bad = [_spoil(e, i, namespace) for i, e in enumerate(itertools.islice(simulated, bad_count))]
    consent = [e for e in good if e["event_type"] == "consent.changed"]
    others = [e for e in good if e["event_type"] != "consent.changed"]
    step = len(others) // max(1, len(bad))
    events: list[dict[str, Any] | RawRecord] = []
    for i, event in enumerate(others):
        if i % step == 0 and bad:
            events.append(bad.pop())
        events.append(event)
    events.extend(bad)
    return Workload(consent, events)


def _unsubscribes(event: Mapping[str, Any]) -> bool:
    # An unsubscribe withdraws consent in the middle of the stream; see the module docstring.
    return (
        event["event_type"] == "email.activity" and event["properties"]["action"] == "unsubscribed"
    )


def _spoil(event: dict[str, Any], i: int, namespace: str) -> RawRecord:
    """A record the contracts reject, on the topic and key its event would have had."""
    payload = orjson.dumps(event)
    spoilt = [
        payload[: len(payload) // 2],  # cut short
        orjson.dumps({k: v for k, v in event.items() if k != "occurred_at"}),
        orjson.dumps({**event, "schema_version": 99}),
        b"\x00 not an event at all",
    ][i % 4]
    topic = raw_topic(family_of(event["event_type"]), namespace)
    return RawRecord(topic, subject_id(event).encode(), spoilt)


def final_consent(processor: Processor, records: Iterable[Acked]) -> dict[str, ConsentState]:
    """Every subject's consent after all decisions, replayed as the worker replays them."""
    state: dict[str, ConsentState] = {}
    for record in records:
        update = processor.replay_consent(record.value, record.partition, state.get)
        if update is not None:
            state[update[0]] = update[1]
    return state


@dataclass
class ExpectedOutputs:
    """Per purpose the event ids that must reach the lake, and the records to dead-letter."""

    processor: Processor
    purposes: Mapping[str, str]  # clean topic -> purpose
    consent: Mapping[str, ConsentState]
    event_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    dead: set[Coordinates] = field(default_factory=set)
    origins: dict[str, Coordinates] = field(default_factory=dict)  # event id -> raw record

    def add(self, records: Iterable[Acked]) -> None:
        """Run the stream's Processor over acknowledged records, with the final consent."""
        for record in records:
            source = Source(record.topic, record.partition, record.offset)
            outcome = self.processor.process(record.value, source, self.consent.get)
            for output in outcome.outputs:
                if output.topic == self.processor.dead_letter_topic:
                    self.dead.add(dead_letter_source(output.value))
                elif output.topic in self.purposes:
                    event_id = output.key.decode()
                    self.event_ids[self.purposes[output.topic]].add(event_id)
                    self.origins[event_id] = (source.topic, source.partition, source.offset)


def dead_letter_source(value: bytes) -> Coordinates:
    """The topic, partition and offset a dead-letter record names."""
    source = orjson.loads(value)["source"]
    return source["topic"], source["partition"], source["offset"]
