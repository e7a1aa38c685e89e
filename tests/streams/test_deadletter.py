"""Dead-letter records: one-line reasons and headers, excerpts with nothing personal left."""

from __future__ import annotations

import orjson
import pytest

from usage_pipeline.streams.anonymize.scrub import find_personal_data
from usage_pipeline.streams.deadletter import (
    MAX_EXCERPT_BYTES,
    MAX_REASON_CHARS,
    Source,
    dead_letter,
    redacted_excerpt,
)

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


def test_a_payload_that_does_not_parse_is_outlined_never_quoted():
    payload = b'{"subject": {"user_id": "u-123", "account_id": "acct-\\"9", "email": "jane@ex'
    assert redacted_excerpt(payload) == (
        f"not parsed, {len(payload)} bytes; the payload ends inside a string, at byte "
        f"{len(payload)}; read: {{subject: {{user_id: string, account_id: string, "
        "email: string (cut)"
    )


@pytest.mark.parametrize(
    ("payload", "outline"),
    [
        (b"", "not parsed, 0 bytes (empty)"),
        (b'{"source": "a", "duration_ms": NaN}',
         "unexpected 'XxX}' at byte 31; read: {source: string, duration_ms: "),
        (b"{'source': 'jane.roe@example.org'}",
         "unexpected \"'xxxxxx': 'xxxx.xxx?xxxx\" at byte 1; read: {"),
        (b'{"event_id": "e"} {"jane.roe@example.org": 1}',
         "unexpected '{\"xxxx.xxx?xxxxxxx.xxx\":' at byte 18; read: {event_id: string}"),
        (b'{"jane.roe": [1, 2.5, true, null, {}, [], "x", "y"], "ip": 1e999}',
         "the JSON grammar holds to the end (see the reason); read: {?: [number, number, "
         "boolean, null, {}, ... 3 more], ip: number (out of range)}"),
        (b'{"email": "\xff", "ip": "\\ud800"}',
         "read: {email: string (invalid: bad UTF-8 or escape), ip: string (invalid: bad UTF-8 "
         "or escape)}"),
        (b'[[[[[[[[[[[[[[[[[[[[[[[["', "the payload ends inside a string"),
        (b"jane.roe@example.org,203.0.113.9", "unexpected 'xxxx.xxx?xxxxxxx.xxx,###' at byte 0"),
    ],
)  # fmt: skip
def test_an_outline_says_where_parsing_stopped_with_field_names_and_kinds_only(payload, outline):
    excerpt = redacted_excerpt(payload)
    assert outline in excerpt
    assert excerpt.startswith(f"not parsed, {len(payload)} bytes")
    assert "jane" not in excerpt
    assert find_personal_data(excerpt) == []


def test_an_outline_stays_within_4_kib_and_reads_a_bounded_number_of_tokens():
    excerpt = redacted_excerpt(b'{"source": [' + b'{"source": 1}, ' * 20_000)
    assert "only the first 2048 tokens were read, to byte 5124; read: {source: [{" in excerpt
    excerpt = redacted_excerpt(b"{" + b'"source": 1, ' * 2_000)
    assert len(excerpt.encode()) <= MAX_EXCERPT_BYTES
    assert excerpt.endswith("source: number ...")


@pytest.mark.parametrize("tail", ["%25off", "&amp;x", "\\u00e9", "@x.org"])
def test_cutting_to_4_kib_leaves_no_start_of_an_address(tail):
    for pad in range(MAX_EXCERPT_BYTES - 40, MAX_EXCERPT_BYTES):
        excerpt = redacted_excerpt(orjson.dumps({"note": "x" * pad + " jane.roe" + tail}))
        assert len(excerpt.encode()) <= MAX_EXCERPT_BYTES
        assert find_personal_data(excerpt) == []
    # Cut right after the local part's next character ("jane.roe%" of "jane.roe%25off"), the
    # excerpt ends in what starts an address: the check after the cut redacts it.
    pad = MAX_EXCERPT_BYTES - len('{"note":" jane.roe') - 1
    excerpt = redacted_excerpt(orjson.dumps({"note": "x" * pad + " jane.roe" + tail}))
    assert "jane" not in excerpt
    assert " [email]" in excerpt


def test_a_recipient_that_is_no_address_is_still_hidden():
    excerpt = redacted_excerpt(orjson.dumps({"properties": {"recipient": "jane.roe"}}))
    assert orjson.loads(excerpt) == {"properties": {"recipient": "[email]"}}


def test_subject_keys_that_could_be_data_are_redacted():
    excerpt = redacted_excerpt(orjson.dumps({"subject": {"jane@example.com": "u-1"}}))
    assert orjson.loads(excerpt) == {"subject": {"[email]": "[id]"}}
