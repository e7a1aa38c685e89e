"""Forms of one e-mail address (NFC or NFD, Unicode or punycode domain, case) share a pseudonym."""

from __future__ import annotations

import secrets
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer, normalize

PSEUDONYMIZER = Pseudonymizer(secrets.token_bytes(32))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("jos\u00e9@example.com", "jose\u0301@example.com"),  # NFC and NFD
        ("leak.me@b\u00fccher.example", "leak.me@bu\u0308cher.example"),
        ("leak.me@b\u00fccher.example", "leak.me@xn--bcher-kva.example"),  # IDN and punycode
        ("Leak.Me@B\u00dcCHER.example", "leak.me@xn--bcher-kva.example"),
        (" leak.me@example.org ", "leak.me@EXAMPLE.org"),
    ],
)
def test_forms_of_one_address_get_one_pseudonym(one, other):
    assert PSEUDONYMIZER.pseudonymize(one, "analytics/email") == PSEUDONYMIZER.pseudonymize(
        other, "analytics/email"
    )


@given(st.text(min_size=1, max_size=16), st.text(min_size=1, max_size=16))
def test_nfc_and_nfd_forms_normalise_alike(local, domain):
    address = f"{local}@{domain}.example"
    nfc = normalize(unicodedata.normalize("NFC", address), "email")
    assert normalize(unicodedata.normalize("NFD", address), "email") == nfc
