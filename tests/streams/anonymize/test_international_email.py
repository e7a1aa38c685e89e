"""International e-mail addresses (RFC 6531): accepted by the contracts, normalised before
pseudonymizing, and found by every leak check (audit, dead-letter redaction, scrub)."""

from __future__ import annotations

import copy
import secrets
import unicodedata

import orjson
import pytest

from tests.schemas.contract_cases import load_examples
from usage_pipeline.audit.detectors import EMAIL, Detector
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymize.scrub import find_personal_data, scrub_text
from usage_pipeline.streams.deadletter import redacted_excerpt

ADDRESSES = [
    "jürgen@example.de",
    "jürgen@bücher.de",
    "用户@例子.广告",
    "δοκιμή@παράδειγμα.δοκιμή",
    "जांच@डाटामेल.भारत",  # Devanagari: vowel signs are combining marks
    "ผู้ใช้@ตัวอย่าง.ไทย",  # Thai: tone marks are combining marks
    "مستخدم@مثال.مصر",
    "jose\u0301@example.com",  # NFD
]
CONTRACTS = load_contracts()
EXAMPLE = load_examples()["usage.feature_used"]


@pytest.mark.parametrize("address", ADDRESSES)
def test_the_contract_accepts_an_international_address(address):
    event = copy.deepcopy(EXAMPLE)
    event["subject"]["email"] = address
    assert CONTRACTS.parse(orjson.dumps(event))["subject"]["email"] == address


@pytest.mark.parametrize(
    "address",
    [
        "jürgen\u200b@example.de",
        "jürgen\u202e@example.de",
        "jürgen\uff20example.de",
        "jü rgen@x.de",
    ],
)
def test_the_contract_refuses_invisible_bidi_and_look_alike_characters(address):
    event = copy.deepcopy(EXAMPLE)
    event["subject"]["email"] = address
    violation = CONTRACTS.violations(event)[0]
    assert violation.field == "subject.email"
    assert address not in str(violation)


@pytest.mark.parametrize("address", ADDRESSES)
def test_every_leak_check_finds_an_international_address(address):
    text = f"user {address} logged in"
    assert [hit.kind for hit in Detector().detect(text)] == [EMAIL]
    assert find_personal_data(text) == ["email"]
    assert scrub_text(text) == "user [email] logged in"
    local = address.partition("@")[0]
    for payload in (orjson.dumps({"note": text}), text.encode(), orjson.dumps({"note": text})[:-3]):
        excerpt = redacted_excerpt(payload)
        assert local not in excerpt
        assert unicodedata.normalize("NFC", local) not in excerpt


def test_forms_of_an_international_address_share_one_pseudonym():
    pseudonymizer = Pseudonymizer(secrets.token_bytes(32))
    forms = [
        "Jürgen@Bücher.de",
        unicodedata.normalize("NFD", "jürgen@bücher.de"),
        "jürgen@xn--bcher-kva.de",
        " jürgen@BÜCHER.DE ",
    ]
    assert len({pseudonymizer.pseudonymize(form, "analytics/email") for form in forms}) == 1
