"""Behaviour of schemas.contracts: dispatch, validation and the violations it reports."""

import datetime as dt
import pickle
import shutil

import pytest

from usage_pipeline.schemas.contracts import (
    DEFAULT_MAX_EVENT_BYTES,
    ROOT,
    SCHEMA_DIR,
    Contracts,
    ContractViolation,
    load_contracts,
)

EVENT_TYPES = (
    "account.license",
    "consent.changed",
    "email.activity",
    "support.ticket",
    "traffic.web_request",
    "usage.feature_used",
    "usage.media_played",
)


def first_violation(contracts, event) -> ContractViolation:
    with pytest.raises(ContractViolation) as excinfo:
        contracts.validate(event)
    return excinfo.value


# -- the API ---------------------------------------------------------------------------------


def test_event_types_are_the_seven_types_sorted(contracts):
    assert contracts.event_types == EVENT_TYPES


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_family_is_the_prefix_before_the_dot(contracts, event_type):
    assert contracts.family(event_type) == event_type.split(".")[0]


def test_family_of_unknown_type_is_a_violation_on_event_type(contracts):
    with pytest.raises(ContractViolation) as excinfo:
        contracts.family("usage.nope")
    assert excinfo.value.field == "event_type"
    assert "unknown event type" in excinfo.value.reason


def test_versions_lists_the_schema_versions(contracts):
    assert contracts.versions("usage.feature_used") == (1,)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_schema_returns_the_type_schema_referencing_the_envelope(contracts, event_type):
    schema = contracts.schema(event_type)
    assert schema["$id"] == f"https://usage-pipeline.dev/schemas/{event_type}.v1.json"
    assert schema["$ref"] == "https://usage-pipeline.dev/schemas/envelope.v1.json"
    assert schema["properties"]["event_type"]["const"] == event_type


def test_schema_returns_a_copy_that_callers_may_mutate(contracts, example):
    contracts.schema("usage.feature_used")["properties"].clear()
    assert contracts.schema("usage.feature_used")["properties"]
    contracts.validate(example("usage.feature_used"))


def test_schema_of_unsupported_version_is_a_violation_on_schema_version(contracts):
    with pytest.raises(ContractViolation) as excinfo:
        contracts.schema("usage.feature_used", 2)
    assert excinfo.value.field == "schema_version"


def test_load_contracts_is_a_cached_singleton():
    assert load_contracts() is load_contracts()


def test_load_reads_a_directory_of_schemas(tmp_path, example):
    for path in SCHEMA_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    contracts = Contracts.load(tmp_path)
    assert contracts.event_types == EVENT_TYPES
    contracts.validate(example("consent.changed"))


def test_load_without_envelope_fails_loudly(tmp_path):
    shutil.copy(SCHEMA_DIR / "usage.feature_used.v1.json", tmp_path)
    with pytest.raises(Exception, match=r"envelope"):
        Contracts.load(tmp_path)


def test_load_rejects_a_file_whose_id_does_not_match_its_name(tmp_path):
    for path in SCHEMA_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "usage.feature_used.v1.json").rename(tmp_path / "usage.feature_use.v1.json")
    with pytest.raises(ValueError, match=r"\$id"):
        Contracts.load(tmp_path)


def test_default_max_event_bytes_is_64_kib():
    assert DEFAULT_MAX_EVENT_BYTES == 64 * 1024


def test_violation_is_a_value_error_rendered_as_field_colon_reason():
    violation = ContractViolation("context.ip", "is not a valid IP address")
    assert isinstance(violation, ValueError)
    assert str(violation) == "context.ip: is not a valid IP address"
    assert (violation.field, violation.reason) == ("context.ip", "is not a valid IP address")


def test_violation_survives_pickling_for_multiprocess_workers():
    violation = ContractViolation("subject", "must have at least one of: account_id, user_id")
    assert pickle.loads(pickle.dumps(violation)) == violation


