"""Violations never echo the offending value: they are logged and sent to dead-letter topics."""

import copy

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.schemas.contract_cases import apply_changes, load_examples
from usage_pipeline.schemas.contracts import ContractViolation, load_contracts

CONTRACTS = load_contracts()
EXAMPLES = load_examples()

# (event type, dotted path) of the fields that hold e-mail addresses and IP addresses.
EMAIL_FIELDS = [("usage.feature_used", "subject.email"), ("email.activity", "properties.recipient")]
IP_FIELDS = [("traffic.web_request", "context.ip"), ("usage.feature_used", "context.ip")]

BAD_EMAILS = [
    "jane.doe@@example.com",
    "jane.doe",
    "jane doe@example.com",
    "Jane Doe <jane.doe@example.com>",
    "jane.doe@example..com",
    "jane.doe@-example.com",
    "@example.com",
    "jane.doe@",
    "x" * 250 + "@example.com",  # valid shape, too long
]
BAD_IPS = [
    "010.1.1.1",
    "192.0.2.01",
    "192.0.2.256",
    "192.0.2",
    "192.0.2.1.5",
    "::ffff:010.1.1.1",
    "2001:db8:::1",
    "2001:db8::g",
    "fe80::1%",
    "fe80::1%eth 0",
    "192.0.2.1/24",
    "jane.doe@example.com",
]


def all_text(violation: ContractViolation) -> str:
    return " ".join([str(violation), repr(violation), *map(str, violation.args)])


def violations_with(event_type: str, path: str, value: object) -> list[ContractViolation]:
    event = apply_changes(copy.deepcopy(EXAMPLES[event_type]), {path: value})
    found = CONTRACTS.violations(event)
    with pytest.raises(ContractViolation) as excinfo:
        CONTRACTS.validate(event)
    return [*found, excinfo.value]


@pytest.mark.parametrize(("event_type", "path"), EMAIL_FIELDS)
@pytest.mark.parametrize("value", BAD_EMAILS)
def test_email_violations_do_not_echo_the_address(event_type, path, value):
    for violation in violations_with(event_type, path, value):
        assert violation.field == path
        assert value not in all_text(violation)


@pytest.mark.parametrize(("event_type", "path"), IP_FIELDS)
@pytest.mark.parametrize("value", BAD_IPS)
def test_ip_violations_do_not_echo_the_address(event_type, path, value):
    for violation in violations_with(event_type, path, value):
        assert violation.field == path
        assert value not in all_text(violation)


def distinctive(text: str) -> bool:
    """Long enough that finding it inside a reason would not be a coincidence."""
    return len(text.strip()) >= 6


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(EMAIL_FIELDS + IP_FIELDS),
    value=st.one_of(
        st.text(min_size=6, max_size=300),
        st.emails().map(lambda e: e + "@"),
        st.emails().map(lambda e: "Name <" + e + ">"),
        st.emails().map(lambda e: e.replace("@", "@@", 1)),
        st.ip_addresses(v=4).map(lambda ip: ".".join(f"{int(p):03d}" for p in str(ip).split("."))),
        st.ip_addresses(v=6).map(lambda ip: f"{ip}%"),
        st.ip_addresses().map(lambda ip: f"{ip}:8080"),
    ),
)
def test_no_violation_ever_contains_a_generated_bad_value(field, value):
    assume(distinctive(value))
    event_type, path = field
    event = apply_changes(copy.deepcopy(EXAMPLES[event_type]), {path: value})
    for violation in CONTRACTS.violations(event):
        assert value not in all_text(violation)


@settings(max_examples=100)
@given(name=st.emails())
def test_unexpected_property_names_that_could_be_data_are_not_echoed(name):
    event = copy.deepcopy(EXAMPLES["usage.feature_used"])
    event["properties"][name] = 1
    event["subject"][name] = 1
    event[name] = 1
    violations = CONTRACTS.violations(event)
    assert {v.reason for v in violations} == {"unexpected property"}
    for violation in violations:
        assert name not in all_text(violation)


@settings(max_examples=100)
@given(value=st.emails())
def test_an_event_type_that_could_be_data_is_not_echoed(value):
    event = copy.deepcopy(EXAMPLES["usage.feature_used"])
    event["event_type"] = value
    for violation in CONTRACTS.violations(event):
        assert value not in all_text(violation)


@settings(max_examples=100)
@given(value=st.emails())
def test_decoding_errors_do_not_echo_the_document(value):
    raw = orjson.dumps({"subject": {"email": value}})
    for broken in (raw[:-2], raw + b"x", raw.replace(b":", b" ", 1)):
        with pytest.raises(ContractViolation) as excinfo:
            CONTRACTS.parse(broken)
        assert value not in all_text(excinfo.value)
        assert excinfo.value.__context__ is None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("subject.user_id", "jane doe@example.com"),
        ("subject.account_id", "192.0.2.44 " * 10),
        ("context.session_id", "jane.doe@example.com" * 10),
        ("context.user_agent", "Mozilla/5.0 jane.doe@example.com " * 40),
        ("occurred_at", "2025-03-14T09:26:53+02:00"),
        ("source", "jane.doe@example.com"),
        ("properties.feature", "jane.doe@example.com" * 10),
        ("context.host", "jane.doe@example.com"),
        ("context.url", "jane.doe@example.com"),
    ],
)
def test_other_field_violations_do_not_echo_the_value(path, value):
    for violation in violations_with("usage.feature_used", path, value):
        assert violation.field == path
        assert value not in all_text(violation)
