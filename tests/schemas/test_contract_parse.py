"""Contracts.parse(): size limit, strict JSON decoding, then validation."""

import copy
import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from usage_pipeline.schemas.contracts import DEFAULT_MAX_EVENT_BYTES, ROOT, ContractViolation


def parse_violation(contracts, payload, **kwargs) -> ContractViolation:
    with pytest.raises(ContractViolation) as excinfo:
        contracts.parse(payload, **kwargs)
    violation = excinfo.value
    # Nothing chained: the decoder's exception carries the whole document.
    assert violation.__cause__ is None
    assert violation.__context__ is None
    return violation


def payload_with(example: dict, replace: tuple[bytes, bytes]) -> bytes:
    raw = orjson.dumps(example)
    assert replace[0] in raw
    return raw.replace(replace[0], replace[1], 1)


@pytest.mark.parametrize("as_text", [False, True])
def test_a_valid_payload_parses_to_the_event(contracts, examples, as_text):
    for event in examples.values():
        raw = orjson.dumps(event)
        assert contracts.parse(raw.decode() if as_text else raw) == event


def test_bytearray_and_memoryview_payloads_are_accepted(contracts, examples):
    raw = orjson.dumps(examples["usage.feature_used"])
    assert contracts.parse(bytearray(raw)) == examples["usage.feature_used"]
    assert contracts.parse(memoryview(raw)) == examples["usage.feature_used"]


def test_an_oversize_payload_is_rejected_before_decoding(contracts):
    payload = b"[" * (DEFAULT_MAX_EVENT_BYTES + 1)  # would also be invalid JSON
    violation = parse_violation(contracts, payload)
    assert violation.field == ROOT
    assert str(DEFAULT_MAX_EVENT_BYTES) in violation.reason
    assert str(DEFAULT_MAX_EVENT_BYTES + 1) in violation.reason


def test_the_size_limit_can_be_lowered(contracts, examples):
    raw = orjson.dumps(examples["usage.feature_used"])
    violation = parse_violation(contracts, raw, max_bytes=100)
    assert violation.reason == f"is {len(raw)} bytes, over the 100-byte limit"
    assert contracts.parse(raw, max_bytes=len(raw))


def test_the_size_of_text_is_counted_in_utf8_bytes(contracts):
    violation = parse_violation(contracts, '"' + "é" * 60 + '"', max_bytes=100)
    assert "122 bytes" in violation.reason


@pytest.mark.parametrize(
    ("payload", "reason_part"),
    [
        (b"", "empty"),
        (b'{"event_id": ', "is not valid JSON"),
        (b"{'event_id': 1}", "is not valid JSON"),
        (b'{"a": 1,}', "is not valid JSON"),
        (b'{"a": "x\x01"}', "control character"),
        (b"\xef\xbb\xbf{}", "is not valid JSON"),
    ],
)
def test_invalid_json_is_rejected_with_the_decoder_reason(contracts, payload, reason_part):
    violation = parse_violation(contracts, payload)
    assert violation.field == ROOT
    assert violation.reason.startswith("is not valid JSON")
    assert reason_part in violation.reason


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_nan_and_infinity_are_rejected(contracts, examples, literal):
    payload = payload_with(examples["usage.media_played"], (b"1512.4", literal))
    violation = parse_violation(contracts, payload)
    assert violation.field == ROOT
    assert violation.reason.startswith("is not valid JSON")


@pytest.mark.parametrize("garbage", [b" x", b"{}", b"\n[]", b"\x00"])
def test_trailing_garbage_is_rejected(contracts, examples, garbage):
    payload = orjson.dumps(examples["usage.feature_used"]) + garbage
    violation = parse_violation(contracts, payload)
    assert violation.field == ROOT
    assert "after document" in violation.reason or "is not valid JSON" in violation.reason


@pytest.mark.parametrize(
    "payload",
    [
        b'{"a": "\\ud800"}',  # escaped lone high surrogate
        b'{"a": "\\udc00"}',  # escaped lone low surrogate
    ],
)
def test_escaped_lone_surrogates_are_rejected(contracts, payload):
    violation = parse_violation(contracts, payload)
    assert violation.field == ROOT
    assert "surrogate" in violation.reason


def test_a_raw_lone_surrogate_in_text_is_rejected(contracts, examples):
    text = orjson.dumps(examples["usage.feature_used"]).decode().replace("reporting-api", "\ud800")
    violation = parse_violation(contracts, text)
    assert violation.field == ROOT
    assert "UTF-8" in violation.reason


