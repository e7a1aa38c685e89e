"""The whole bad-input corpus through one real worker on the real broker, among good events.

Every bad record must reach the dead-letter topic with its reason and nothing personal,
every good one its outputs; the worker must survive all of it and commit everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pytest
from confluent_kafka import Message, Producer

from tests.bad_input_corpus import (
    BAD,
    CANARIES,
    CORPUS,
    LOCAL_PART_PIECES,
    VALID,
    Case,
    event_id,
    good_event,
)
from usage_pipeline.audit.detectors import Detector

GOOD_IP = "203.0.113.0"


@dataclass
class Run:
    positions: dict[str, tuple[int, int]]  # case name -> (partition, offset) in raw.usage
    letters: dict[tuple[int, int], list[Message]]  # by the (partition, offset) they came from
    service: dict[str, list[Message]]  # clean.service records by event id
    survived: bool  # the first worker process is still running, never restarted
    lag: int


def good_events() -> list[Case]:
    """Plain valid events, one before each corpus case."""
    return [
        Case(f"good-{n}", orjson.dumps(good_event(f"good-{n}")), None, ip=GOOD_IP)
        for n in range(len(CORPUS))
    ]


@pytest.fixture(scope="module")
def run(stream_env) -> Run:
    positions: dict[str, tuple[int, int]] = {}

    def delivered(name: str):
        def report(error, message: Message) -> None:
            assert error is None, error
            positions[name] = (message.partition(), message.offset())

        return report

    producer = Producer(
        {"bootstrap.servers": stream_env.bootstrap, "partitioner": "murmur2_random"}
    )
    for good, case in zip(good_events(), CORPUS, strict=True):
        for record in (good, case):
            producer.produce(
                stream_env.topic("raw.usage"),
                value=record.payload,
                key=record.key,
                headers=list(record.headers),
                on_delivery=delivered(record.name),
            )
    assert producer.flush(30) == 0

    with stream_env.worker() as worker:
        first_pid = worker.process.pid
        worker.wait_until_caught_up(timeout_s=180)
        survived = worker.process.pid == first_pid and worker.process.poll() is None
        lag = worker.lag()

    letters: dict[tuple[int, int], list[Message]] = {}
    for message in stream_env.read("dead.letter"):
        source = orjson.loads(message.value())["source"]
        letters.setdefault((source["partition"], source["offset"]), []).append(message)
    service: dict[str, list[Message]] = {}
    for message in stream_env.read("clean.service"):
        service.setdefault(orjson.loads(message.value())["event_id"], []).append(message)
    return Run(positions, letters, service, survived, lag)


def test_the_worker_survives_the_corpus_and_commits_every_record(run):
    assert run.survived
    assert run.lag == 0


def test_every_bad_record_is_dead_lettered_once_with_its_reason(run):
    wrong = {}
    for case in BAD:
        letters = run.letters.get(run.positions[case.name], [])
        reasons = [orjson.loads(letter.value())["reason"] for letter in letters]
        if len(reasons) != 1 or case.reason not in reasons[0]:
            wrong[case.name] = reasons
    assert wrong == {}
    assert sum(map(len, run.letters.values())) == len(BAD)


def test_every_good_record_reaches_the_service_output_with_its_ip_truncated(run):
    wrong = {}
    for case in (*good_events(), *VALID):
        records = run.service.get(event_id(case.name), [])
        ips = [orjson.loads(record.value())["context"]["ip"] for record in records]
        if ips != [case.ip]:
            wrong[case.name] = ips
    assert wrong == {}


def test_keys_and_headers_sent_by_producers_reach_no_output(run):
    for records in run.service.values():
        for record in records:
            assert record.key().decode() == orjson.loads(record.value())["event_id"]
            assert not record.headers()
    for letters in run.letters.values():
        for letter in letters:
            assert letter.key() is None
            assert {name for name, _ in letter.headers()} == {
                "dlq.reason",
                "dlq.stage",
                "dlq.source.topic",
                "dlq.source.partition",
                "dlq.source.offset",
                "dlq.processor",
            }


def test_no_dead_letter_value_or_header_holds_an_address_or_a_line_break(run):
    detector = Detector(canaries=CANARIES)
    found = []
    for letters in run.letters.values():
        for letter in letters:
            texts = [letter.value().decode(), *(value.decode() for _, value in letter.headers())]
            found += [hit.kind for text in texts for hit in detector.detect(text)]
            found += [text[:80] for text in texts if "\r" in text or "\n" in text]
    assert found == []


def test_payloads_cut_inside_an_address_leave_no_piece_of_its_local_part(run):
    cut = [case for case in BAD if case.name.startswith("cut_")]
    found = {}
    for case in cut:
        for letter in run.letters[run.positions[case.name]]:
            texts = [letter.value().decode(), *(value.decode() for _, value in letter.headers())]
            pieces = [piece for piece in LOCAL_PART_PIECES for text in texts if piece in text]
            if pieces:
                found[case.name] = pieces
    assert len(cut) >= 7
    assert found == {}
