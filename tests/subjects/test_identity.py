"""The values the locator looks for are exactly the values the stream writes."""

from __future__ import annotations

from pathlib import Path

import orjson

from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.deadletter import Source
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.processor import Processor
from usage_pipeline.subjects.identity import identify, subject_ref

REPO = Path(__file__).resolve().parents[2]
POLICY = load_policy(REPO / "config" / "anonymization.yaml")
GRANTED = {p: ["granted", 0] for p in ("analytics", "marketing", "partner_sharing")}
EVENT = {
    "event_id": "5b3c1b8e-2f0a-4a43-9d1e-0d9c3f1e2a10",
    "event_type": "email.activity",
    "schema_version": 1,
    "occurred_at": "2026-11-20T10:00:00Z",
    "source": "mailer",
    "subject": {"account_id": "acct_1", "user_id": "usr_1", "email": "Ann@Example.com"},
    "properties": {
        "action": "opened",
        "campaign_id": "c1",
        "campaign_kind": "newsletter",
        "message_id": "<m1@mail.example.com>",
        "recipient": "Ann@Example.com",
    },
}


def test_identify_finds_every_identifier_the_stream_writes_for_the_subject():
    key = Pseudonymizer(b"k" * 32, "kcur", previous=[Pseudonymizer(b"o" * 32, "kold")])
    processor = Processor(Anonymizer(POLICY, key), load_contracts())
    outcome = processor.process(orjson.dumps(EVENT), Source("raw.email", 0, 0), lambda _: GRANTED)
    identity = identify("usr_1", "ann@example.com", POLICY, key)
    clean = [orjson.loads(o.value) for o in outcome.outputs if o.topic.startswith("clean.")]
    records = {record["purpose"]: record for record in clean}
    assert set(records) == {"service", "analytics", "marketing", "partner_sharing"}
    for purpose, record in records.items():
        output = identity.outputs[purpose]
        assert record["subject"]["user_id"] in output.user_ids, purpose
        recipient = record["properties"]["recipient"]
        is_address = purpose in ("service", "marketing")  # pseudonym, or kept in clear
        assert (recipient.lower() in output.emails) is is_address, purpose
    assert any(v.startswith("kold:") for v in identity.outputs["service"].user_ids)
    assert not identity.outputs["traffic"].searchable


def test_subject_ref_is_keyed_and_joins_no_output():
    key = Pseudonymizer(b"k" * 32, "kcur")
    identity = identify("usr_1", None, POLICY, key)
    ref = subject_ref("usr_1", key)
    assert ref.startswith("kcur:")
    assert ref not in identity.needles
    assert ref != subject_ref("usr_1", Pseudonymizer(b"x" * 32, "kcur"))
