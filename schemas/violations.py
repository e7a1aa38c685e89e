"""Contract violations whose text is safe to log: built from the schema, never from the value.

An event may carry personal data in any field, and a violation is logged, returned to a
client and written to the dead-letter topic. So a reason names the keyword, limits, allowed
values and property names of the schema that was broken, and a field path masks any name that
could be data; the offending value never reaches the text. ``Translator`` turns jsonschema-rs
errors into such reasons; ``schemas.contracts`` calls it only for invalid events, off the hot
path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import jsonschema_rs

__all__ = [
    "DISPATCH_RANK",
    "NOT_JSON_REASON",
    "PATTERN_REASONS",
    "ROOT",
    "ContractViolation",
    "Translator",
    "field_path",
    "ordered",
    "unknown_type_reason",
    "unsupported_version_reason",
]

ROOT: Final = "$"
"""``field`` of a violation about the whole document (size, JSON syntax, not an object)."""

NOT_JSON_REASON: Final = (
    "contains a value JSON cannot represent (only dict with str keys, list, str, int, "
    "float, bool and None are allowed)"
)

_SAFE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_SAFE_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_]{0,63}")

# RFC 6531 addresses: dot-atom ASCII plus non-ASCII letters, without C1 controls, spaces,
# invisible and bidi-control characters, private use, the BOM or the fullwidth at sign.
_ADDRESS_NON_ASCII: Final = (
    r"\u00a1-\u00ac\u00ae-\u167f\u1681-\u1fff\u2010-\u2027\u2030-\u205e\u2070-\u2fff"
    r"\u3001-\ud7ff\uf900-\ufefe\uff01-\uff1f\uff21-\uffef"
)
_EMAIL_PATTERN: Final = (
    rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~{_ADDRESS_NON_ASCII}-]+"
    rf"@[A-Za-z0-9{_ADDRESS_NON_ASCII}-]+(?:\.[A-Za-z0-9{_ADDRESS_NON_ASCII}-]+)+$"
)
# Reasons for the patterns used in the schemas, keyed by the exact pattern text. A pattern
# missing here falls back to naming the pattern (never the value); a test keeps this complete.
PATTERN_REASONS: Final[dict[str, str]] = {
    r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$": (
        "must be a UUID (8-4-4-4-12 hexadecimal digits)"
    ),
    r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$": "must look like <family>.<name>, in lowercase",
    r"^[a-z0-9][a-z0-9._-]{0,63}$": (
        "must be 1 to 64 characters of a-z 0-9 . _ -, starting with a letter or digit"
    ),
    r"^[A-Za-z0-9._:-]{1,64}$": "must be 1 to 64 characters of A-Z a-z 0-9 . _ : -",
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|\+00:00)$": (
        "must be in UTC: an RFC 3339 date-time like 2025-03-14T09:26:53Z, ending in Z or +00:00"
    ),
    r"^[0-9]{4}-(?:0[1-9]|1[0-2])$": "must be a month as YYYY-MM",
    _EMAIL_PATTERN: (
        # No example address here: a reason is redacted like any text, and an example would
        # be redacted too.
        "must be an e-mail address (a local part, an at sign, a domain with a dot), ASCII or "
        "UTF-8 (no quoted local part, address literal, space, control, invisible or "
        "bidi-control character)"
    ),
    r"^[^\r\n\x00]*$": "must not contain CR, LF or NUL characters",
}
# Reasons for `anyOf` groups, keyed by the name of the schema that holds them.
_ANY_OF_REASONS: Final[dict[str, str]] = {
    "ip_address": "is not a valid IP address",
}
_FORMAT_NAMES: Final[dict[str, str]] = {
    "date-time": "RFC 3339 date-time",
    "email": "e-mail address",
    "idn-email": "e-mail address",
    "hostname": "hostname",
    "ipv4": "IPv4 address",
    "ipv6": "IPv6 address",
    "uri": "absolute URI",
    "uuid": "UUID",
}
_TYPE_NAMES: Final[dict[str, str]] = {
    "array": "an array",
    "boolean": "a boolean",
    "integer": "an integer",
    "null": "null",
    "number": "a number",
    "object": "an object",
    "string": "a string",
}
# Within one field, the order in which problems are reported (most specific first).
_RANK: Final[dict[str, int]] = {
    "required": 0,
    "type": 1,
    "additionalProperties": 2,
    "falseSchema": 2,
    "const": 3,
    "enum": 3,
    "format": 4,
    "anyOf": 4,
    "oneOf": 4,
    "pattern": 5,
}
# Rank of a problem with event_type or schema_version, found before any schema is applied.
DISPATCH_RANK: Final = -1


class ContractViolation(ValueError):  # noqa: N818 (the name is the published API)
    """One reason an event breaks its contract; never contains the offending value."""

    field: str
    reason: str

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"

    def __repr__(self) -> str:
        return f"ContractViolation(field={self.field!r}, reason={self.reason!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ContractViolation):
            return NotImplemented
        return (self.field, self.reason) == (other.field, other.reason)

    def __hash__(self) -> int:
        return hash((self.field, self.reason))


class Translator:
    """Turns jsonschema-rs errors into safe reasons, reading the schemas they came from."""

    def __init__(self, documents: Mapping[str, dict[str, Any]]) -> None:
        self._documents = documents

    def translate(
        self, errors: Iterable[jsonschema_rs.ValidationError]
    ) -> Iterator[tuple[str, int, str]]:
        """Turn jsonschema-rs errors into (field, rank, reason) without touching the values."""
        for error in errors:
            kind = error.kind
            name = kind.name
            path = list(error.instance_path)
            rank = _RANK.get(name, len(_RANK))
            location = error.absolute_keyword_location
            if name == "required":
                reason = self._conditional("is required", location)
                yield field_path([*path, kind.property]), rank, reason
            elif name in ("additionalProperties", "unevaluatedProperties"):
                for unexpected in kind.unexpected:
                    if _SAFE_NAME.fullmatch(unexpected):
                        yield field_path(path), rank, f"unexpected property '{unexpected}'"
                    else:
                        yield field_path(path), rank, "unexpected property"
            elif name == "falseSchema":
                yield field_path(path), rank, self._conditional("is not allowed", location)
            else:
                yield field_path(path), rank, self._reason(name, kind, location)

    def _reason(self, name: str, kind: Any, location: str | None) -> str:
        """Reason text for one error keyword, from the schema only."""
        if name == "type":
            return "must be " + " or ".join(_TYPE_NAMES.get(t, t) for t in kind.types)
        if name == "format":
            return f"is not a valid {_FORMAT_NAMES.get(kind.format, kind.format + ' value')}"
        if name == "pattern":
            return PATTERN_REASONS.get(kind.pattern, f"does not match the pattern {kind.pattern}")
        if name == "enum":
            return "must be one of: " + ", ".join(_literal(option) for option in kind.options)
        if name == "const":
            return f"must be {_literal(kind.expected_value)}"
        if name in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            words = {
                "minimum": "at least",
                "maximum": "at most",
                "exclusiveMinimum": "greater than",
                "exclusiveMaximum": "less than",
            }
            return f"must be {words[name]} {kind.limit}"
        if name == "minLength":
            return (
                "must not be empty"
                if kind.limit == 1
                else f"must be at least {kind.limit} characters long"
            )
        if name == "maxLength":
            return f"must be at most {kind.limit} characters long"
        if name in ("anyOf", "oneOf"):
            return self._any_of_reason(location)
        return f"breaks the {name} rule"

    def _any_of_reason(self, location: str | None) -> str:
        segments = _pointer(location)
        branches = self._resolve(location)
        if len(segments) >= 2 and segments[-2] in _ANY_OF_REASONS:
            return _ANY_OF_REASONS[segments[-2]]
        if isinstance(branches, list) and all(
            isinstance(b, dict) and set(b) == {"required"} for b in branches
        ):
            names = [name for branch in branches for name in branch["required"]]
            return "must have at least one of: " + ", ".join(names)
        return "does not match any of the allowed forms"

    def _conditional(self, reason: str, location: str | None) -> str:
        """Qualify a reason with the ``if`` of the ``then``/``else`` branch that raised it."""
        segments = _pointer(location)
        for index in range(len(segments) - 1, 0, -1):
            branch = segments[index]
            if branch not in ("then", "else") or segments[index - 1] == "properties":
                continue
            parent = self._resolve(location, segments[:index])
            test = parent.get("if") if isinstance(parent, dict) else None
            rules = test.get("properties") if isinstance(test, dict) else None
            if not isinstance(rules, dict) or len(rules) != 1:
                return reason
            ((field, rule),) = rules.items()
            if not isinstance(rule, dict):
                return reason
            values = [rule["const"]] if "const" in rule else rule.get("enum")
            if not isinstance(values, list):
                return reason
            condition = f"{field} is {' or '.join(_literal(value) for value in values)}"
            if branch == "then":
                return f"{reason} when {condition}"
            if reason == "is not allowed":
                return f"is only allowed when {condition}"
            return f"{reason} unless {condition}"
        return reason

    def _resolve(self, location: str | None, segments: list[str] | None = None) -> Any:
        """The schema node at an absolute keyword location (or a prefix of its pointer)."""
        if not location:
            return None
        node: Any = self._documents.get(location.partition("#")[0])
        for segment in _pointer(location) if segments is None else segments:
            if isinstance(node, dict):
                node = node.get(segment)
            elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
                node = node[int(segment)]
            else:
                return None
        return node


def unknown_type_reason(event_type: object) -> str:
    """Reason for an event type without a schema; names it only when it cannot be data."""
    if isinstance(event_type, str) and _SAFE_EVENT_TYPE.fullmatch(event_type):
        return f"unknown event type '{event_type}'"
    return "unknown event type"


def unsupported_version_reason(event_type: str, versions: Iterable[int]) -> str:
    """Reason for a schema version an event type does not have, listing those it has."""
    supported = ", ".join(str(v) for v in versions)
    return f"is not a supported version of {event_type} (supported: {supported})"


def field_path(path: Iterable[str | int]) -> str:
    """Dotted field path; names that could be data are masked."""
    parts = [
        str(part) if isinstance(part, int) or _SAFE_NAME.fullmatch(part) else "?" for part in path
    ]
    return ".".join(parts) if parts else ROOT


def ordered(found: list[tuple[str, int, str]]) -> list[ContractViolation]:
    """Sort by field then specificity, drop duplicates and pattern errors shadowed by format."""
    formats = {field for field, rank, _ in found if rank == _RANK["format"]}
    seen: set[tuple[str, str]] = set()
    result = []
    for field, rank, reason in sorted(found):
        if (rank == _RANK["pattern"] and field in formats) or (field, reason) in seen:
            continue
        seen.add((field, reason))
        result.append(ContractViolation(field, reason))
    return result


def _pointer(location: str | None) -> list[str]:
    if not location or "#" not in location:
        return []
    fragment = location.partition("#")[2]
    return [s.replace("~1", "/").replace("~0", "~") for s in fragment.split("/")[1:]]


def _literal(value: object) -> str:
    """A schema constant as text (schema values only, never instance values)."""
    return value if isinstance(value, str) else json.dumps(value)