# -- valid events ------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_example_is_valid(contracts, examples, event_type):
    event = examples[event_type]
    assert contracts.violations(event) == []
    assert contracts.validate(event) is event


def test_there_is_one_example_per_event_type(examples):
    assert tuple(sorted(examples)) == EVENT_TYPES


@pytest.mark.parametrize(
    "ip",
    [
        "::ffff:192.0.2.1",
        "fe80::1%eth0",
        "fe80::a00:27ff:fe4e:66a1%en0",
        "2001:db8::1",
        "2001:0db8:0000:0000:0000:0000:0000:0001",
        "::1",
        "::",
        "64:ff9b::192.0.2.33",
        "192.0.2.1",
        "0.0.0.0",
        "255.255.255.255",
    ],
)
def test_ip_forms_that_are_accepted(contracts, event_with, ip):
    contracts.validate(event_with("traffic.web_request", {"context.ip": ip}))


@pytest.mark.parametrize(
    "timestamp",
    [
        "2025-03-14T09:26:53Z",
        "2025-03-14T09:26:53+00:00",
        "2025-03-14T09:26:53.5Z",
        "2025-03-14T09:26:53.123456789Z",
    ],
)
def test_utc_timestamps_that_are_accepted(contracts, event_with, timestamp):
    contracts.validate(event_with("consent.changed", {"occurred_at": timestamp}))
    contracts.validate(event_with("consent.changed", {"properties.effective_at": timestamp}))


@pytest.mark.parametrize(
    ("event_type", "changes"),
    [
        ("usage.feature_used", {"properties.duration_ms": ..., "context": ...}),
        ("usage.media_played", {"properties.program_title": ..., "subject.account_id": ...}),
        ("traffic.web_request", {"properties.page_view": ..., "properties.duration_ms": ...}),
        ("email.activity", {"properties.action": "bounced", "properties.bounce_type": "hard"}),
        ("account.license", {"properties.action": "license_checked", "properties.result": "valid"}),
        ("support.ticket", {"properties.action": "closed", "properties.resolution": "answered"}),
        ("consent.changed", {"subject.account_id": ..., "context": ...}),
        ("usage.feature_used", {"schema_version": 1.0}),
    ],
)
def test_optional_and_conditional_fields_that_are_accepted(
    contracts, event_with, event_type, changes
):
    contracts.validate(event_with(event_type, changes))


# -- one type at a time: missing field, wrong type, enum/format/range ---------------------------

