"""Properties of the whole anonymizer: whatever the input, no output leaks an address."""

from __future__ import annotations

import copy
import ipaddress
import re
import secrets
import uuid
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.consent import GRANTED, epoch_us
from usage_pipeline.streams.deadletter import Source
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.processor import CONSENT_CHANGING_TYPES, Processor, consent_change

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "schemas" / "examples").glob("*.json"))
EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Fields where a purpose's policy keeps the address on purpose (marketing with consent).
ALLOWED_ADDRESSES = {("marketing", "subject.email"), ("marketing", "properties.recipient")}

emails = st.emails().filter(lambda e: len(e) <= 254)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None).map(str)


@pytest.fixture(scope="module")
def processor() -> Processor:
    policy = load_policy(REPO / "config" / "anonymization.yaml")
    return Processor(Anonymizer(policy, Pseudonymizer(secrets.token_bytes(32))), load_contracts())


def full_addresses(record: dict, purpose: str, ips: set[str]) -> list[str]:
    """Paths of string fields that hold an e-mail or one of the input's full IP addresses."""
    found = []

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, f"{path}.{key}" if path else key)
        elif (
            isinstance(value, str)
            and (purpose, path) not in ALLOWED_ADDRESSES
            and (EMAIL.search(value.encode()) or any(ip in value for ip in ips))
        ):
            found.append(path)

    walk(record, "")
    return found


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    example=st.sampled_from(EXAMPLES),
    email=emails,
    ip=st.one_of(ipv4, ipv6),
    consent=st.booleans(),
)
def test_no_output_field_holds_an_email_or_a_full_ip(processor, example, email, ip, consent):
    event = orjson.loads(example.read_bytes())
    event["subject"]["email"] = email
    event.setdefault("context", {})["ip"] = ip
    event["context"]["url"] = f"https://h.example/p/{email}?ip={ip}&email={email}"
    event["context"]["referrer"] = f"https://r.example/{ip}/x"
    if "recipient" in event["properties"]:
        event["properties"]["recipient"] = email
    ips = {ip} if ipaddress.ip_address(ip) != ipaddress.ip_network(ip).network_address else set()
    state = {p: [GRANTED, 0] for p in ("analytics", "marketing", "partner_sharing")}
    outcome = processor.process(
        orjson.dumps(event), Source("raw.test", 0, 0), lambda _: state if consent else None
    )
    for output in outcome.outputs:
        record = orjson.loads(output.value)
        if output.topic == processor.dead_letter_topic:
            assert not EMAIL.search(output.value)
            assert not any(ip_ in output.value.decode() for ip_ in ips)
            continue
        if "purpose" not in record:  # the consent change an unsubscribe publishes to raw.consent
            continue
        leaks = full_addresses(record, record["purpose"], {i for i in ips if "." in i or ":" in i})
        assert not leaks, (record["purpose"], leaks)


def test_same_subject_gets_one_pseudonym_per_purpose_and_different_ones_across(processor):
    event = orjson.loads(
        (REPO / "schemas" / "examples" / "usage.feature_used.v1.json").read_bytes()
    )
    state = {"analytics": [GRANTED, 0]}
    first = processor.process(orjson.dumps(event), Source("t", 0, 0), lambda _: state)
    again = copy.deepcopy(event)
    again["event_id"] = "8b2e5c1d-0f4a-4c3b-9e6d-7a1f2b3c4d5e"
    second = processor.process(orjson.dumps(again), Source("t", 0, 1), lambda _: state)
    ids = {
        orjson.loads(o.value)["purpose"]: orjson.loads(o.value)["subject"]["user_id"]
        for o in first.outputs
    }
    ids_again = {
        orjson.loads(o.value)["purpose"]: orjson.loads(o.value)["subject"]["user_id"]
        for o in second.outputs
    }
    assert ids == ids_again
    assert ids["service"] != ids["analytics"]


def test_each_event_s_urls_lose_that_event_s_own_ids_and_no_other(processor):
    """The anonymizer keeps the ids of the event in hand for all its URLs: never another's."""
    base = orjson.loads((REPO / "schemas/examples/traffic.web_request.v1.json").read_bytes())
    urls = []
    for user in ("jroe", "asmith", "jroe"):
        event = copy.deepcopy(base)
        event["subject"] = {"account_id": f"team-{user}", "user_id": user}
        event["context"]["url"] = "https://portal.example/people/jroe/asmith"
        event["context"]["referrer"] = f"https://portal.example/teams/team-{user}"
        payload = orjson.dumps(event)
        (output,) = processor.process(payload, Source("raw.traffic", 0, 1), lambda _: None).outputs
        context = orjson.loads(output.value)["context"]
        urls.append((context["url"], context["referrer"]))
    assert urls == [
        ("https://portal.example/people/:id/asmith", "https://portal.example/teams/:id"),
        ("https://portal.example/people/jroe/:id", "https://portal.example/teams/:id"),
        ("https://portal.example/people/:id/asmith", "https://portal.example/teams/:id"),
    ]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_only_the_consent_changing_types_change_consent_whatever_they_say(example):
    """The processor reads no consent state for other types without a route that needs it."""
    event = orjson.loads(example.read_bytes())
    for action in ("unsubscribed", event["properties"].get("action")):
        if "action" in event["properties"]:
            event["properties"]["action"] = action
        changed = consent_change(event, None)
        assert changed is None or event["event_type"] in CONSENT_CHANGING_TYPES


def test_a_subject_s_consent_is_read_for_every_type_that_needs_or_changes_it(processor):
    asked = []
    for example in EXAMPLES:
        event = orjson.loads(example.read_bytes())
        asked.clear()
        processor.process(example.read_bytes(), Source("t", 0, 0), lambda s: asked.append(s))
        needs = any(route.consent_required for route in processor.routes[event["event_type"]])
        if needs or event["event_type"] in CONSENT_CHANGING_TYPES:
            assert asked, event["event_type"]


def _consent_record(user: str, status: str, effective_at: str) -> bytes:
    """The value of a held raw.consent record (what the gate hands over) of ``user``'s
    marketing decision."""
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": "consent.changed",
        "schema_version": 1,
        "occurred_at": effective_at,
        "source": "test-suite",
        "subject": {"account_id": f"acct-{user}", "user_id": user},
        "properties": {
            "purpose": "marketing",
            "status": status,
            "source": "preference_center",
            "effective_at": effective_at,
        },
    }
    return orjson.dumps(event)


def test_consent_published_just_after_an_event_counts_only_if_it_took_effect_before_it(
    processor,
):
    user = "usr_ahead"
    granted = {"marketing": [GRANTED, epoch_us("2026-11-19T00:00:00Z")]}
    states = {user: granted, "usr_other": granted}
    event = orjson.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "email.activity",
            "schema_version": 1,
            "occurred_at": "2026-11-20T12:00:00Z",
            "source": "test-suite",
            "subject": {"account_id": "acct-1", "user_id": user},
            "properties": {
                "action": "opened",
                "campaign_id": "c1",
                "campaign_kind": "newsletter",
                "message_id": "m-1",
                "recipient": "someone@example.com",
            },
        }
    )
    before = [_consent_record(user, "withdrawn", "2026-11-20T11:00:00Z")]
    lookup = processor.consent_ahead(event, before, states.get)
    assert lookup(user)["marketing"][0] == "withdrawn"
    assert lookup("usr_other") == granted
    after = [_consent_record(user, "withdrawn", "2026-11-20T13:00:00Z")]
    assert processor.consent_ahead(event, after, states.get)(user) == granted
