"""The registry of event contracts: load the JSON Schemas (2020-12), compile them, validate.

Every schema is compiled once by jsonschema-rs. ``Contracts.validate`` is the hot path: one
dict lookup on ``(event_type, schema_version)`` and one compiled ``is_valid`` call, and
``Contracts.parse`` decodes and validates a canonical payload in one step. Only when an event
is invalid, or a payload is not canonical, does the work move to the two modules beside this
one: ``violations`` (errors translated into reasons that are safe to log) and ``strict_json``
(the byte checks for what orjson's decoding lets through).
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

from usage_pipeline.schemas import strict_json
from usage_pipeline.schemas.typed import TypedParser
from usage_pipeline.schemas.violations import (
    DISPATCH_RANK,
    NOT_JSON_REASON,
    ROOT,
    ContractViolation,
    Translator,
    ordered,
    unknown_type_reason,
    unsupported_version_reason,
)

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

_SCHEMA_FILE = re.compile(
    r"(?P<name>[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?)\.v(?P<version>[1-9][0-9]*)\.json"
)
_MISSING: Final = object()


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
        self._translator = Translator(self._documents)
        self._typed = TypedParser(
            self._schemas,
            self._documents,
            lambda schema: jsonschema_rs.validator_for(schema, **compile_options),
        )

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

    @property
    def typed(self) -> TypedParser:
        """The typed first check ``parse`` makes (schemas/typed.py)."""
        return self._typed

    def family(self, event_type: str) -> str:
        """Return the topic family of an event type: the part before the dot."""
        try:
            return self._families[event_type]
        except (KeyError, TypeError):
            raise ContractViolation("event_type", unknown_type_reason(event_type)) from None

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
                ContractViolation(ROOT, "is nested too deeply" if too_deep else NOT_JSON_REASON)
            ]
        dispatch_fields = {field for field, _, _ in found}
        for field, rank, reason in self._translator.translate(errors):
            if field not in dispatch_fields:
                found.append((field, rank, reason))
        return ordered(found)

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
            # strict_json) and meets its contract, typed (schemas/typed), else decoded and
            # validated. Anything else takes the path below, which finds the reason.
            try:
                typed = self._typed.accept(payload)
                if typed is not None:
                    return typed
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
        return self.validate(strict_json.decode_document(payload, max_bytes))

    def decode_array(self, payload: bytes | str) -> list[Any]:
        """Decode a JSON array of events as strictly as ``parse``, without validating them."""
        return strict_json.decode_array(payload)

    # -- internals ---------------------------------------------------------------------------

    def _dispatch(
        self, event: dict[str, Any], found: list[tuple[str, int, str]]
    ) -> jsonschema_rs.Validator:
        """Pick the validator for an event; record why when there is none."""
        event_type = event.get("event_type", _MISSING)
        known_type = False
        if event_type is _MISSING:
            found.append(("event_type", DISPATCH_RANK, "is required"))
        elif not isinstance(event_type, str):
            found.append(("event_type", DISPATCH_RANK, "must be a string"))
        elif event_type not in self._versions:
            found.append(("event_type", DISPATCH_RANK, unknown_type_reason(event_type)))
        else:
            known_type = True
        version = event.get("schema_version", _MISSING)
        if version is _MISSING:
            found.append(("schema_version", DISPATCH_RANK, "is required"))
            return self._fallback
        if isinstance(version, bool) or not (
            isinstance(version, int) or (isinstance(version, float) and version.is_integer())
        ):
            found.append(("schema_version", DISPATCH_RANK, "must be an integer"))
            return self._fallback
        if not known_type:
            return self._fallback
        validator = self._validators.get((event_type, version))
        if validator is None:
            found.append(("schema_version", DISPATCH_RANK, self._unsupported_reason(event_type)))
            return self._fallback
        return validator

    def _unsupported_reason(self, event_type: str) -> str:
        return unsupported_version_reason(event_type, self._versions[event_type])


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


@functools.cache
def load_contracts() -> Contracts:
    """Return the contracts in ``schemas/json``, loaded and compiled once per process."""
    return Contracts.load()
