"""Each output's Arrow schema agrees with the contracts in schemas/ and with the policy."""

from __future__ import annotations

import datetime as dt
from array import array

import orjson
import pyarrow as pa
import pytest

from tests.streams.sink.conftest import GRANTED_ALL, POLICY, REPO
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymize.user_agent import generalize_user_agent
from usage_pipeline.streams.anonymizer import RENAMED_BY, Anonymizer
from usage_pipeline.streams.deadletter import Source
from usage_pipeline.streams.policy.model import Consent
from usage_pipeline.streams.processor import Processor
from usage_pipeline.streams.sink.arrow_schema import (
    USER_AGENT,
    OutputSchemaError,
    json_type,
    output_schema,
    output_schemas,
)
from usage_pipeline.streams.sink.convert import Converter, event_dates
from usage_pipeline.streams.sink.errors import RecordError

CONTRACTS = load_contracts()
SCHEMAS = output_schemas(POLICY, CONTRACTS)
COMPATIBLE = {
    "string": pa.types.is_string,
    "integer": pa.types.is_int64,
    "number": pa.types.is_float64,
    "boolean": pa.types.is_boolean,
}


def column_type(schema: pa.Schema, path: str) -> pa.DataType:
    first, *rest = path.split(".")
    arrow_type = schema.field(first).type
    for name in rest:
        arrow_type = arrow_type.field(name).type
    return arrow_type


def admitted_fields():
    for event_type, purposes in POLICY.routes.items():
        for purpose in purposes:
            for consent in POLICY.consent_states(purpose):
                plan = POLICY.plan(event_type, purpose, consent)
                for rule in plan.fields or ():
                    yield event_type, purpose, rule


@pytest.mark.parametrize(
    ("event_type", "purpose", "rule"),
    list(admitted_fields()),
    ids=lambda v: getattr(v, "path", v),
)
def test_every_field_the_policy_lets_out_has_a_column_of_a_compatible_type(
    event_type, purpose, rule
):
    section, _, name = rule.path.rpartition(".")
    path = ".".join(filter(None, (section, RENAMED_BY.get(rule.action, name))))
    arrow_type = column_type(SCHEMAS[purpose], path)
    if rule.action == "generalize_user_agent":
        assert arrow_type == USER_AGENT
    elif rule.action != "keep":
        assert pa.types.is_string(arrow_type)
    else:
        schema = CONTRACTS.fields(event_type)[rule.path]
        if schema.get("format") == "date-time" or "$ref" in schema:
            assert arrow_type == pa.timestamp("us", tz="UTC")
        elif "type" in schema:
            assert COMPATIBLE[schema["type"]](arrow_type) or (
                schema["type"] == "integer" and pa.types.is_float64(arrow_type)
            )
        else:
            assert pa.types.is_string(arrow_type)  # an enum of strings


def test_no_output_has_a_column_its_policy_never_fills():
    admitted = {(p, r.path.split(".")[0]) for _, p, r in admitted_fields()}
    for purpose, schema in SCHEMAS.items():
        record_sections = {f.name for f in schema} - {
            "purpose", "consent", "policy_version", "key_id",
            "kafka_topic", "kafka_partition", "kafka_offset",
        }  # fmt: skip
        assert record_sections == {s for p, s in admitted if p == purpose}


def test_traffic_has_no_subject_and_a_visitor_id_instead_of_an_ip():
    traffic = SCHEMAS["traffic"]
    assert "subject" not in traffic.names
    context = traffic.field("context").type
    assert context.get_field_index("visitor_id") >= 0
    assert context.get_field_index("ip") < 0


def test_user_agent_struct_matches_what_the_anonymizer_writes():
    assert set(generalize_user_agent("curl/8.0")) == {f.name for f in USER_AGENT}


def test_timestamps_counts_and_kafka_position_are_typed():
    service = SCHEMAS["service"]
    assert service.field("occurred_at").type == pa.timestamp("us", tz="UTC")
    assert column_type(service, "properties.effective_at") == pa.timestamp("us", tz="UTC")
    assert column_type(service, "properties.seats") == pa.int64()
    assert column_type(service, "properties.duration_s") == pa.float64()
    assert service.field("kafka_partition").type == pa.int32()
    assert service.field("kafka_offset").type == pa.int64()


