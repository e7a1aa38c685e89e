"""Load the event contracts (JSON Schema 2020-12) and validate events against them.

Every schema is compiled once by jsonschema-rs. ``Contracts.validate`` is the hot path: one
dict lookup on ``(event_type, schema_version)`` and one compiled ``is_valid`` call. Only when an
event is invalid are the errors collected and translated into ``ContractViolation``s, whose
text is built from the schema (keyword, limits, allowed values, property names) and never from
the offending value, so it is safe to log even when the event carries personal data.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

import jsonschema_rs
import orjson

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "ROOT",
    "SCHEMA_DIR",
    "ContractViolation",
    "Contracts",
    "load_contracts",
]

DEFAULT_MAX_EVENT_BYTES: Final = 64 * 1024
SCHEMA_DIR: Final = Path(__file__).resolve().parent / "json"
ROOT: Final = "$"
"""``field`` of a violation about the whole document (size, JSON syntax, not an object)."""

_SCHEMA_FILE = re.compile(
    r"(?P<name>[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?)\.v(?P<version>[1-9][0-9]*)\.json"
)
_SAFE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_SAFE_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_]{0,63}")
# bytes.translate + substring search finds a run of 19 digits (the shortest integer beyond
# int64) at C speed, several times faster than a regular expression.
_DIGITS_TO_ZERO: Final = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2E for b in range(256))
_NINETEEN_DIGITS: Final = b"0" * 19
_ESCAPED_COLON_PREFIX: Final = b"\\u003"
_ESCAPED_COLON: Final = b"\\u003a"
_ESCAPED_COLON_UPPER: Final = b"\\u003A"
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_MISSING: Final = object()

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
_PATTERN_REASONS: Final[dict[str, str]] = {
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
_DISPATCH_RANK: Final = -1


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


class Contracts:
    """The loaded schemas, compiled once."""

    def __init__(self, documents: Iterable[dict[str, Any]]) -> None:
        docs = list(documents)
        self._documents: dict[str, dict[str, Any]] = {}
        for doc in docs:
            jsonschema_rs.meta.validate(doc)
            uri = doc.get("$id")
            if not isinstance(uri, str) or uri in self._documents:
                raise ValueError(f"every schema needs a unique $id, got {uri!r}")
            self._documents[uri] = doc
        registry = jsonschema_rs.Registry(list(self._documents.items()))
        compile_options: dict[str, Any] = {
            "registry": registry,
            "validate_formats": True,
            "ignore_unknown_formats": False,
            "email_options": jsonschema_rs.EmailOptions(allow_display_text=False),
            "pattern_options": jsonschema_rs.RegexOptions(),
            "offline": True,
        }
        self._schemas: dict[tuple[str, int], dict[str, Any]] = {}
        self._validators: dict[tuple[str, int], jsonschema_rs.Validator] = {}
        self._versions: dict[str, tuple[int, ...]] = {}
        envelopes: dict[int, dict[str, Any]] = {}
        for doc in docs:
            key = _event_key(doc)
            if key is None:
                version = _envelope_version(doc)
                if version is not None:
                    envelopes[version] = doc
                continue
            if key in self._schemas:
                raise ValueError(f"two schemas for {key[0]} version {key[1]}")
            self._schemas[key] = doc
            self._validators[key] = jsonschema_rs.validator_for(doc, **compile_options)
        if not self._validators:
            raise ValueError("no event schema found")
        if not envelopes:
            raise ValueError("no envelope schema found")
        self._envelope = envelopes[max(envelopes)]
        # Used to report envelope problems of events whose type or version has no schema.
        self._fallback = jsonschema_rs.validator_for(envelopes[max(envelopes)], **compile_options)
        for event_type, version in sorted(self._schemas):
            self._versions[event_type] = (*self._versions.get(event_type, ()), version)
        self._event_types = tuple(sorted(self._versions))
        self._families = {name: name.partition(".")[0] for name in self._event_types}

    @classmethod
    def load(cls, directory: Path = SCHEMA_DIR) -> Contracts:
        """Read and compile every ``*.json`` schema in ``directory``."""
        documents = []
        for path in sorted(Path(directory).glob("*.json")):
            doc = json.loads(path.read_text(encoding="utf-8"))
            if not _SCHEMA_FILE.fullmatch(path.name):
                raise ValueError(f"{path.name}: schema files are named <name>.v<version>.json")
            if not isinstance(doc, dict) or not str(doc.get("$id", "")).endswith("/" + path.name):
                raise ValueError(f"{path.name}: $id must end with /{path.name}")
            documents.append(doc)
        return cls(documents)

    @property
    def event_types(self) -> tuple[str, ...]:
        """All event types with a schema, sorted."""
        return self._event_types

    def family(self, event_type: str) -> str:
        """Return the topic family of an event type: the part before the dot."""
        try:
            return self._families[event_type]
        except (KeyError, TypeError):
            raise ContractViolation("event_type", _unknown_type_reason(event_type)) from None

    def versions(self, event_type: str) -> tuple[int, ...]:
        """Return the schema versions known for an event type, ascending."""
        self.family(event_type)
        return self._versions[event_type]

    def schema(self, event_type: str, version: int = 1) -> dict[str, Any]:
        """Return a copy of the JSON Schema of one event type and version."""
        self.family(event_type)
        doc = self._schemas.get((event_type, version))
        if doc is None:
            raise ContractViolation("schema_version", self._unsupported_reason(event_type))
        return copy.deepcopy(doc)

    def fields(self, event_type: str, version: int = 1) -> dict[str, dict[str, Any]]:
        """Every leaf field of an event type as a dotted path, with its (resolved) schema."""
        doc = self.schema(event_type, version)
        own = doc.get("properties", {}).get("properties", {}).get("properties", {})
        top = {**self._envelope["properties"], "properties": {"properties": own}}
        return dict(_leaves(top, self._envelope, ""))

    def violations(self, event: object) -> list[ContractViolation]:
        """Return every contract problem of an event, ordered by field (empty when valid)."""
        if not isinstance(event, dict):
            return [ContractViolation(ROOT, "must be a JSON object")]
        found: list[tuple[str, int, str]] = []
        validator = self._dispatch(event, found)
        try:
            errors = list(validator.iter_errors(event))
        except ValueError as exc:  # raised while converting the event, before any validation
            too_deep = "recursion" in str(exc).lower()
            return [
                ContractViolation(ROOT, "is nested too deeply" if too_deep else _NOT_JSON_REASON)
            ]
        dispatch_fields = {field for field, _, _ in found}
        for field, rank, reason in self._translate(errors):
            if field not in dispatch_fields:
                found.append((field, rank, reason))
        return _ordered(found)

    def validate(self, event: object) -> dict[str, Any]:
        """Return the event if it meets its contract, else raise its most specific violation."""
        if type(event) is dict:
            try:
                validator = self._validators.get(
                    (event.get("event_type"), event.get("schema_version"))
                )
                if validator is not None and validator.is_valid(event):
                    return event
            except (TypeError, ValueError):
                pass  # unhashable dispatch value or non-JSON content: reported below
        problems = self.violations(event)
        if problems:
            raise problems[0]
        assert isinstance(event, dict)  # violations() reports anything else
        return event  # a dict subclass that meets its contract

    def parse(
        self, payload: bytes | str, max_bytes: int = DEFAULT_MAX_EVENT_BYTES
    ) -> dict[str, Any]:
        """Decode one JSON event (size, strict JSON, 64-bit ints, unique keys) and validate it."""
        if type(payload) is bytes and len(payload) <= max_bytes:
            # The usual case in one go: a document that re-encodes to itself (see
            # _may_have_lost) and meets its contract. Anything else takes the path below,
            # which finds the reason.
            try:
                event = orjson.loads(payload)
                if (
                    type(event) is dict
                    and orjson.dumps(event, option=orjson.OPT_STRICT_INTEGER) == payload
                ):
                    validator = self._validators.get(
                        (event.get("event_type"), event.get("schema_version"))
                    )
                    if validator is not None and validator.is_valid(event):
                        return event
            except (TypeError, ValueError):  # orjson's errors, an unhashable type or version
                pass
        raw = _check_size(payload, max_bytes)
        event = _decode(raw)
        if _may_have_lost(raw, event):
            violation = _strict_problem(_strict_tree(raw))
            if violation is not None:
                raise violation
        return self.validate(event)

    def decode_array(self, payload: bytes | str) -> list[Any]:
        """Decode a JSON array of events as strictly as ``parse`` decodes one; elements are not
        validated yet, and an element that repeats a key or holds an integer beyond int64 is
        replaced by its ``ContractViolation``. Raises one for a document that is not an array."""
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

    # -- internals ---------------------------------------------------------------------------

    def _dispatch(
        self, event: dict[str, Any], found: list[tuple[str, int, str]]
    ) -> jsonschema_rs.Validator:
        """Pick the validator for an event; record why when there is none."""
        event_type = event.get("event_type", _MISSING)
        known_type = False
        if event_type is _MISSING:
            found.append(("event_type", _DISPATCH_RANK, "is required"))
        elif not isinstance(event_type, str):
            found.append(("event_type", _DISPATCH_RANK, "must be a string"))
        elif event_type not in self._versions:
            found.append(("event_type", _DISPATCH_RANK, _unknown_type_reason(event_type)))
        else:
            known_type = True
        version = event.get("schema_version", _MISSING)
        if version is _MISSING:
            found.append(("schema_version", _DISPATCH_RANK, "is required"))
            return self._fallback
        if isinstance(version, bool) or not (
            isinstance(version, int) or (isinstance(version, float) and version.is_integer())
        ):
            found.append(("schema_version", _DISPATCH_RANK, "must be an integer"))
            return self._fallback
        if not known_type:
            return self._fallback
        validator = self._validators.get((event_type, version))
        if validator is None:
            found.append(("schema_version", _DISPATCH_RANK, self._unsupported_reason(event_type)))
            return self._fallback
        return validator

    def _unsupported_reason(self, event_type: str) -> str:
        supported = ", ".join(str(v) for v in self._versions[event_type])
        return f"is not a supported version of {event_type} (supported: {supported})"

    def _translate(
        self, errors: Iterable[jsonschema_rs.ValidationError]
    ) -> Iterable[tuple[str, int, str]]:
        """Turn jsonschema-rs errors into (field, rank, reason) without touching the values."""
        for error in errors:
            kind = error.kind
            name = kind.name
            path = list(error.instance_path)
            rank = _RANK.get(name, len(_RANK))
            location = error.absolute_keyword_location
            if name == "required":
                reason = self._conditional("is required", location)
                yield _field([*path, kind.property]), rank, reason
            elif name in ("additionalProperties", "unevaluatedProperties"):
                for unexpected in kind.unexpected:
                    if _SAFE_NAME.fullmatch(unexpected):
                        yield _field(path), rank, f"unexpected property '{unexpected}'"
                    else:
                        yield _field(path), rank, "unexpected property"
            elif name == "falseSchema":
                yield _field(path), rank, self._conditional("is not allowed", location)
            else:
                yield _field(path), rank, self._reason(name, kind, location)

    def _reason(self, name: str, kind: Any, location: str | None) -> str:
        """Reason text for one error keyword, from the schema only."""
        if name == "type":
            return "must be " + " or ".join(_TYPE_NAMES.get(t, t) for t in kind.types)
        if name == "format":
            return f"is not a valid {_FORMAT_NAMES.get(kind.format, kind.format + ' value')}"
        if name == "pattern":
            return _PATTERN_REASONS.get(kind.pattern, f"does not match the pattern {kind.pattern}")
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


_NOT_JSON_REASON: Final = (
    "contains a value JSON cannot represent (only dict with str keys, list, str, int, "
    "float, bool and None are allowed)"
)


def _leaves(
    properties: dict[str, Any], root: dict[str, Any], prefix: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, subschema in properties.items():
        resolved = _resolve_local(subschema, root)
        if "properties" in resolved:
            yield from _leaves(resolved["properties"], root, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", resolved


def _resolve_local(subschema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Merge a local ``#/$defs/...`` reference into the subschema that names it."""
    ref = subschema.get("$ref", "")
    if not ref.startswith("#/"):
        return subschema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    return {**_resolve_local(target, root), **{k: v for k, v in subschema.items() if k != "$ref"}}


