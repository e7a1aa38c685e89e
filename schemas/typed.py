"""Typed decoders generated from the JSON Schemas: a first check that only ever accepts.

``Contracts.parse`` validates every event the stream reads. jsonschema-rs checks a decoded
dict field by field in about as long again as decoding it; a msgspec decoder typed from the
same schemas checks the structure (keys, types, enums, lengths, bounds) while it decodes, for
almost nothing. What msgspec cannot say exactly, patterns and formats above all, is checked by
jsonschema-rs itself on that one value, and a value found valid is remembered (user agents,
hosts and URLs repeat from event to event), except ids and timestamps, which never repeat.

The schemas stay the source of truth: this module reads them, and every check it cannot
express exactly either goes to a validator compiled from the schema's own keywords or makes
the typed path refuse. It may refuse what the schema accepts (the caller then takes the full
path, which also names the reason of a bad event), never the other way round; a property test
(tests/schemas/test_typed.py) holds it to that against the full validator.

An accepted payload also re-encodes to itself, as in ``Contracts.parse``: the typed dicts
leave out keys they do not know, and msgspec keeps the last of repeated keys, so a document
that lost anything in decoding differs from its re-encoding and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal, NotRequired, Required, TypedDict

import jsonschema_rs
import msgspec
import orjson

__all__ = ["TypedParser"]

Compile = Callable[[dict[str, Any]], jsonschema_rs.Validator]

# Values found valid, remembered per check; the set is emptied when full.
MEMO_SIZE = 32_768
# Formats of values that name one event or moment (ids, timestamps): they hardly ever
# repeat, so they are checked every time instead (a memo of them only misses and churns).
_UNIQUE_FORMATS = frozenset({"uuid", "date-time"})
MAX_REF_DEPTH = 32
_ANNOTATIONS = frozenset(
    {"description", "title", "$comment", "examples", "default", "deprecated", "readOnly",
     "writeOnly", "$schema", "$id", "$defs", "$anchor"}
)  # fmt: skip
_OBJECT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties"})
_STRING_KEYWORDS = frozenset({"type", "minLength", "maxLength"})
_NUMBER_KEYWORDS = frozenset({"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
# The keywords that hold schemas (a map of them, a list of them, one), as ``$ref`` can hide in.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMAS = frozenset(
    {"items", "not", "if", "then", "else", "additionalProperties", "contains", "propertyNames",
     "unevaluatedItems", "unevaluatedProperties"}
)  # fmt: skip
_BOUNDS = {"minimum": "ge", "maximum": "le", "exclusiveMinimum": "gt", "exclusiveMaximum": "lt"}
_EVENT_TYPE_KEY = b'"event_type":"'
# Where it starts in what our producers write: {"event_id":"<36 characters>",
_USUAL_START = len(b'{"event_id":"",') + 36


class _UnsupportedError(Exception):
    """A schema construct this module does not type: its value is checked whole instead."""


class _Memo:
    """A check of one string value against a compiled schema, remembering valid values."""

    def __init__(self, validator: jsonschema_rs.Validator) -> None:
        self.valid: set[str] = set()
        self.is_valid = validator.is_valid

    def miss(self, value: str) -> bool:
        """Whether ``value`` is valid, checked by the validator (and remembered if it is)."""
        if not self.is_valid(value):
            return False
        if len(self.valid) >= MEMO_SIZE:
            self.valid.clear()
        self.valid.add(value)
        return True


class _Generator:
    """Builds the msgspec type and the check function of one event schema."""

    def __init__(self, documents: Mapping[str, dict[str, Any]], compile_schema: Compile) -> None:
        self.documents = documents
        self.compile = compile_schema
        self.namespace: dict[str, Any] = {}
        self.names: dict[str, str] = {}  # canonical schema text -> name in namespace
        self.lines: list[str] = []
        self.variables = 0

    def function(self, schema: dict[str, Any], uri: str) -> tuple[Any, Callable[[Any], bool]]:
        """The msgspec type of the events ``schema`` describes, and the check of the rest."""
        self.lines = ["def check(value):"]
        decoded_type = self.node([self.inline(schema, self.documents[uri], 0)], "value", 1)
        self.lines.append("    return True")
        namespace = self.namespace
        # Only fixed names, quoted keys (repr) and names made here reach the source.
        exec(compile("\n".join(self.lines), f"<typed check {uri}>", "exec"), namespace)
        return decoded_type, namespace.pop("check")

    def inline(self, schema: Any, document: dict[str, Any], depth: int) -> Any:
        """``schema`` with every ``$ref`` replaced by what it names (as an ``allOf`` part)."""
        if not isinstance(schema, dict):
            return schema
        result: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                result[key] = {n: self.inline(v, document, depth) for n, v in value.items()}
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                result[key] = [self.inline(v, document, depth) for v in value]
            elif key in _SCHEMAS:
                result[key] = self.inline(value, document, depth)
            elif key not in ("$ref", "$defs"):
                result[key] = value
        if "$ref" in schema:
            if depth >= MAX_REF_DEPTH:
                raise _UnsupportedError("references nest too deeply")
            target, target_document = self.resolve(schema["$ref"], document)
            result["allOf"] = [
                *result.get("allOf", []),
                self.inline(target, target_document, depth + 1),
            ]
        return result

    def resolve(self, ref: str, document: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        uri, _, pointer = ref.partition("#")
        if uri:
            if uri not in self.documents:
                raise _UnsupportedError(f"unknown reference {ref}")
            document = self.documents[uri]
        target: Any = document
        for part in filter(None, pointer.split("/")):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target, document

    def node(self, schemas: list[Any], variable: str, indent: int) -> Any:
        """The msgspec type of a value all of ``schemas`` apply to; appends its checks."""
        parts = _flatten(schemas)
        start = len(self.lines)
        try:
            return self.typed(parts, variable, indent)
        except _UnsupportedError:
            del self.lines[start:]  # what was checked of it so far: all of it is, below
            self.check(parts, variable, indent, memo=False)
            return Any

    def typed(self, parts: list[dict[str, Any]], variable: str, indent: int) -> Any:
        keywords = {key for part in parts for key in part}
        if keywords & {"const", "enum"}:
            return self.literal(parts)
        kind = _kind(parts, keywords)
        if kind == "object":
            return self.object(parts, variable, indent)
        if kind == "string":
            meta = _meta(parts, {"minLength": "min_length", "maxLength": "max_length"})
            if keywords - _STRING_KEYWORDS:  # pattern, format, anyOf ...: checked by value
                unique = any(part.get("format") in _UNIQUE_FORMATS for part in parts)
                self.check(parts, variable, indent, memo=not unique)
            return Annotated[str, msgspec.Meta(**meta)] if meta else str
        if kind in ("integer", "number"):
            if keywords - _NUMBER_KEYWORDS:
                raise _UnsupportedError("number keywords")
            meta = msgspec.Meta(**_meta(parts, _BOUNDS))
            if kind == "integer":
                return Annotated[int, meta]
            return Annotated[int, meta] | Annotated[float, meta]
        if kind == "boolean" and keywords == {"type"}:
            return bool
        raise _UnsupportedError(kind)

    def literal(self, parts: list[dict[str, Any]]) -> Any:
        """The values every part allows, each checked against all the parts now."""
        candidates: list[Any] | None = None
        for part in parts:
            allowed = [part["const"]] if "const" in part else part.get("enum")
            if allowed is None:
                continue
            candidates = allowed if candidates is None else [v for v in candidates if v in allowed]
        validator = self.validator(parts)
        values = [value for value in candidates or () if validator.is_valid(value)]
        # str and int only: Literal[1] would also match True or 1.0 in a set, not in msgspec,
        # but bool and float literals are left to the full path to keep this simple.
        if not values or any(type(value) not in (str, int) for value in values):
            raise _UnsupportedError("literal")
        return Literal[tuple(values)]

    def object(self, parts: list[dict[str, Any]], variable: str, indent: int) -> Any:
        names: dict[str, list[Any]] = {}
        closed: list[set[str]] = []  # the names each closed part allows
        required: set[str] = set()
        residual = []
        for part in parts:
            rest = {k: v for k, v in part.items() if k not in _OBJECT_KEYWORDS}
            own = part.get("properties", {})
            for name, subschema in own.items():
                names.setdefault(name, []).append(subschema)
            extra = part.get("additionalProperties", True)
            if extra is False:
                closed.append(set(own))
            elif extra is not True:
                raise _UnsupportedError("additionalProperties schema")
            required.update(part.get("required", ()))
            one_of_names = _required_any_of(rest)
            if one_of_names is not None:
                rest.pop("anyOf")
                pad = "    " * indent
                test = " or ".join(f"{name!r} in {variable}" for name in one_of_names)
                self.lines.append(f"{pad}if not ({test}):")
                self.lines.append(f"{pad}    return False")
            if rest:
                residual.append(rest)
        allowed = [name for name in names if all(name in c for c in closed)]
        if not required <= set(allowed):
            raise _UnsupportedError("a required key no part allows")
        fields = {}
        for name in allowed:
            child = self.variable()
            pad = "    " * indent
            start = len(self.lines)
            if name in required:
                self.lines.append(f"{pad}{child} = {variable}[{name!r}]")
                child_type = self.node(names[name], child, indent)
                fields[name] = Required[child_type]
            else:
                self.lines.append(f"{pad}if {name!r} in {variable}:")
                self.lines.append(f"{pad}    {child} = {variable}[{name!r}]")
                child_type = self.node(names[name], child, indent + 1)
                fields[name] = NotRequired[child_type]
            if len(self.lines) == start + (1 if name in required else 2):
                del self.lines[start:]  # nothing to check in it
        if residual:  # if/then, allOf of conditions...: the whole object, by the validator
            self.check(residual, variable, indent, memo=False)
        return TypedDict(f"Typed{self.variable()}", fields, total=False)  # type: ignore[operator]

    def check(self, parts: list[dict[str, Any]], variable: str, indent: int, memo: bool) -> None:
        """Appends a validator check of ``variable`` against ``parts`` (remembered if ``memo``)."""
        text = json.dumps(parts, sort_keys=True)
        key = f"{'memo' if memo else 'valid'} {text}"
        if key not in self.names:
            name = f"check_{len(self.names)}"
            validator = self.validator(parts)
            self.names[key] = name
            if memo:
                memo_check = _Memo(validator)
                self.namespace[name] = memo_check.valid
                self.namespace[name + "_miss"] = memo_check.miss
            else:
                self.namespace[name] = validator.is_valid
        name = self.names[key]
        pad = "    " * indent
        if memo:
            test = f"{variable} not in {name} and not {name}_miss({variable})"
        else:
            test = f"not {name}({variable})"
        self.lines += [f"{pad}if {test}:", f"{pad}    return False"]

    def validator(self, parts: list[dict[str, Any]]) -> jsonschema_rs.Validator:
        """The compiled validator of a value all of ``parts`` apply to."""
        try:
            return self.compile({"allOf": parts})
        except Exception as exc:  # whatever jsonschema-rs refuses, the full path decides
            raise _UnsupportedError(f"cannot compile: {exc}") from None

    def variable(self) -> str:
        self.variables += 1
        return f"v{self.variables}"


def _flatten(schemas: Iterable[Any]) -> list[dict[str, Any]]:
    """The parts of a conjunction of schemas: ``allOf`` unnested, annotations left out."""
    parts = []
    for schema in schemas:
        if schema is True:
            continue
        if not isinstance(schema, dict):
            raise _UnsupportedError("boolean schema")
        own = {k: v for k, v in schema.items() if k not in _ANNOTATIONS and k != "allOf"}
        if own:
            parts.append(own)
        parts += _flatten(schema.get("allOf", ()))
    return parts


def _kind(parts: list[dict[str, Any]], keywords: set[str]) -> str:
    types = {part["type"] for part in parts if "type" in part}
    if any(not isinstance(t, str) for t in types):
        raise _UnsupportedError("a list of types")
    if types == {"integer", "number"}:
        return "integer"
    if len(types) == 1:
        return types.pop()
    if not types and keywords & {"properties", "required", "additionalProperties"}:
        return "object"  # refuses non-objects, which the schema would let through: stricter
    raise _UnsupportedError("no single type")


def _meta(parts: list[dict[str, Any]], names: Mapping[str, str]) -> dict[str, Any]:
    """msgspec.Meta arguments of the bounds in ``parts``, the tightest of each."""
    meta: dict[str, Any] = {}
    for part in parts:
        for keyword, argument in names.items():
            if keyword not in part:
                continue
            value = part[keyword]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _UnsupportedError("bound")
            lower = argument in ("ge", "gt", "min_length")
            if argument not in meta:
                meta[argument] = value
            else:
                meta[argument] = max(meta[argument], value) if lower else min(meta[argument], value)
    return meta


def _required_any_of(rest: dict[str, Any]) -> list[str] | None:
    """The names of an ``anyOf`` of ``{"required": [name]}`` branches (one of them must be
    present), else None."""
    branches = rest.get("anyOf")
    if not isinstance(branches, list) or not branches:
        return None
    names = []
    for branch in branches:
        required = branch.get("required") if isinstance(branch, dict) else None
        if set(branch) != {"required"} or not isinstance(required, list) or len(required) != 1:
            return None
        names.append(required[0])
    return names


class TypedParser:
    """The typed first check of every event schema it can type."""

    def __init__(
        self,
        schemas: Mapping[tuple[str, int], dict[str, Any]],
        documents: Mapping[str, dict[str, Any]],
        compile_schema: Compile,
    ) -> None:
        generator = _Generator(documents, compile_schema)
        self._by_type: dict[bytes, list[tuple[Callable[[bytes], Any], Callable[[Any], bool]]]] = {}
        for (event_type, _), schema in sorted(schemas.items(), reverse=True):
            try:
                decoded_type, check = generator.function(schema, schema["$id"])
            except _UnsupportedError:
                continue  # the full path validates this type
            decoder = msgspec.json.Decoder(decoded_type).decode
            self._by_type.setdefault(event_type.encode(), []).append((decoder, check))

    @property
    def event_types(self) -> tuple[str, ...]:
        """The event types with a typed decoder."""
        return tuple(sorted(name.decode() for name in self._by_type))

    def accept(self, payload: bytes) -> dict[str, Any] | None:
        """The event in ``payload`` if the typed check accepts it, else None (not sure)."""
        # An "event_type" key picks the decoders (where our producers put it, else the first
        # one): a decoder accepts only its own type at the top, so a key found elsewhere (a
        # nested one) can only make the typed path refuse.
        if payload.startswith(_EVENT_TYPE_KEY, _USUAL_START):  # after a UUID event_id
            start = _USUAL_START + len(_EVENT_TYPE_KEY)
        else:
            start = payload.find(_EVENT_TYPE_KEY)
            if start < 0:
                return None
            start += len(_EVENT_TYPE_KEY)
        candidates = self._by_type.get(payload[start : payload.find(b'"', start)])
        for decode, check in candidates or ():
            try:
                event = decode(payload)
            except (msgspec.MsgspecError, RecursionError):
                continue  # another version's decoder may take it
            try:
                encoded = orjson.dumps(event, option=orjson.OPT_STRICT_INTEGER)
                accepted = encoded == payload and check(event)
            except (TypeError, ValueError, RecursionError):  # the full path names the reason
                return None
            return event if accepted else None
        return None