def test_a_policy_that_drops_occurred_at_cannot_have_a_lake_schema():
    plans = dict(POLICY.plans)
    key = ("usage.feature_used", "service", Consent.NOT_REQUIRED)
    plan = plans[key]
    fields = tuple(r for r in plan.fields if r.path != "occurred_at")
    plans[key] = type(plan)(plan.event_type, plan.purpose, plan.consent, fields)
    broken = type(POLICY)(POLICY.version, POLICY.parameters, POLICY.purposes, POLICY.routes, plans)
    with pytest.raises(OutputSchemaError, match="occurred_at"):
        output_schema(broken, CONTRACTS, "service")


def test_unknown_json_schema_is_an_error():
    with pytest.raises(OutputSchemaError, match=r"x\.y"):
        json_type({"type": "array"}, "x.y")


def convert(schema: pa.Schema, values: list[bytes], partition: int, offsets) -> pa.Table:
    """Convert records as the sink buffers them: one value a line, offsets as int64."""
    lines = b"".join(value + b"\n" for value in values)
    return Converter(schema).to_table(lines, "t", partition, array("q", offsets))


def example_records() -> dict[str, list[bytes]]:
    processor = Processor(Anonymizer(POLICY, Pseudonymizer(b"k" * 32, "t")), CONTRACTS)
    by_purpose: dict[str, list[bytes]] = {}
    for example in sorted((REPO / "schemas" / "examples").glob("*.json")):
        for state in (None, GRANTED_ALL):
            outcome = processor.process(
                example.read_bytes(), Source("raw", 0, 0), lambda _s, c=state: c
            )
            for output in outcome.outputs:
                purpose = orjson.loads(output.value).get("purpose")
                if purpose:
                    by_purpose.setdefault(purpose, []).append(output.value)
    return by_purpose


def test_every_example_event_converts_for_every_output_it_reaches():
    records = example_records()
    assert set(records) == set(SCHEMAS)
    for purpose, values in records.items():
        table = convert(SCHEMAS[purpose], values, 1, range(len(values)))
        assert table.schema == SCHEMAS[purpose]
        assert table.num_rows == len(values)
        assert table["kafka_offset"].to_pylist() == list(range(len(values)))
        ids = [orjson.loads(v)["event_id"] for v in values]
        assert table["event_id"].to_pylist() == ids


def test_rfc3339_variants_become_utc_microseconds():
    values = [
        b'{"event_id":"a","occurred_at":"2026-11-24T23:59:59.123456789Z"}',
        b'{"event_id":"b","occurred_at":"2026-11-24T10:00:00+00:00"}',
        b'{"event_id":"c","occurred_at":"2300-01-01T00:00:00.5Z"}',
    ]
    meta = b',"purpose":"p","consent":"c","policy_version":"v","key_id":"k"}'
    values = [v[:-1] + meta for v in values]
    schema = pa.schema(
        [("event_id", pa.string()), ("occurred_at", pa.timestamp("us", tz="UTC"))]
        + [(n, pa.string(), False) for n in ("purpose", "consent", "policy_version", "key_id")]
        + [("kafka_topic", pa.string(), False), ("kafka_partition", pa.int32(), False)]
        + [("kafka_offset", pa.int64(), False)]
    )
    table = convert(schema, values, 0, [0, 1, 2])
    utc = dt.UTC
    assert table["occurred_at"].to_pylist() == [
        dt.datetime(2026, 11, 24, 23, 59, 59, 123456, tzinfo=utc),
        dt.datetime(2026, 11, 24, 10, 0, tzinfo=utc),
        dt.datetime(2300, 1, 1, 0, 0, 0, 500000, tzinfo=utc),
    ]
    assert event_dates(table).to_pylist()[0] == dt.date(2026, 11, 24)


def test_a_record_with_a_field_the_schema_lacks_stops_the_sink():
    value = example_records()["traffic"][0]
    record = orjson.loads(value)
    record["context"]["ip"] = "192.0.2.1"  # traffic must never carry an IP
    with pytest.raises(RecordError, match="t partition 0 offsets 7-7"):
        convert(SCHEMAS["traffic"], [orjson.dumps(record)], 0, [7])


def test_a_record_without_occurred_at_has_no_partition_and_stops_the_sink():
    record = orjson.loads(example_records()["traffic"][0])
    del record["occurred_at"]
    table = convert(SCHEMAS["traffic"], [orjson.dumps(record)], 0, [3])
    with pytest.raises(RecordError, match="without occurred_at"):
        event_dates(table)