def _event_key(doc: dict[str, Any]) -> tuple[str, int] | None:
    """(event_type, version) pinned by an event schema's consts; None for other schemas."""
    props = doc.get("properties", {})
    event_type = props.get("event_type", {}).get("const")
    version = props.get("schema_version", {}).get("const")
    if isinstance(event_type, str) and isinstance(version, int) and not isinstance(version, bool):
        return event_type, version
    return None


def _envelope_version(doc: dict[str, Any]) -> int | None:
    match = _SCHEMA_FILE.fullmatch(str(doc.get("$id", "")).rsplit("/", 1)[-1])
    if match is None or match["name"] != "envelope":
        return None
    return int(match["version"])


def _unknown_type_reason(event_type: object) -> str:
    if isinstance(event_type, str) and _SAFE_EVENT_TYPE.fullmatch(event_type):
        return f"unknown event type '{event_type}'"
    return "unknown event type"


def _field(path: Iterable[str | int]) -> str:
    """Dotted field path; names that could be data are masked."""
    parts = [
        str(part) if isinstance(part, int) or _SAFE_NAME.fullmatch(part) else "?" for part in path
    ]
    return ".".join(parts) if parts else ROOT


def _pointer(location: str | None) -> list[str]:
    if not location or "#" not in location:
        return []
    fragment = location.partition("#")[2]
    return [s.replace("~1", "/").replace("~0", "~") for s in fragment.split("/")[1:]]


def _literal(value: object) -> str:
    """A schema constant as text (schema values only, never instance values)."""
    return value if isinstance(value, str) else json.dumps(value)


def _ordered(found: list[tuple[str, int, str]]) -> list[ContractViolation]:
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
    return None if path is None else ContractViolation(_field(path), "duplicate key")


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


@functools.cache
def load_contracts() -> Contracts:
    """Return the contracts in ``schemas/json``, loaded and compiled once per process."""
    return Contracts.load()
