"""The processor on the bad-input corpus: one redacted dead letter per bad record, no crash."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bad_input_corpus import (
    BAD,
    CANARIES,
    LEAKY_EMAIL,
    LEAKY_IP,
    LOCAL_PART_PIECES,
    VALID,
    Case,
    good_event,
)
from usage_pipeline.audit.detectors import Detector
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.deadletter import Source
from usage_pipeline.streams.output import Output
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.processor import Processor

REPO = Path(__file__).resolve().parents[2]
SOURCE = Source("raw.usage", 1, 42)


def names(cases: tuple[Case, ...]) -> list[str]:
    return [case.name for case in cases]


@pytest.fixture(scope="module")
def processor() -> Processor:
    policy = load_policy(REPO / "config" / "anonymization.yaml")
    return Processor(Anonymizer(policy, Pseudonymizer(secrets.token_bytes(32))), load_contracts())


def dead_letter_of(processor: Processor, payload: bytes, consent_of=lambda _: None) -> Output:
    (output,) = processor.process(payload, SOURCE, consent_of).outputs
    assert output.topic == processor.dead_letter_topic
    return output


def leaks(output: Output) -> list:
    """Addresses, canaries and line breaks in a dead letter's value and headers."""
    detector = Detector(canaries=CANARIES)
    texts = [
        output.value.decode(),
        *(f"{name}: {value.decode()}" for name, value in output.headers),
    ]
    found = [hit.kind for text in texts for hit in detector.detect(text)]
    return found + [repr(text[:80]) for text in texts if "\r" in text or "\n" in text]


@pytest.mark.parametrize("case", BAD, ids=names(BAD))
def test_every_bad_record_becomes_one_dead_letter_naming_its_field_and_reason(processor, case):
    output = dead_letter_of(processor, case.payload)
    letter = orjson.loads(output.value)
    headers = dict(output.headers)
    assert case.reason in letter["reason"]
    assert headers["dlq.reason"].decode() == letter["reason"]
    assert letter["stage"] == "validate"
    assert letter["source"] == {"topic": "raw.usage", "partition": 1, "offset": 42}
    assert output.key is None


@pytest.mark.parametrize("case", BAD, ids=names(BAD))
def test_no_dead_letter_holds_an_address_or_an_unescaped_line_break(processor, case):
    output = dead_letter_of(processor, case.payload)
    assert leaks(output) == []
    assert all(name.startswith("dlq.") for name, _ in output.headers)
    assert len(orjson.loads(output.value)["excerpt"].encode()) <= 4096


CUT = tuple(case for case in BAD if case.name.startswith("cut_"))


@pytest.mark.parametrize("case", CUT, ids=names(CUT))
def test_a_payload_cut_inside_an_address_is_outlined_without_a_piece_of_it(processor, case):
    output = dead_letter_of(processor, case.payload)
    letter = orjson.loads(output.value)
    assert letter["excerpt"].startswith(f"not parsed, {len(case.payload)} bytes; ")
    texts = [output.value.decode(), *(value.decode() for _, value in output.headers)]
    assert [piece for piece in LOCAL_PART_PIECES for text in texts if piece in text] == []


@pytest.mark.parametrize("case", VALID, ids=names(VALID))
def test_odd_but_valid_records_reach_the_service_output_with_the_ip_truncated(processor, case):
    outputs = processor.process(case.payload, SOURCE, lambda _: None).outputs
    service = [orjson.loads(o.value) for o in outputs if o.topic.endswith("clean.service")]
    assert [record["context"]["ip"] for record in service] == [case.ip]
    assert all(o.topic != processor.dead_letter_topic for o in outputs)


def test_an_error_message_with_line_breaks_cannot_forge_a_dead_letter_header(processor):
    def failing_lookup(_subject: str) -> None:
        raise ValueError(f"no consent for {LEAKY_EMAIL}\r\nX-Injected: {LEAKY_IP}\u2028")

    output = dead_letter_of(processor, orjson.dumps(good_event("lookup")), failing_lookup)
    letter = orjson.loads(output.value)
    assert letter["stage"] == "anonymize"
    assert letter["reason"].startswith("ValueError: no consent for [email]")
    assert "\\r\\nX-Injected" in letter["reason"]
    assert leaks(output) == []


# Local parts from letters that no fixed text of a dead letter holds (reason, field names,
# processor version, timestamps), with no two separators in a row: every piece of 3 or more
# characters of one is then a piece of the address, never of the record around it.
cut_local_parts = st.from_regex(r"[QWKVYZ]{1,6}(?:[._+-][QWKVYZ]{1,6}){0,3}", fullmatch=True)


def pieces(local: str) -> set[str]:
    return {local[i:j] for i in range(len(local)) for j in range(i + 3, len(local) + 1)}


def carrying(address: str, place: str) -> bytes:
    """A valid event that holds ``address`` in ``place``."""
    event = good_event(f"cut-{place}")
    if place == "field":
        event["subject"]["email"] = address
    elif place == "url":
        event["context"]["url"] = f"https://app.example.com/u?email={address}&x=1"
    elif place == "percent-encoded":
        event["context"]["url"] = f"https://app.example.com/u/{quote(address, safe='')}/x"
    elif place == "recipient":
        event["event_type"] = "email.activity"
        event["properties"] = {"action": "opened", "campaign_id": "c1",
                               "campaign_kind": "newsletter", "message_id": "m1",
                               "recipient": address}  # fmt: skip
    payload = orjson.dumps(event)
    if place == "json-escaped":
        payload = payload.replace(LEAKY_EMAIL.encode(), address.replace("@", "\\u0040").encode())
    return payload


@settings(max_examples=25, deadline=None)
@given(
    cut_local_parts,
    st.sampled_from(["example.org", "intranet", "mail.example.co.uk"]),
    st.sampled_from(["field", "url", "percent-encoded", "json-escaped", "recipient"]),
)
def test_a_payload_cut_anywhere_leaves_no_piece_of_the_local_part(processor, local, domain, place):
    payload = carrying(f"{local}@{domain}", place)
    for cut in range(len(payload)):
        output = dead_letter_of(processor, payload[:cut])
        texts = [output.value.decode(), *(value.decode() for _, value in output.headers)]
        found = [piece for piece in pieces(local) for text in texts if piece in text]
        assert found == [], (cut, found)
        assert leaks(output) == []