TYPE_CASES = [
    # usage.feature_used
    ("usage.feature_used", {"properties.feature": ...}, "properties.feature", "is required"),
    ("usage.feature_used", {"properties.duration_ms": "12"}, "properties.duration_ms", "integer"),
    ("usage.feature_used", {"properties.duration_ms": 1.5}, "properties.duration_ms", "integer"),
    ("usage.feature_used", {"properties.duration_ms": -1}, "properties.duration_ms", "at least 0"),
    ("usage.feature_used", {"properties.service": ""}, "properties.service", "empty"),
    # usage.media_played
    ("usage.media_played", {"properties.program_id": ...}, "properties.program_id", "required"),
    ("usage.media_played", {"properties.bytes": 1.5}, "properties.bytes", "must be an integer"),
    ("usage.media_played", {"properties.mode": "streamed"}, "properties.mode", "one of"),
    ("usage.media_played", {"properties.duration_s": -0.5}, "properties.duration_s", "at least 0"),
    ("usage.media_played", {"properties.duration_s": "60"}, "properties.duration_s", "a number"),
    # traffic.web_request
    ("traffic.web_request", {"properties.status": ...}, "properties.status", "is required"),
    ("traffic.web_request", {"properties.status": 600}, "properties.status", "at most 599"),
    ("traffic.web_request", {"properties.status": 99}, "properties.status", "at least 100"),
    ("traffic.web_request", {"properties.method": "get"}, "properties.method", "GET, POST"),
    ("traffic.web_request", {"properties.page_view": "yes"}, "properties.page_view", "boolean"),
    ("traffic.web_request", {"context.url": ...}, "context.url", "is required"),
    ("traffic.web_request", {"context.ip": ...}, "context.ip", "is required"),
    ("traffic.web_request", {"context.host": ...}, "context.host", "is required"),
    ("traffic.web_request", {"context": ...}, "context", "is required"),
    ("traffic.web_request", {"context.host": "-bad-.example.com"}, "context.host", "hostname"),
    ("traffic.web_request", {"context.url": "/pricing"}, "context.url", "URI"),
    # email.activity
    ("email.activity", {"properties.recipient": ...}, "properties.recipient", "is required"),
    ("email.activity", {"properties.recipient": "sam.taylor"}, "properties.recipient", "e-mail"),
    ("email.activity", {"properties.campaign_kind": "spam"}, "properties.campaign_kind", "one of"),
    ("email.activity", {"properties.message_id": 42}, "properties.message_id", "a string"),
    (
        "email.activity",
        {"properties.action": "bounced"},
        "properties.bounce_type",
        "is required when action is bounced",
    ),
    ("email.activity", {"properties.bounce_type": "medium"}, "properties.bounce_type", "hard"),
    ("email.activity", {"properties.link_url": "not a link"}, "properties.link_url", "URI"),
    # account.license
    ("account.license", {"properties.license_id": ...}, "properties.license_id", "is required"),
    ("account.license", {"properties.seats": -1}, "properties.seats", "at least 0"),
    ("account.license", {"properties.seats": "12"}, "properties.seats", "integer"),
    ("account.license", {"properties.action": "renewed"}, "properties.action", "one of"),
    (
        "account.license",
        {"properties.quota_units": ...},
        "properties.quota_units",
        "is required when action is quota_used",
    ),
    (
        "account.license",
        {"properties.action": "license_checked"},
        "properties.result",
        "is required when action is license_checked",
    ),
    (
        "account.license",
        {"properties.billing_period": "2025-13"},
        "properties.billing_period",
        "YYYY-MM",
    ),
    ("account.license", {"properties.result": "ok"}, "properties.result", "one of"),
    # support.ticket
    ("support.ticket", {"properties.ticket_id": ...}, "properties.ticket_id", "is required"),
    ("support.ticket", {"properties.ticket_id": 104233}, "properties.ticket_id", "a string"),
    ("support.ticket", {"properties.channel": "fax"}, "properties.channel", "one of"),
    ("support.ticket", {"properties.priority": "p1"}, "properties.priority", "urgent"),
    ("support.ticket", {"properties.description": "x" * 8001}, "properties.description", "8000"),
    (
        "support.ticket",
        {"properties.resolution": "answered"},
        "properties.resolution",
        "is only allowed when action is closed",
    ),
    # consent.changed
    ("consent.changed", {"properties.effective_at": ...}, "properties.effective_at", "required"),
    (
        "consent.changed",
        {"properties.effective_at": "2025-03-14T09:15:00+01:00"},
        "properties.effective_at",
        "UTC",
    ),
    ("consent.changed", {"properties.status": "revoked"}, "properties.status", "granted"),
    ("consent.changed", {"properties.purpose": ["marketing"]}, "properties.purpose", "one of"),
    ("consent.changed", {"properties.source": "email"}, "properties.source", "one of"),
]


@pytest.mark.parametrize(
    ("event_type", "changes", "field", "reason_part"),
    TYPE_CASES,
    ids=[f"{case[0]}:{case[2]}:{case[3]}" for case in TYPE_CASES],
)
def test_type_specific_violation_names_the_field(
    contracts, event_with, event_type, changes, field, reason_part
):
    event = event_with(event_type, changes)
    violation = first_violation(contracts, event)
    assert violation.field == field
    assert reason_part in violation.reason
    assert contracts.violations(event)[0] == violation


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_type_has_at_least_three_invalid_variants_above(event_type):
    assert sum(case[0] == event_type for case in TYPE_CASES) >= 3


