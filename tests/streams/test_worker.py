"""The stream worker on the real broker: each purpose, each consent transition, dead letters.

Every scenario is published before the worker starts, so each one is read in a known order;
then one worker runs until it has committed everything, and each test checks its subject.
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass

import orjson
import pytest
from confluent_kafka import Producer

from usage_pipeline.producers.publisher import EventPublisher

T = "2026-11-20T12:00:00Z"
DAY_BEFORE = "2026-11-19T12:00:00Z"
TWO_DAYS_BEFORE = "2026-11-18T12:00:00Z"
HOUR_AFTER = "2026-11-20T13:00:00Z"
LEAKY_EMAIL = "leak.me@example.org"
LEAKY_IP = "203.0.113.99"
EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
FULL_IPV4 = re.compile(rb"\b(?:\d{1,3}\.){3}(?!0\b)\d{1,3}\b")


def envelope(event_type: str, user: str, occurred_at: str, properties: dict, **context) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": occurred_at,
        "source": "test-suite",
        "subject": {"account_id": f"acct-{user}", "user_id": user, "email": f"{user}@example.com"},
        "context": {
            "ip": "198.51.100.23",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "host": "portal.shantaesoft.example",
            "url": f"https://portal.shantaesoft.example/home?email={user}@example.com",
            **context,
        },
    } | {"properties": properties}


def consent(user: str, purpose: str, status: str, effective_at: str) -> dict:
    props = {
        "purpose": purpose,
        "status": status,
        "source": "preference_center",
        "effective_at": effective_at,
    }
    return envelope("consent.changed", user, effective_at, props)


def feature(user: str, occurred_at: str = T) -> dict:
    return envelope("usage.feature_used", user, occurred_at, {"service": "s", "feature": "f"})


def mail(user: str, action: str, occurred_at: str = T) -> dict:
    props = {
        "action": action,
        "campaign_id": "c1",
        "campaign_kind": "newsletter",
        "message_id": f"m-{user}",
        "recipient": f"{user}@example.com",
    }
    return envelope("email.activity", user, occurred_at, props)


@dataclass
class Outputs:
    by_topic: dict[str, list[dict]]
    raw: dict[str, list[bytes]]
    ids: dict[str, str]  # scenario name -> event id

    def of(self, topic: str, event_name: str) -> list[dict]:
        return [r for r in self.by_topic[topic] if r["event_id"] == self.ids[event_name]]


SCENARIO = {
    # name: events in publishing order; the last one is the event under test
    "granted": [consent("u-granted", "analytics", "granted", DAY_BEFORE), feature("u-granted")],
    "never_answered": [feature("u-silent")],
    "withdrawn": [
        consent("u-withdrawn", "marketing", "granted", TWO_DAYS_BEFORE),
        consent("u-withdrawn", "marketing", "withdrawn", DAY_BEFORE),
        mail("u-withdrawn", "opened"),
    ],
    "late_withdrawal": [
        consent("u-late-w", "marketing", "granted", DAY_BEFORE),
        mail("u-late-w", "opened"),
        consent("u-late-w", "marketing", "withdrawn", HOUR_AFTER),
    ],
    "late_grant": [feature("u-late-g"), consent("u-late-g", "analytics", "granted", HOUR_AFTER)],
    "marketing_granted": [
        consent("u-unsub", "marketing", "granted", DAY_BEFORE),
        mail("u-unsub", "opened", T),
    ],
    "unsubscribe": [mail("u-unsub", "unsubscribed", HOUR_AFTER)],
    "after_unsubscribe": [mail("u-unsub", "clicked", "2026-11-20T14:00:00Z")],
    "traffic": [
        envelope(
            "traffic.web_request",
            "u-visitor",
            T,
            {"method": "GET", "status": 200, "response_bytes": 10, "page_view": True},
        )
    ],
}
# The event under test is the one that is not a consent change (or the last one).
SUBJECT_EVENT = {
    name: next((e for e in events if e["event_type"] != "consent.changed"), events[-1])
    for name, events in SCENARIO.items()
}

BAD_PAYLOADS = {
    "not_json": f"not json {LEAKY_EMAIL} {LEAKY_IP}".encode(),
    "bad_ip": orjson.dumps({**copy.deepcopy(feature("u-bad")), "context": {"ip": f"0{LEAKY_IP}"}}),
    "oversize": orjson.dumps({"padding": f"{LEAKY_EMAIL} " * 8000}),
    "deep": b"[" * 1000 + b"]" * 1000,
    "nan": b'{"event_id": NaN, "ip": "' + LEAKY_IP.encode() + b'"}',
    "lone_surrogate": b'{"subject": "\\ud800", "email": "' + LEAKY_EMAIL.encode() + b'"}',
}


@pytest.fixture(scope="module")
def outputs(stream_env) -> Outputs:
    with EventPublisher(stream_env.bootstrap, namespace=stream_env.namespace) as publisher:
        for events in SCENARIO.values():
            for event in events:
                publisher.publish(event)
    producer = Producer({"bootstrap.servers": stream_env.bootstrap})
    for payload in BAD_PAYLOADS.values():
        producer.produce(stream_env.topic("raw.usage"), value=payload, key=b"bad")
    producer.flush(10)

    with stream_env.worker() as worker:
        worker.wait_until_caught_up(timeout_s=120)

    topics = [
        "clean.service",
        "clean.analytics",
        "clean.marketing",
        "clean.partner",
        "clean.traffic",
        "dead.letter",
        "raw.consent",
    ]
    raw = {t: [m.value() for m in stream_env.read(t)] for t in topics}
    return Outputs(
        {t: [orjson.loads(v) for v in values] for t, values in raw.items()},
        raw,
        {name: event["event_id"] for name, event in SUBJECT_EVENT.items()},
    )


def test_every_valid_event_reaches_the_service_output_minimised(outputs):
    for name, event in SUBJECT_EVENT.items():
        if name == "traffic":
            continue
        (record,) = outputs.of("clean.service", name)
        assert record["subject"]["account_id"] == event["subject"]["account_id"]
        assert record["subject"]["user_id"].split(":")[0] == record["key_id"]
        assert "email" not in record["subject"]
        assert record["context"]["ip"] == "198.51.100.0"
        assert record["policy_version"].startswith("sha256:")


def test_granted_analytics_consent_gives_pseudonymized_analytics_record(outputs):
    (record,) = outputs.of("clean.analytics", "granted")
    assert record["consent"] == "granted"
    assert record["subject"]["user_id"].startswith(record["key_id"] + ":")
    assert (
        record["subject"]["user_id"]
        != outputs.of("clean.service", "granted")[0]["subject"]["user_id"]
    ), "pseudonyms must differ across purposes"
    assert record["context"]["ip"] == "198.51.100.0"
    assert record["context"]["user_agent"]["browser_family"] == "Firefox"
    assert "?" not in record["context"]["url"]


def test_subject_who_never_answered_counts_in_analytics_but_cannot_be_singled_out(outputs):
    (record,) = outputs.of("clean.analytics", "never_answered")
    assert record["consent"] == "not_granted"
    assert "subject" not in record
    assert "ip" not in record["context"]
    assert "session_id" not in record["context"]


def test_withdrawn_marketing_consent_removes_subject_from_marketing_output(outputs):
    assert outputs.of("clean.marketing", "withdrawn") == []
    assert len(outputs.of("clean.service", "withdrawn")) == 1


def test_withdrawal_published_after_an_earlier_event_does_not_reach_back_to_it(outputs):
    """Events are judged with the consent published before them (docs/stream.md, consent
    ordering): the event occurred while consent was granted, and the withdrawal took effect
    an hour later. Before, a withdrawal read before the event was processed removed it, so
    what was kept depended on how far behind the worker was."""
    (record,) = outputs.of("clean.marketing", "late_withdrawal")
    assert record["consent"] == "granted"


def test_grant_arriving_after_the_event_does_not_cover_it(outputs):
    (record,) = outputs.of("clean.analytics", "late_grant")
    assert record["consent"] == "not_granted"
    assert "subject" not in record


def test_granted_marketing_keeps_the_address_it_needs(outputs):
    (record,) = outputs.of("clean.marketing", "marketing_granted")
    assert record["subject"]["email"] == "u-unsub@example.com"
    assert "ip" not in record.get("context", {})


def test_unsubscribe_withdraws_marketing_and_publishes_the_consent_change(outputs):
    assert outputs.of("clean.marketing", "unsubscribe") == []
    assert outputs.of("clean.marketing", "after_unsubscribe") == []
    derived = [
        r
        for r in outputs.by_topic["raw.consent"]
        if r["source"] == "usage-pipeline-stream" and r["subject"]["user_id"] == "u-unsub"
    ]
    assert [(d["properties"]["purpose"], d["properties"]["status"]) for d in derived] == [
        ("marketing", "withdrawn")
    ]
    assert derived[0]["properties"]["source"] == "unsubscribe_link"


def test_traffic_output_is_never_tied_to_a_person(outputs):
    (record,) = outputs.of("clean.traffic", "traffic")
    assert "subject" not in record
    assert "ip" not in record["context"]
    assert re.fullmatch(r"[0-9a-f]{32}", record["context"]["visitor_id"])
    assert all(b"u-visitor" not in value for value in outputs.raw["clean.traffic"])


def test_every_bad_event_is_dead_lettered_with_reason_and_position(outputs):
    letters = outputs.by_topic["dead.letter"]
    assert len(letters) == len(BAD_PAYLOADS)
    for letter in letters:
        assert letter["reason"]
        assert letter["stage"] == "validate"
        assert letter["source"]["topic"].endswith("raw.usage")
        assert letter["source"]["offset"] >= 0
        assert len(letter["excerpt"].encode()) <= 4096
    bad_ip = [letter for letter in letters if letter["reason"].startswith("context.ip")]
    assert len(bad_ip) == 1


def test_no_output_leaks_an_address_it_was_not_allowed_to_keep(outputs):
    for topic, values in outputs.raw.items():
        if topic in ("clean.marketing", "raw.consent"):
            continue
        for value in values:
            assert not EMAIL.search(value), (topic, value[:300])
            assert not FULL_IPV4.search(value), (topic, value[:300])
