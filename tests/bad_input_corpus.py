"""The bad-input corpus of issue 8, shared by the contract, processor and worker tests.

Each case is one raw Kafka record: its payload bytes (and, for some, a hostile key and
headers) and the dead-letter reason it must get, ``"<field>: <reason>"`` or a part of it.
Cases whose reason is None are odd but valid: they must reach their outputs, with
``context.ip`` truncated to ``ip``. Every payload carries the leaky e-mail address and IP
address below, so a test can check that no dead letter repeats them; the cases named
``cut_...`` are cut short inside the address, so only a piece of it is there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from usage_pipeline.schemas.contracts import DEFAULT_MAX_EVENT_BYTES

LEAKY_EMAIL = "leak.me@example.org"
LEAKY_LOCAL_PART = LEAKY_EMAIL.partition("@")[0]
LEAKY_IP = "203.0.113.99"
# What a partly redacted address would leave behind: its local part, forwards or reversed.
CANARIES = ("leak", "kael", LEAKY_IP)
# Every piece of the local part of 3 characters or more: none may reach a dead letter, even
# from a payload cut inside the address.
LOCAL_PART_PIECES = tuple(
    LEAKY_LOCAL_PART[i:j]
    for i in range(len(LEAKY_LOCAL_PART))
    for j in range(i + 3, len(LEAKY_LOCAL_PART) + 1)
)
OCCURRED_AT = "2026-11-20T12:00:00Z"
INJECTED_KEY = b"bad\r\nX-Injected: 1"
INJECTED_HEADERS = (
    ("X-Forwarded-For\r\nBcc", f"{LEAKY_EMAIL}\r\n{LEAKY_IP}".encode()),
    ("dlq.reason", b"forged\r\nX-Injected: 1"),
)
_NAMESPACE = uuid.UUID("0c6f3a1e-8d2b-4f57-b9e4-2a7d5c1e9f30")

INVALID_JSON = "$: is not valid JSON"
NOT_UTF8 = "$: is not valid UTF-8"
TOO_DEEP = "$: is nested too deeply"
OUT_OF_INT64 = "$: contains an integer outside the signed 64-bit range"
BAD_IP = "context.ip: is not a valid IP address"
BAD_EMAIL = "subject.email: is not a valid e-mail address"
BAD_RECIPIENT = "properties.recipient: is not a valid e-mail address"
EMAIL_SHAPE = "must be an e-mail address (a local part, an at sign, a domain with a dot)"
NO_CR_LF = "must not contain CR, LF or NUL characters"


@dataclass(frozen=True)
class Case:
    """One raw record and what must become of it."""

    name: str
    payload: bytes
    reason: str | None  # None: valid, it must reach its outputs
    ip: str | None = None  # for a valid case: its context.ip in the service output
    key: bytes | None = b"corpus"
    headers: tuple[tuple[str, bytes], ...] = ()


def event_id(name: str) -> str:
    """The event id of a case, stable across runs."""
    return str(uuid.uuid5(_NAMESPACE, name))


def good_event(name: str, **context: str) -> dict[str, Any]:
    """A valid usage.feature_used event carrying the leaky addresses."""
    return {
        "event_id": event_id(name),
        "event_type": "usage.feature_used",
        "schema_version": 1,
        "occurred_at": OCCURRED_AT,
        "source": "bad-input-corpus",
        "subject": {"account_id": f"acct-{name}", "user_id": f"u-{name}", "email": LEAKY_EMAIL},
        "context": {
            "ip": LEAKY_IP,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "url": f"https://app.example.com/home?email={LEAKY_EMAIL}",
            **context,
        },
        "properties": {"service": "reporting", "feature": "export", "duration_ms": 1834},
    }


def _mail_event(name: str, **properties: str) -> dict[str, Any]:
    event = good_event(name)
    event["event_type"] = "email.activity"
    event["properties"] = {
        "action": "opened",
        "campaign_id": "c1",
        "campaign_kind": "newsletter",
        "message_id": f"m-{name}",
        "recipient": LEAKY_EMAIL,
        **properties,
    }
    return event


def _recipient(name: str, recipient: str) -> bytes:
    """An email.activity event sent to ``recipient``: outside ``subject``, so only redacted."""
    return orjson.dumps(_mail_event(name, recipient=recipient))


def _with(name: str, path: str, value: Any) -> bytes:
    """A good event with one dotted field set to ``value``."""
    event = good_event(name)
    *parents, leaf = path.split(".")
    node = event
    for part in parents:
        node = node[part]
    node[leaf] = value
    return orjson.dumps(event)


def _spliced(name: str, old: bytes, new: bytes) -> bytes:
    """A good event's JSON with its first ``old`` replaced by ``new`` (what orjson cannot write)."""
    raw = orjson.dumps(good_event(name))
    assert old in raw, old
    return raw.replace(old, new, 1)