# -- the envelope, for every type ---------------------------------------------------------------

ENVELOPE_CASES = [
    ({"event_id": ...}, "event_id", "is required"),
    ({"event_id": "not-a-uuid"}, "event_id", "UUID"),
    ({"event_id": "3f2b8c1e9a4d4f6b8e2a1c5d7e9f0a12"}, "event_id", "UUID"),
    ({"event_id": 42}, "event_id", "a string"),
    ({"occurred_at": "2025-03-14T09:26:53+02:00"}, "occurred_at", "UTC"),
    ({"occurred_at": "2025-03-14T09:26:53-00:00"}, "occurred_at", "UTC"),
    ({"occurred_at": "2025-03-14T09:26:53"}, "occurred_at", "RFC 3339"),
    ({"occurred_at": "2025-03-14T09:26:53.1234567890Z"}, "occurred_at", "UTC"),
    ({"occurred_at": "2025-02-30T09:26:53Z"}, "occurred_at", "RFC 3339"),
    ({"occurred_at": "yesterday"}, "occurred_at", "RFC 3339"),
    ({"occurred_at": 1741944413}, "occurred_at", "a string"),
    ({"event_type": "usage.unknown"}, "event_type", "unknown event type 'usage.unknown'"),
    ({"event_type": "nonsense"}, "event_type", "unknown event type"),
    ({"event_type": ...}, "event_type", "is required"),
    ({"event_type": ["usage.feature_used"]}, "event_type", "must be a string"),
    ({"schema_version": 2}, "schema_version", "not a supported version"),
    ({"schema_version": "1"}, "schema_version", "must be an integer"),
    ({"schema_version": True}, "schema_version", "must be an integer"),
    ({"schema_version": ...}, "schema_version", "is required"),
    ({"source": ...}, "source", "is required"),
    ({"source": "Billing API"}, "source", "a-z"),
    ({"subject": {}}, "subject", "at least one of: account_id, user_id"),
    ({"subject": {"email": "jane.doe@example.com"}}, "subject", "account_id, user_id"),
    ({"subject": "usr_1"}, "subject", "an object"),
    ({"subject.user_id": "jane doe"}, "subject.user_id", "1 to 64 characters"),
    ({"subject.account_id": "a" * 65}, "subject.account_id", "1 to 64 characters"),
    ({"subject.email": "jane.doe@@example.com"}, "subject.email", "e-mail"),
    ({"subject.email": "Jane <jane.doe@example.com>"}, "subject.email", "e-mail"),
    ({"context.ip": "010.1.1.1"}, "context.ip", "is not a valid IP address"),
    ({"context.ip": "192.0.2.01"}, "context.ip", "is not a valid IP address"),
    ({"context.ip": "::ffff:010.1.1.1"}, "context.ip", "is not a valid IP address"),
    ({"context.ip": "192.0.2.256"}, "context.ip", "is not a valid IP address"),
    ({"context.ip": "fe80::1%"}, "context.ip", "is not a valid IP address"),
    ({"context.ip": "2001:db8:::1"}, "context.ip", "is not a valid IP address"),
    ({"context.ip": 3221225985}, "context.ip", "a string"),
    ({"context.user_agent": "x" * 1025}, "context.user_agent", "1024"),
    ({"context.session_id": ""}, "context.session_id", "empty"),
    ({"context.referrer": "https://www.example.com/?q=" + "x" * 2030}, "context.referrer", "2048"),
    ({"extra": 1}, ROOT, "unexpected property 'extra'"),
    ({"subject.name": "Jane"}, "subject", "unexpected property 'name'"),
    ({"context.country": "FR"}, "context", "unexpected property 'country'"),
    ({"properties.extra": True}, "properties", "unexpected property 'extra'"),
    ({"properties": []}, "properties", "an object"),
    ({"properties": ...}, "properties", "is required"),
]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize(
    ("changes", "field", "reason_part"),
    ENVELOPE_CASES,
    ids=[f"{case[1]}:{case[2]}" for case in ENVELOPE_CASES],
)
def test_envelope_violation_names_the_field(
    contracts, event_with, event_type, changes, field, reason_part
):
    event = event_with(event_type, changes)
    violation = first_violation(contracts, event)
    assert violation.field == field
    assert reason_part in violation.reason