@pytest.mark.parametrize("payload", [b'{"a": "\xff"}', b'{"a": "\xc3"}', b'{"a": "\xed\xa0\x80"}'])
def test_invalid_utf8_is_rejected(contracts, payload):
    violation = parse_violation(contracts, payload)
    assert (violation.field, violation.reason.split(" (")[0]) == (ROOT, "is not valid UTF-8")


@pytest.mark.parametrize(
    "number",
    [2**63, 2**64 - 1, 2**64, 10**30, -(2**63) - 1, -(10**30)],
)
def test_integers_beyond_64_bits_are_rejected(contracts, examples, number):
    payload = payload_with(examples["usage.media_played"], (b"734003200", str(number).encode()))
    violation = parse_violation(contracts, payload)
    assert violation.field == ROOT
    assert "64-bit" in violation.reason


def test_the_largest_64_bit_integer_is_accepted(contracts, examples):
    payload = payload_with(examples["usage.media_played"], (b"734003200", str(2**63 - 1).encode()))
    assert contracts.parse(payload)["properties"]["bytes"] == 2**63 - 1


def test_long_digit_runs_in_strings_and_fractions_are_not_mistaken_for_integers(
    contracts, examples
):
    payload = payload_with(
        examples["usage.media_played"], (b"1512.4", b"1.00000000000000000000001")
    )
    payload = payload.replace(b"prg-2025-0311-news", b"prg-12345678901234567890123456789", 1)
    event = contracts.parse(payload)
    assert event["properties"]["program_id"] == "prg-12345678901234567890123456789"


@pytest.mark.parametrize(
    "payload", [b"[]", b'[{"event_id": "x"}]', b'"event"', b"42", b"null", b"true"]
)
def test_a_top_level_non_object_is_rejected(contracts, payload):
    violation = parse_violation(contracts, payload)
    assert (violation.field, violation.reason) == (ROOT, "must be a JSON object")


@pytest.mark.parametrize("payload", [None, 42, {"event_id": "x"}])
def test_a_payload_that_is_not_bytes_or_text_is_a_violation(contracts, payload):
    violation = parse_violation(contracts, payload)
    assert (violation.field, violation.reason) == (ROOT, "must be bytes or str")


def test_a_decoded_event_is_then_validated(contracts, examples):
    payload = payload_with(examples["traffic.web_request"], (b'"192.0.2.23"', b'"010.1.1.1"'))
    violation = parse_violation(contracts, payload)
    assert (violation.field, violation.reason) == ("context.ip", "is not a valid IP address")


def test_deeply_nested_json_is_rejected_not_a_crash(contracts):
    violation = parse_violation(contracts, b"[" * 5000 + b"]" * 5000)
    assert violation.field == ROOT


@pytest.mark.parametrize("depth", [300, 1000])
def test_a_deeply_nested_value_inside_an_event_is_a_violation_not_a_crash(
    contracts, examples, depth
):
    nested = b"[" * depth + b"]" * depth
    payload = payload_with(examples["usage.feature_used"], (b'"report.export_csv"', nested))
    violation = parse_violation(contracts, payload)
    assert violation.field in (ROOT, "properties.feature")


def test_a_deep_document_with_a_long_number_is_a_violation_not_a_crash(contracts):
    payload = b'{"b":' + b"[" * 1020 + b"]" * 1020 + b', "a": 1234567890123456789}'
    violation = parse_violation(contracts, payload)
    assert (violation.field, violation.reason) == (ROOT, "is nested too deeply")


# -- repeated keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b'{"a": 1, "a": 2}', "a"),
        (b'{"context": {"ip": "192.0.2.1", "ip": "192.0.2.2"}}', "context.ip"),
        (b'{"a": [0, {"b": 1, "b": 2}]}', "a.1.b"),
        (b'{"a": 1, "\\u0061": 2}', "a"),  # equal once unescaped
        (b'{"\\u0061": 1, "a": "\\u003a"}', "a"),  # an escaped colon in a string
        (b'{"a": {"b": 1}, "a": {"b": 1}}', "a"),  # equal values too
        (b'{"jane@example.com": 1, "jane@example.com": 2}', "?"),  # a key that could be data
    ],
)
def test_a_repeated_key_is_rejected_with_its_path_at_any_depth(contracts, payload, field):
    violation = parse_violation(contracts, payload)
    assert (violation.field, violation.reason) == (field, "duplicate key")
    assert "192.0.2" not in str(violation)
    assert "jane" not in str(violation)