def _cut(raw: bytes, after: bytes) -> bytes:
    """``raw`` cut right after the first ``after``, as a buggy producer or a proxy cuts it."""
    return raw[: raw.index(after) + len(after)]


def _bad_cases() -> list[Case]:
    ip = LEAKY_IP.encode()
    email = LEAKY_EMAIL.encode()
    nested = b"[" * 1000 + b"]" * 1000
    oversize = _with("oversize", "properties.feature", f"{LEAKY_EMAIL} " * 4000)
    return [
        # Malformed JSON
        Case("empty", b"", INVALID_JSON),
        Case("truncated", orjson.dumps(good_event("truncated"))[:200], INVALID_JSON),
        Case("trailing_garbage", orjson.dumps(good_event("trailing_garbage")) + b" {}",
            INVALID_JSON),
        Case("not_json", b"not json " + email + b" " + ip, INVALID_JSON),
        Case("single_quotes", _spliced("single_quotes", b'"source"', b"'source'"), INVALID_JSON),
        Case("escaped_lone_surrogate", _spliced("escaped_lone_surrogate", b'"u-', b'"\\ud800'),
            f"{INVALID_JSON}: no low surrogate"),
        Case("raw_lone_surrogate", _spliced("raw_lone_surrogate", b'"u-', b'"\xed\xa0\x80'),
            NOT_UTF8),
        Case("invalid_utf8", _spliced("invalid_utf8", b'"u-', b'"\xff'), NOT_UTF8),
        Case("nan", _spliced("nan", b"1834", b"NaN"), INVALID_JSON),
        Case("infinity", _spliced("infinity", b"1834", b"-Infinity"), INVALID_JSON),
        Case("float_overflow", _spliced("float_overflow", b"1834", b"1e400"), INVALID_JSON),
        Case("integer_beyond_64_bits", _spliced("integer_beyond_64_bits", b"1834",
            str(2**64).encode()), OUT_OF_INT64),
        Case("negative_integer_beyond_64_bits", _spliced("negative_integer_beyond_64_bits",
            b"1834", str(-(2**63) - 1).encode()), OUT_OF_INT64),
        # Cut short inside an address: only a description of the payload may remain
        Case("cut_inside_email_field", _cut(orjson.dumps(good_event("cut_inside_email_field")),
            b'"email":"leak.me@exa'), INVALID_JSON),
        Case("cut_right_after_at", _cut(_recipient("cut_right_after_at", LEAKY_EMAIL),
            b'"recipient":"leak.me@'), INVALID_JSON),
        Case("cut_inside_local_part", _cut(orjson.dumps(good_event("cut_inside_local_part")),
            b"?email=leak.m"), INVALID_JSON),
        Case("cut_inside_address_in_url", _cut(orjson.dumps(good_event(
            "cut_inside_address_in_url")), b"?email=leak.me@examp"), INVALID_JSON),
        Case("cut_inside_percent_encoded_address", _cut(_with("cut_inside_percent_encoded_address",
            "context.url", "https://app.example.com/u/leak.me%40ex.org/x"), b"/u/leak.me%4"),
            INVALID_JSON),
        Case("cut_right_after_percent_encoded_at", _cut(_with("cut_right_after_percent_encoded_at",
            "context.url", "https://app.example.com/u?e=leak.me%40ex.org"), b"?e=leak.me%40"),
            INVALID_JSON),
        Case("cut_inside_json_escaped_address", _cut(_spliced("cut_inside_json_escaped_address",
            b"@example.org", b"\\u0040example.org"), b"leak.me\\u004"), INVALID_JSON),
        Case("nested_1000_deep", nested, TOO_DEEP),
        Case("nested_1000_deep_inside_event", _spliced("nested_1000_deep_inside_event",
            b'"export"', nested), TOO_DEEP),
        # Duplicate keys, at any depth, also when spelled with escapes
        Case("duplicate_top_level_key", _spliced("duplicate_top_level_key", b'"source"',
            b'"event_id":"x","source"'), "event_id: duplicate key"),
        Case("duplicate_email_key", _spliced("duplicate_email_key", b'"email"',
            b'"email":"' + email + b'","email"'), "subject.email: duplicate key"),
        Case("duplicate_escaped_key", _spliced("duplicate_escaped_key", b'"ip"',
            b'"\\u0069p":"198.51.100.1","ip"'), "context.ip: duplicate key"),
        Case("duplicate_key_with_escaped_colon", _spliced("duplicate_key_with_escaped_colon",
            b'"feature"', b'"feature":"a\\u003ab","feature"'),
            "properties.feature: duplicate key"),
        # Over the limit
        Case("oversize", oversize,
            f"$: is {len(oversize)} bytes, over the {DEFAULT_MAX_EVENT_BYTES}-byte limit"),
        # Wrong types
        Case("top_level_array", orjson.dumps([good_event("top_level_array")]),
            "$: must be a JSON object"),
        Case("version_as_string", _with("version_as_string", "schema_version", "1"),
            "schema_version: must be an integer"),
        Case("user_id_as_number", _with("user_id_as_number", "subject.user_id", 42),
            "subject.user_id: must be a string"),
        Case("properties_as_list", _with("properties_as_list", "properties", []),
            "properties: must be an object"),
        Case("duration_as_float_string", _with("duration_as_float_string",
            "properties.duration_ms", "1834.0"), "properties.duration_ms: must be an integer"),
        Case("ip_as_number", _with("ip_as_number", "context.ip", 3405803875),
            "context.ip: must be a string"),
        Case("unknown_event_type", _with("unknown_event_type", "event_type", LEAKY_EMAIL),
            "event_type: unknown event type"),
        # IP addresses
        Case("ip_leading_zero", _with("ip_leading_zero", "context.ip", "0" + LEAKY_IP), BAD_IP),
        Case("ip_octal_looking", _with("ip_octal_looking", "context.ip", "010.8.0.1"), BAD_IP),
        Case("ipv4_mapped_leading_zero", _with("ipv4_mapped_leading_zero", "context.ip",
            "::ffff:0" + LEAKY_IP), BAD_IP),
        Case("ipv4_with_zone", _with("ipv4_with_zone", "context.ip", LEAKY_IP + "%eth0"),
            BAD_IP),
        Case("zone_with_space", _with("zone_with_space", "context.ip", "fe80::1%eth 0"), BAD_IP),
        Case("empty_zone", _with("empty_zone", "context.ip", "fe80::1%"), BAD_IP),
        # E-mail addresses with invisible, bidi-control or look-alike characters
        Case("email_fullwidth_at", _recipient("email_fullwidth_at", "leak.me\uff20example.org"),
            BAD_RECIPIENT),
        Case("email_zero_width_joiner", _recipient("email_zero_width_joiner",
            "leak\u200dme@example.org"), f"properties.recipient: {EMAIL_SHAPE}"),
        Case("email_zero_width_space", _recipient("email_zero_width_space",
            "leak.me@exa\u200bmple.org"), f"properties.recipient: {EMAIL_SHAPE}"),
        Case("email_rtl_override", _recipient("email_rtl_override", "\u202egro.elpmaxe@em.kael"),
            f"properties.recipient: {EMAIL_SHAPE}"),
        Case("email_quoted_local_part", _with("email_quoted_local_part", "subject.email",
            '"leak me"@example.org'), f"subject.email: {EMAIL_SHAPE}"),
        Case("email_address_literal", _with("email_address_literal", "subject.email",
            f"leak.me@[{LEAKY_IP}]"), f"subject.email: {EMAIL_SHAPE}"),
        # Header injection
        Case("email_crlf_bcc", _with("email_crlf_bcc", "subject.email",
            f"{LEAKY_EMAIL}\r\nBcc: x@example.net"), BAD_EMAIL),
        Case("recipient_crlf_bcc", _recipient("recipient_crlf_bcc",
            f"{LEAKY_EMAIL}\r\nBcc: x@example.net"), BAD_RECIPIENT),
        Case("user_agent_crlf", _with("user_agent_crlf", "context.user_agent",
            "ua\r\nX-Injected: 1"), f"context.user_agent: {NO_CR_LF}"),
        Case("user_agent_nul", _with("user_agent_nul", "context.user_agent", "ua\x00"),
            f"context.user_agent: {NO_CR_LF}"),
        Case("message_id_crlf", orjson.dumps(_mail_event("message_id_crlf",
            message_id=f"<m1@example.net>\r\nBcc: {LEAKY_EMAIL}")),
            f"properties.message_id: {NO_CR_LF}"),
        Case("url_crlf", _with("url_crlf", "context.url",
            "https://app.example.com/\r\nX-Injected: 1"),
            "context.url: is not a valid absolute URI"),
        Case("unexpected_crlf_field", _spliced("unexpected_crlf_field", b'"source"',
            b'"X-Injected\\r\\nBcc":"' + email + b'","source"'), "$: unexpected property"),
        Case("injected_kafka_key_and_headers", _with("injected_kafka_key_and_headers",
            "context.ip", "0" + LEAKY_IP), BAD_IP, key=INJECTED_KEY, headers=INJECTED_HEADERS),
    ]  # fmt: skip