def test_unknown_type_still_reports_the_other_envelope_problems(contracts, event_with):
    event = event_with("usage.feature_used", {"event_type": "usage.nope", "event_id": "x"})
    assert [v.field for v in contracts.violations(event)] == ["event_id", "event_type"]


def test_unknown_type_is_not_echoed_when_it_could_be_data(contracts, event_with):
    event = event_with("usage.feature_used", {"event_type": "jane.doe@example.com"})
    violation = first_violation(contracts, event)
    assert violation.reason == "unknown event type"


def test_violations_lists_every_problem_ordered_by_field(contracts, event_with):
    event = event_with(
        "usage.feature_used",
        {
            "properties.feature": ...,
            "properties.duration_ms": -5,
            "context.ip": "010.1.1.1",
            "occurred_at": "2025-03-14T09:26:53+02:00",
            "event_id": "nope",
            "zzz": 1,
        },
    )
    fields = [v.field for v in contracts.violations(event)]
    assert fields == [
        ROOT,
        "context.ip",
        "event_id",
        "occurred_at",
        "properties.duration_ms",
        "properties.feature",
    ]
    assert first_violation(contracts, event).field == ROOT


def test_a_bad_timestamp_is_reported_once_most_specific_first(contracts, event_with):
    event = event_with("usage.feature_used", {"occurred_at": "not a date"})
    assert [str(v) for v in contracts.violations(event)] == [
        "occurred_at: is not a valid RFC 3339 date-time"
    ]


def test_consent_without_any_id_reports_the_envelope_rule(contracts, event_with):
    event = event_with("consent.changed", {"subject": {}})
    assert [v.field for v in contracts.violations(event)] == ["subject"]


def test_consent_of_an_account_without_a_user_is_valid(contracts, event_with):
    event = event_with("consent.changed", {"subject.user_id": ...})
    assert contracts.violations(event) == []


def test_several_unexpected_properties_are_each_reported(contracts, event_with):
    event = event_with("usage.feature_used", {"properties.a": 1, "properties.b": 2})
    assert [v.reason for v in contracts.violations(event)] == [
        "unexpected property 'a'",
        "unexpected property 'b'",
    ]


@pytest.mark.parametrize("event", [[], "event", 42, None, ("a", 1)])
def test_a_non_object_event_is_a_violation_on_the_whole_document(contracts, event):
    violation = first_violation(contracts, event)
    assert (violation.field, violation.reason) == (ROOT, "must be a JSON object")


def test_python_values_json_cannot_hold_are_a_violation_not_a_crash(contracts, event_with):
    event = event_with(
        "usage.feature_used", {"occurred_at": dt.datetime(2025, 3, 14, tzinfo=dt.UTC)}
    )
    violation = first_violation(contracts, event)
    assert violation.field == ROOT
    assert "JSON" in violation.reason


def test_nan_in_a_python_event_is_rejected(contracts, event_with):
    event = event_with("usage.media_played", {"properties.duration_s": float("nan")})
    assert first_violation(contracts, event).field == "properties.duration_s"


def test_a_dict_subclass_is_validated_like_a_dict(contracts, examples):
    class Event(dict):
        pass

    event = Event(examples["usage.feature_used"])
    assert contracts.validate(event) is event
    event["extra"] = 1
    assert first_violation(contracts, event).field == ROOT
