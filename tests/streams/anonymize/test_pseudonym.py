"""Pseudonyms: keyed, stable, namespaced by kind, blind to e-mail spelling, key kept hidden."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer, key_id_for, normalize

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
keys = st.binary(min_size=32, max_size=64)
kinds = st.sampled_from(["email", "user_id", "account_id", "session_id", "analytics/email"])
values = st.text(max_size=40)
PSEUDONYM = re.compile(r"[A-Za-z0-9_-]{1,32}:[0-9a-f]{32}")
IDN_DOMAINS = ["bücher.de", "münchen.example", "例え.jp", "пример.рф", "ñandú.com.ar"]


@pytest.fixture(scope="module")
def pseudonymizer():
    return Pseudonymizer(KEY, "test-key")


def test_pseudonym_is_key_id_and_128_bits_of_hmac_sha256_over_kind_and_value(pseudonymizer):
    expected = hmac.new(KEY, b"email\x00john@example.com", hashlib.sha256).hexdigest()[:32]
    assert pseudonymizer.pseudonymize("John@Example.COM ", "email") == f"test-key:{expected}"


@given(key=st.binary(min_size=32, max_size=200), kind=kinds, value=values)
def test_pseudonym_equals_the_standard_library_hmac_for_any_key_length(key, kind, value):
    message = (kind + "\x00" + normalize(value, kind)).encode("utf-8", "surrogatepass")
    expected = hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
    assert Pseudonymizer(key, "k").pseudonymize(value, kind) == f"k:{expected}"


def test_default_key_id_is_derived_from_the_key():
    digest = hashlib.sha256(b"usage-pipeline key id" + KEY).hexdigest()
    assert key_id_for(KEY) == "k" + digest[:8]
    assert Pseudonymizer(KEY).key_id == key_id_for(KEY)
    assert key_id_for(KEY) != key_id_for(OTHER_KEY)


@pytest.mark.parametrize("key", [b"", b"x" * 31, bytes(16)])
def test_key_shorter_than_32_bytes_is_refused(key):
    with pytest.raises(ValueError, match=r"^pseudonymization key must be at least 32 bytes$"):
        Pseudonymizer(key, "k1")


def test_key_that_is_not_bytes_is_refused_without_showing_it():
    with pytest.raises(TypeError) as error:
        Pseudonymizer("a-secret-passed-as-text-instead-of-bytes", "k1")
    assert "secret" not in str(error.value)


@pytest.mark.parametrize("key_id", ["", "a" * 33, "has space", "colon:", "ünï", 7])
def test_bad_key_id_is_refused_without_echoing_it(key_id):
    with pytest.raises(ValueError) as error:
        Pseudonymizer(KEY, key_id)
    assert not key_id or str(key_id) not in str(error.value)


def test_repr_and_str_show_the_key_id_but_never_the_key(pseudonymizer):
    for text in (repr(pseudonymizer), str(pseudonymizer)):
        assert "test-key" in text
        assert KEY.hex() not in text
        assert repr(KEY) not in text
        assert str(list(KEY)) not in text


@pytest.mark.parametrize("kind", ["", "bad\x00kind"])
def test_kind_that_is_empty_or_holds_the_separator_is_refused(pseudonymizer, kind):
    with pytest.raises(ValueError, match="kind"):
        pseudonymizer.pseudonymize("x", kind)


def test_value_that_is_not_a_string_is_refused(pseudonymizer):
    with pytest.raises(TypeError):
        pseudonymizer.pseudonymize(42, "user_id")


def test_normalize_trims_only_for_kinds_other_than_email():
    assert normalize("  AbC  ", "user_id") == "AbC"
    assert normalize(" John@Bücher.DE ", "email") == "john@xn--bcher-kva.de"
    assert normalize(" John@Bücher.DE ", "analytics/email") == "john@xn--bcher-kva.de"
    assert normalize("not an address ", "email") == "not an address"


def test_normalize_falls_back_to_lower_case_when_idna_refuses_the_domain():
    assert normalize("a@Bad..Domain", "email") == "a@bad..domain"
    assert normalize("a@" + "X" * 70 + ".com", "email") == "a@" + "x" * 70 + ".com"


def test_normalize_composes_unicode_to_nfc():
    assert normalize("jo\u0308rg@example.com", "email") == "j\u00f6rg@example.com"


@given(values, kinds)
def test_pseudonyms_are_stable_for_one_key(value, kind):
    first = Pseudonymizer(KEY, "k1").pseudonymize(value, kind)
    assert PSEUDONYM.fullmatch(first)
    assert first == Pseudonymizer(KEY, "k1").pseudonymize(value, kind)
    assert first.startswith("k1:")


@given(keys, keys, values, kinds)
def test_pseudonyms_differ_across_keys(key, other_key, value, kind):
    assume(key != other_key)
    first = Pseudonymizer(key, "k1").pseudonymize(value, kind)
    assert first != Pseudonymizer(other_key, "k1").pseudonymize(value, kind)


@given(values, kinds, kinds)
def test_pseudonyms_differ_across_kinds(pseudonymizer, value, kind, other_kind):
    assume(kind != other_kind)
    assert pseudonymizer.pseudonymize(value, kind) != pseudonymizer.pseudonymize(value, other_kind)


@given(st.emails(), st.sampled_from([str.upper, str.lower, str.swapcase, str.title]),
       st.text(" \t\n", max_size=3), st.text(" \t\n", max_size=3))  # fmt: skip
def test_case_and_surrounding_space_variants_of_an_email_share_a_pseudonym(
    pseudonymizer, email, change_case, before, after
):
    variant = before + change_case(email) + after
    assert pseudonymizer.pseudonymize(variant, "email") == pseudonymizer.pseudonymize(
        email, "email"
    )


@given(st.text("abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=20),
       st.sampled_from(IDN_DOMAINS))  # fmt: skip
def test_unicode_domain_and_its_punycode_share_a_pseudonym(pseudonymizer, local, domain):
    punycode = domain.encode("idna").decode()
    assert punycode.startswith("xn--") or ".xn--" in punycode
    unicode_form = pseudonymizer.pseudonymize(f"{local}@{domain}", "email")
    assert unicode_form == pseudonymizer.pseudonymize(f"{local}@{punycode}", "email")
    assert unicode_form == pseudonymizer.pseudonymize(f"{local}@{punycode.upper()}", "email")


@given(st.text(min_size=8, max_size=60), kinds)
def test_pseudonym_never_contains_the_input(pseudonymizer, value, kind):
    assume(len(value.strip()) >= 8)
    key_id, _, digest = pseudonymizer.pseudonymize(value, kind).partition(":")
    assert key_id == "test-key"
    assert value.strip() not in digest
    assert normalize(value, kind) not in digest


@given(st.one_of(st.emails(), values), kinds)
def test_normalize_is_idempotent(value, kind):
    once = normalize(value, kind)
    assert normalize(once, kind) == once


def test_equal_inputs_in_email_and_user_id_fields_do_not_link(pseudonymizer):
    email = pseudonymizer.pseudonymize("x@example.com", "email")
    assert email != pseudonymizer.pseudonymize("x@example.com", "user_id")