def _valid_cases() -> list[Case]:
    return [
        Case("ipv4_mapped_ipv6", _with("ipv4_mapped_ipv6", "context.ip", "::ffff:" + LEAKY_IP),
            None, ip="203.0.113.0"),
        Case("ipv6_link_local_zone", _with("ipv6_link_local_zone", "context.ip", "fe80::1%eth0"),
            None, ip="fe80::"),
        Case("ipv6_global_zone", _with("ipv6_global_zone", "context.ip",
            "2001:db8:1:2::99%25en0"), None, ip="2001:db8:1::"),
        # RFC 6531 addresses (issue 17): accepted, normalised (NFC, IDNA) before pseudonymizing
        Case("email_accent_nfd", _with("email_accent_nfd", "subject.email",
            "leak.me\u0301@example.org"), None, ip="203.0.113.0"),
        Case("email_accent_nfc", _with("email_accent_nfc", "subject.email",
            "leak.m\u00e9@example.org"), None, ip="203.0.113.0"),
        Case("email_idn_domain", _with("email_idn_domain", "subject.email",
            "leak.me@b\u00fccher.example"), None, ip="203.0.113.0"),
        Case("email_fullwidth_letters", _recipient("email_fullwidth_letters",
            "\uff4c\uff45\uff41\uff4b.me@example.org"), None, ip="203.0.113.0"),
        Case("email_idn_in_ascii_form", _with("email_idn_in_ascii_form", "subject.email",
            "leak.me@xn--bcher-kva.example"), None, ip="203.0.113.0"),
        Case("injected_kafka_key_and_headers_on_a_good_event", orjson.dumps(good_event(
            "injected_kafka_key_and_headers_on_a_good_event")), None, ip="203.0.113.0",
            key=INJECTED_KEY, headers=INJECTED_HEADERS),
    ]  # fmt: skip


BAD: tuple[Case, ...] = tuple(_bad_cases())
VALID: tuple[Case, ...] = tuple(_valid_cases())
CORPUS: tuple[Case, ...] = BAD + VALID
