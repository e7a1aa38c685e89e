"""Strict JSON: the byte checks that make orjson's decoding safe for a contract.

orjson is fast but lenient in two ways a contract cannot be: it keeps the last of repeated
keys in an object (so the value validated may not be the one another reader sees) and widens
integers beyond int64 (which Kafka clients, Arrow and DuckDB cannot hold). These checks find
both without slowing the common case: a document that re-encodes to itself lost nothing, and
only a document that may have lost something is decoded again, slowly, keeping what orjson
drops. Every problem is a ``ContractViolation`` whose text never quotes the document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

import orjson

from usage_pipeline.schemas.violations import ROOT, ContractViolation, field_path

__all__ = ["decode_array", "decode_document"]

# bytes.translate + substring search finds a run of 19 digits (the shortest integer beyond
# int64) at C speed, several times faster than a regular expression.
_DIGITS_TO_ZERO: Final = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2E for b in range(256))
_NINETEEN_DIGITS: Final = b"0" * 19
_ESCAPED_COLON_PREFIX: Final = b"\\u003"
_ESCAPED_COLON: Final = b"\\u003a"
_ESCAPED_COLON_UPPER: Final = b"\\u003A"
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def decode_document(payload: bytes | str, max_bytes: int) -> Any:
    """Decode one JSON document strictly (size, UTF-8, syntax, 64-bit ints, unique keys)."""
    raw = _check_size(payload, max_bytes)
    document = _decode(raw)
    if _may_have_lost(raw, document):
        violation = _strict_problem(_strict_tree(raw))
        if violation is not None:
            raise violation
    return document


def decode_array(payload: bytes | str) -> list[Any]:
    """Decode a JSON array as strictly as one document; a bad element becomes its violation.

    Raises a ``ContractViolation`` for a document that is not an array; an element that
    repeats a key or holds an integer beyond int64 is replaced by its ``ContractViolation``.
    """
    raw = _check_size(payload, len(payload) if isinstance(payload, bytes) else 4 * len(payload))
    items = _decode(raw)
    if not isinstance(items, list):
        raise ContractViolation(ROOT, "must be a JSON array of events")
    if _may_have_lost(raw, items):
        tree = _strict_tree(raw)
        for index, element in enumerate(tree):
            violation = _strict_problem(element)
            if violation is not None:
                items[index] = violation
    return items


def _check_size(payload: object, max_bytes: int) -> bytes:
    """The payload as bytes, or a violation when it is not bytes/str or is too large."""
    if isinstance(payload, bytes):
        raw = payload
    elif isinstance(payload, bytearray | memoryview):
        raw = bytes(payload)
    elif isinstance(payload, str):
        # surrogatepass never fails; the JSON decoder then rejects lone surrogates as bad UTF-8.
        raw = payload.encode("utf-8", "surrogatepass")
    else:
        raise ContractViolation(ROOT, "must be bytes or str")
    if len(raw) > max_bytes:
        raise ContractViolation(ROOT, f"is {len(raw)} bytes, over the {max_bytes}-byte limit")
    return raw


def _json_reason(exc: orjson.JSONDecodeError) -> str:
    """Reason for a decoding error; uses orjson's fixed message, never the document."""
    message = str(exc.msg)
    if "not valid UTF-8" in message:
        return "is not valid UTF-8 (invalid bytes or a lone surrogate)"
    return f"is not valid JSON: {message} (line {exc.lineno}, column {exc.colno})"


def _may_have_lost(raw: bytes, decoded: object) -> bool:
    """False only when orjson's decoding of ``raw`` lost nothing: no object repeats a key
    (orjson silently keeps the last one) and no integer is beyond int64 (orjson widens those).

    A document that re-encodes to itself with integers held to 53 bits lost neither (our
    producers write with orjson): no key was dropped, and orjson decodes an integer literal
    beyond int64 to a float, which re-encodes as a float, or to an int beyond 53 bits, which
    that encoding refuses. Otherwise a run of 19 digits (the shortest integer beyond int64)
    is looked for, at C speed with bytes.translate, and colons are counted: outside strings
    each separates a key from its value; inside strings, each raw colon decodes to one colon
    unless it is spelled ``\\u003a``, and orjson writes colons as they are. So without that
    escape, re-encoding loses colons exactly when a key was dropped.
    """
    try:
        encoded = orjson.dumps(decoded, option=orjson.OPT_STRICT_INTEGER)
    except orjson.JSONEncodeError:  # beyond 53 bits, or deeper than orjson encodes
        return True
    if encoded == raw:
        return False
    if _NINETEEN_DIGITS in raw.translate(_DIGITS_TO_ZERO):
        return True
    if _ESCAPED_COLON_PREFIX in raw and (_ESCAPED_COLON in raw or _ESCAPED_COLON_UPPER in raw):
        return True
    return raw.count(b":") != encoded.count(b":")


class _RepeatedKey(dict[str, Any]):
    """A decoded object that had ``key`` more than once."""

    key: str


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` marking repeats; keys compare unescaped ("a" and "\\u0061" repeat)."""
    decoded = dict(pairs)
    if len(decoded) == len(pairs):
        return decoded
    repeated = _RepeatedKey(decoded)
    repeated.key = _first_repeat(key for key, _ in pairs)
    return repeated


def _first_repeat(keys: Iterable[str]) -> str:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    raise ValueError("no key repeats")


def _repeated_key_path(tree: object) -> list[str | int] | None:
    """Path to the first repeated key, in document order (walked without recursion)."""
    stack: list[tuple[object, list[str | int]]] = [(tree, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _RepeatedKey):
            return [*path, node.key]
        if isinstance(node, dict):
            children: list[tuple[object, list[str | int]]] = [
                (value, [*path, key]) for key, value in node.items()
            ]
        elif isinstance(node, list):
            children = [(value, [*path, index]) for index, value in enumerate(node)]
        else:
            continue
        stack.extend(reversed(children))
    return None


class _OutOfRange(int):
    """An integer literal beyond int64, kept in the tree to be reported where it stands."""


def _tolerant_int(literal: str) -> int:
    value = int(literal)
    return value if _INT64_MIN <= value <= _INT64_MAX else _OutOfRange(0)


def _decode(raw: bytes) -> Any:
    """orjson's decoding of ``raw``, or a violation naming the decoder's reason."""
    reason = None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = _json_reason(exc)
    # Raised outside the except block so the decoder error, which holds the whole
    # document, is not chained to the violation.
    raise ContractViolation(ROOT, reason)


def _strict_tree(raw: bytes) -> Any:
    """``raw`` decoded keeping what orjson loses: repeated keys and integers beyond int64."""
    reason = "is not valid JSON"
    try:
        return json.loads(raw, parse_int=_tolerant_int, object_pairs_hook=_unique_keys)
    except RecursionError:
        reason = "is nested too deeply"
    except ValueError:  # cannot happen after orjson accepted the document; stay on the safe side
        pass
    raise ContractViolation(ROOT, reason)  # outside the except block: nothing chained


def _strict_problem(tree: object) -> ContractViolation | None:
    """What orjson lets through, in ``tree``: an integer beyond int64, else a repeated key."""
    if _contains_out_of_range(tree):
        reason = "contains an integer outside the signed 64-bit range (-2^63 to 2^63-1)"
        return ContractViolation(ROOT, reason)
    path = _repeated_key_path(tree)
    return None if path is None else ContractViolation(field_path(path), "duplicate key")


def _contains_out_of_range(tree: object) -> bool:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, _OutOfRange):
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False
