"""Dead-letter records: one-line reasons and headers, excerpts with nothing personal left."""

from __future__ import annotations

import orjson
import pytest

from streams.deadletter import MAX_REASON_CHARS, Source, dead_letter, redacted_excerpt

SOURCE = Source("raw.usage", 0, 7)


def letter(reason: str, payload: bytes = b"{}") -> tuple[dict, dict[str, bytes]]:
    value, headers = dead_letter(payload, SOURCE, "anonymize", reason, "test-processor")
    return orjson.loads(value), dict(headers)


@pytest.mark.parametrize("separator", ["\r\n", "\n", "\r", "\x85", "\u2028", "\x00"])
def test_a_reason_with_a_line_break_cannot_add_a_header_or_a_log_line(separator):
    record, headers = letter(f"KeyError: 'a'{separator}X-Injected: 1")
    assert "X-Injected: 1" in record["reason"]
    assert headers["dlq.reason"] == record["reason"].encode()
    for value in [record["reason"], *(v.decode() for v in headers.values())]:
        assert not any(c in value for c in "\r\n\x85\u2028\x00")


def test_a_long_reason_is_cut():
    record, headers = letter("x" * 5000)
    assert len(record["reason"]) == MAX_REASON_CHARS
    assert len(headers["dlq.reason"]) == MAX_REASON_CHARS


@pytest.mark.parametrize(
    "address",
    [
        "leak.me\uff20example.org",  # fullwidth commercial at
        "leak\u200dme@example.org",  # zero-width joiner
        "leak.me@exa\u200bmple.org",  # zero-width space
        "\ufeffleak.me@example.org\u00ad",  # byte order mark, soft hyphen
        "\u2066leak.me@example.org\u2069",  # bidi isolates
        "\uff4c\uff45\uff41\uff4b.me\uff20\uff45xample.org",  # fullwidth letters
    ],
)
def test_odd_unicode_cannot_hide_an_address_from_the_excerpt(address):
    for payload in (orjson.dumps({"note": f"from {address}"}), f"not json {address}".encode()):
        assert "leak" not in redacted_excerpt(payload).lower()


def test_subject_ids_are_replaced_even_when_the_payload_is_not_json():
    payload = b'{"subject": {"user_id": "u-123", "account_id": "acct-\\"9", "email": "jane@ex'
    excerpt = redacted_excerpt(payload)
    assert "u-123" not in excerpt
    assert "acct-" not in excerpt
    assert "jane" not in excerpt
    assert excerpt.count('"[id]"') == 3


def test_subject_keys_that_could_be_data_are_redacted():
    excerpt = redacted_excerpt(orjson.dumps({"subject": {"jane@example.com": "u-1"}}))
    assert orjson.loads(excerpt) == {"subject": {"[email]": "[id]"}}
