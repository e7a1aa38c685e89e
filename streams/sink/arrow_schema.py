"""An explicit Arrow schema per clean output, derived from the contracts and the policy.

An output's columns are the union of what its plans let through, over every event type
routed to it and every consent state: envelope sections stay nested structs (``subject``,
``context``, ``properties``), as in the clean records. Types come from the JSON Schema of
each field, or from the action that transformed it (a pseudonym is text whatever it
replaced). Timestamps are UTC microseconds; the lake's ``event_date`` is the partition
folder, not a column inside the files (pyarrow and pandas refuse a column that is both).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from usage_pipeline.schemas.contracts import SCHEMA_DIR, Contracts
from usage_pipeline.schemas.lake import EVENT_DATE
from usage_pipeline.streams.anonymizer import RENAMED_BY
from usage_pipeline.streams.policy.model import Policy
from usage_pipeline.streams.sink.errors import OutputSchemaError

TIMESTAMP = pa.timestamp("us", tz="UTC")
USER_AGENT = pa.struct(
    [
        (name, pa.string())
        for name in ("browser_family", "browser_major", "os_family", "device_class")
    ]
)
ACTION_TYPES: Mapping[str, pa.DataType] = {
    "pseudonymize": pa.string(),
    "truncate_ip": pa.string(),
    "email_domain": pa.string(),
    "clean_url": pa.string(),
    "visitor_hash": pa.string(),
    "generalize_user_agent": USER_AGENT,
}
METADATA_COLUMNS = (
    pa.field("purpose", pa.string(), nullable=False),
    pa.field("consent", pa.string(), nullable=False),
    pa.field("policy_version", pa.string(), nullable=False),
    pa.field("key_id", pa.string(), nullable=False),
)
KAFKA_COLUMNS = (
    pa.field("kafka_topic", pa.string(), nullable=False),
    pa.field("kafka_partition", pa.int32(), nullable=False),
    pa.field("kafka_offset", pa.int64(), nullable=False),
)
EVENT_DATE_FIELD = pa.field(EVENT_DATE, pa.date32(), nullable=False)
EVENT_ID = "event_id"
OCCURRED_AT = "occurred_at"
_JSON_TYPES: Mapping[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}


def output_schemas(policy: Policy, contracts: Contracts) -> dict[str, pa.Schema]:
    """The file schema of every purpose's output, by purpose name."""
    return {purpose: output_schema(policy, contracts, purpose) for purpose in policy.purposes}


def output_schema(policy: Policy, contracts: Contracts, purpose: str) -> pa.Schema:
    """The columns of one purpose's Parquet files: record fields, metadata, Kafka position."""
    tree: dict[str, Any] = {}
    for path, arrow_type in leaf_types(policy, contracts, purpose).items():
        *sections, name = path.split(".")
        node = tree
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = arrow_type
    fields = [pa.field(name, _nested(value)) for name, value in tree.items()]
    return pa.schema([*fields, *METADATA_COLUMNS, *KAFKA_COLUMNS])


def leaf_types(policy: Policy, contracts: Contracts, purpose: str) -> dict[str, pa.DataType]:
    """Every dotted field path that can reach a purpose's output, with its Arrow type."""
    types: dict[str, pa.DataType] = {}
    for event_type, purposes in sorted(policy.routes.items()):
        if purpose not in purposes:
            continue
        fields = contracts.fields(event_type)
        for consent in policy.consent_states(purpose):
            plan = policy.plan(event_type, purpose, consent)
            if plan.skips:
                continue
            paths = set()
            for rule in plan.fields or ():
                section, _, name = rule.path.rpartition(".")
                path = ".".join(filter(None, (section, RENAMED_BY.get(rule.action, name))))
                found = ACTION_TYPES.get(rule.action) or json_type(fields[rule.path], rule.path)
                types[path] = _union(types.get(path), found, f"{purpose}: {path}")
                paths.add(path)
            for needed in (EVENT_ID, OCCURRED_AT):
                if needed not in paths:
                    raise OutputSchemaError(
                        f"{purpose}: {event_type} ({consent}) drops {needed}, which the lake "
                        "needs to partition and deduplicate"
                    )
    return types


def json_type(schema: Mapping[str, Any], path: str) -> pa.DataType:
    """The Arrow type of one leaf field's JSON Schema."""
    schema = _resolve_remote(schema)
    if schema.get("format") == "date-time":
        return TIMESTAMP
    if isinstance(schema.get("type"), str) and schema["type"] in _JSON_TYPES:
        return _JSON_TYPES[schema["type"]]
    values = schema["enum"] if "enum" in schema else [schema["const"]] if "const" in schema else []
    kinds = {type(value) for value in values}
    if kinds == {str}:
        return pa.string()
    if kinds == {int}:
        return pa.int64()
    raise OutputSchemaError(f"{path}: no Arrow type for its JSON Schema")


def dataset_schema(schema: pa.Schema) -> pa.Schema:
    """A file schema plus the ``event_date`` partition column, as readers of the lake see it."""
    return schema.append(EVENT_DATE_FIELD)


def partitioning() -> ds.Partitioning:
    """Hive partitioning with ``event_date`` typed as a date, for pyarrow's dataset readers."""
    return ds.partitioning(pa.schema([EVENT_DATE_FIELD]), flavor="hive")


def _union(known: pa.DataType | None, found: pa.DataType, where: str) -> pa.DataType:
    """One type for a path that several event types fill; integers widen to floats."""
    if known is None or known == found:
        return found
    if {known, found} == {pa.int64(), pa.float64()}:
        return pa.float64()
    raise OutputSchemaError(f"{where}: is {known} in one event type and {found} in another")


def _nested(value: pa.DataType | dict[str, Any]) -> pa.DataType:
    if isinstance(value, dict):
        return pa.struct([pa.field(name, _nested(child)) for name, child in value.items()])
    return value


def _resolve_remote(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Merge a ``$ref`` to another schema file (``Contracts.fields`` resolves local ones only)."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or "#" not in ref:
        return schema
    document, _, pointer = ref.partition("#")
    target: Any = json.loads((SCHEMA_DIR / document.rsplit("/", 1)[-1]).read_text("utf-8"))
    for part in filter(None, pointer.split("/")):
        target = target[part]
    return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
