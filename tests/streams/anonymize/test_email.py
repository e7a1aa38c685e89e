"""E-mail recognition and domains: lower-cased IDNA domains, None for what is not an address."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from usage_pipeline.streams.anonymize.email import email_domain, looks_like_email, normalize_domain


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        ("john@example.com", "example.com"),
        (" John.Doe+tag@Mail.Example.ORG ", "mail.example.org"),
        ("jörg@Bücher.de", "xn--bcher-kva.de"),
        ("a@xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("o'brien@sub-domain.example.co.uk", "sub-domain.example.co.uk"),
    ],
)
def test_email_domain_is_the_lower_cased_idna_domain(value, domain):
    assert email_domain(value) == domain


@pytest.mark.parametrize(
    "value", ["", "example.com", "john@", "@example.com", "john@localhost", "a b@example.com",
              "john@example.com and more", None, 42],
)  # fmt: skip
def test_email_domain_is_none_for_what_is_not_an_address(value):
    assert email_domain(value) is None
    assert not looks_like_email(value)


def test_domain_that_idna_refuses_is_only_lower_cased():
    assert normalize_domain("Bad..Example.COM") == "bad..example.com"


@given(st.emails())
def test_every_generated_address_is_recognised_with_its_normalised_domain(email):
    assert looks_like_email(email)
    assert email_domain(email) == normalize_domain(email.rpartition("@")[2])
    assert email_domain(email) == email_domain(email).lower()


@given(st.emails())
def test_email_domain_is_idempotent_on_its_own_output(email):
    domain = email_domain(email)
    assert email_domain(f"x@{domain}") == domain