def test_a_repeated_key_deeper_than_orjson_can_write_is_found(contracts):
    nested = b"[" * 300 + b'{"k": 1, "k": 2}' + b"]" * 300
    violation = parse_violation(contracts, b'{"a": ' + nested + b"}")
    assert (violation.field, violation.reason) == ("a" + ".0" * 300 + ".k", "duplicate key")


def test_a_repeated_key_in_a_valid_event_is_rejected_although_either_value_is_valid(
    contracts, examples
):
    payload = payload_with(examples["usage.feature_used"], (b'"source"', b'"source":"a","source"'))
    assert parse_violation(contracts, payload) == ContractViolation("source", "duplicate key")


def test_colons_and_escapes_in_strings_are_not_mistaken_for_repeated_keys(contracts, examples):
    event = examples["traffic.web_request"]
    raw = payload_with(event, (b'"source":"edge-nginx"', b'"\\u0073ource":"edge-nginx"'))
    raw = raw.replace(b"https://", b"https\\u003a//", 1)
    assert contracts.parse(raw) == event
    assert contracts.parse(orjson.dumps(event).replace(b"Mozilla/5.0", b"a:b::c", 1))


class Obj(tuple):
    """A JSON object as ((key, escaped), value) pairs, in which keys may repeat."""


class Text(tuple):
    """A JSON string as (text, escaped): escaped spells every character as \\uXXXX."""


def dump(node: object) -> str:
    if isinstance(node, Obj):
        return "{" + ",".join(f"{dump(Text(key))}:{dump(value)}" for key, value in node) + "}"
    if isinstance(node, Text):
        text, escaped = node
        if escaped:
            return '"' + "".join(f"\\u{ord(c):04x}" for c in text) + '"'
        return json.dumps(text, ensure_ascii=False)
    if isinstance(node, list):
        return "[" + ",".join(map(dump, node)) + "]"
    return json.dumps(node)


def repeats_a_key(node: object) -> bool:
    if isinstance(node, Obj):
        keys = [key for (key, _), _ in node]
        return len(set(keys)) < len(keys) or any(repeats_a_key(value) for _, value in node)
    return isinstance(node, list) and any(map(repeats_a_key, node))


keys = st.tuples(st.text("ab:", max_size=2), st.booleans())
texts = st.tuples(st.text('ab:\\"\u00e9', max_size=3), st.booleans()).map(Text)
trees = st.recursive(
    st.none() | st.booleans() | st.integers(-9, 9) | texts,
    lambda children: (
        st.lists(children, max_size=3) | st.lists(st.tuples(keys, children), max_size=3).map(Obj)
    ),
    max_leaves=12,
)


@given(document=st.lists(st.tuples(keys, trees), max_size=4).map(Obj))
def test_duplicate_key_is_the_reason_exactly_when_an_object_repeats_a_key(contracts, document):
    # None of these documents is an event, so parse always raises; the question is why.
    violation = parse_violation(contracts, dump(document).encode())
    assert (violation.reason == "duplicate key") == repeats_a_key(document)


def outcome(contracts, payload: bytes) -> tuple[str, object]:
    """What parse makes of ``payload``: the event, or the violation's field and reason."""
    try:
        return "event", contracts.parse(payload)
    except ContractViolation as violation:
        return "violation", (violation.field, violation.reason)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children)
    ),
    max_leaves=6,
)


@given(data=st.data(), value=json_values)
def test_orjson_s_own_bytes_and_any_other_spelling_of_an_event_parse_alike(
    contracts, examples, data, value
):
    """parse answers the compact bytes orjson writes (its fast path) as it answers the same
    document spelled otherwise (the path that finds the reason)."""
    event = copy.deepcopy(examples[data.draw(st.sampled_from(sorted(examples)))])
    section = data.draw(st.sampled_from([None, "subject", "context", "properties"]))
    target = event if section is None else event.setdefault(section, {})
    if target and data.draw(st.booleans()):  # else left valid
        name = data.draw(st.sampled_from(sorted(target)) | st.text(max_size=6))
        target[name] = value
    try:
        compact = orjson.dumps(event)
    except orjson.JSONEncodeError:  # beyond 64 bits: orjson cannot write it, json can
        compact = None
    spaced = json.dumps(event, indent=1, ensure_ascii=False).encode()
    if compact is not None:
        assert outcome(contracts, compact) == outcome(contracts, spaced)
    elif outcome(contracts, spaced)[0] == "event":
        raise AssertionError("an integer beyond 64 bits was accepted")
