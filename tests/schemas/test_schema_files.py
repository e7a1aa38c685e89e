"""The schema files themselves: standard 2020-12, documented, closed, portable."""

import copy
import ipaddress
import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.schemas.contract_cases import apply_changes, load_examples
from usage_pipeline.schemas.contracts import SCHEMA_DIR, load_contracts
from usage_pipeline.schemas.violations import PATTERN_REASONS

BASE = "https://usage-pipeline.dev/schemas/"
ENVELOPE_ID = BASE + "envelope.v1.json"
DOCUMENTS = {path.name: json.loads(path.read_text()) for path in sorted(SCHEMA_DIR.glob("*.json"))}
EVENT_SCHEMAS = {name: doc for name, doc in DOCUMENTS.items() if name != "envelope.v1.json"}
ENVELOPE = DOCUMENTS["envelope.v1.json"]
IP_ADDRESS = ENVELOPE["$defs"]["ip_address"]


def walk(node: object, path: str = "") -> Iterator[tuple[str, object]]:
    """Every (JSON pointer, value) pair in a document."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


def field_schemas(schema: object, path: str = "") -> Iterator[tuple[str, dict]]:
    """Every schema that describes a named field (values of `properties` maps and `$defs`)."""
    if not isinstance(schema, dict):
        return
    for keyword in ("properties", "$defs"):
        for name, subschema in schema.get(keyword, {}).items():
            yield f"{path}/{keyword}/{name}", subschema
            yield from field_schemas(subschema, f"{path}/{keyword}/{name}")
    for keyword in ("then", "else", "not", "items", "additionalProperties"):
        yield from field_schemas(schema.get(keyword), f"{path}/{keyword}")
    for keyword in ("allOf", "anyOf", "oneOf"):
        for index, subschema in enumerate(schema.get(keyword, [])):
            yield from field_schemas(subschema, f"{path}/{keyword}/{index}")
    # `if` only repeats field names to test them; it defines no field.


def test_there_is_an_envelope_and_seven_event_schemas():
    assert len(EVENT_SCHEMAS) == 7
    assert "envelope.v1.json" in DOCUMENTS


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_file_is_a_valid_2020_12_schema_with_an_id_matching_its_name(name):
    doc = DOCUMENTS[name]
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"] == BASE + name
    assert jsonschema_rs.meta.is_valid(doc)
    assert doc["title"]
    assert doc["description"]


@pytest.mark.parametrize("name", EVENT_SCHEMAS)
def test_every_event_schema_references_the_envelope_by_id(name):
    doc = EVENT_SCHEMAS[name]
    assert doc["$ref"] == ENVELOPE_ID
    event_type = name.removesuffix(".v1.json")
    assert doc["properties"]["event_type"]["const"] == event_type
    assert doc["properties"]["schema_version"]["const"] == 1


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_field_has_a_description(name):
    # A boolean `false` forbids a field in a branch; the field's own schema documents it.
    missing = [
        path
        for path, schema in field_schemas(DOCUMENTS[name])
        if not isinstance(schema, bool) and not schema.get("description")
    ]
    assert missing == []


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_object_with_fields_rejects_unknown_properties(name):
    open_objects = [
        path
        for path, node in walk(DOCUMENTS[name])
        if isinstance(node, dict)
        and node.get("type") == "object"
        and "properties" in node
        and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


@pytest.mark.parametrize("name", EVENT_SCHEMAS)
def test_the_properties_of_every_event_type_are_closed(name):
    properties = EVENT_SCHEMAS[name]["properties"]["properties"]
    assert properties["type"] == "object"
    assert properties["additionalProperties"] is False


def test_envelope_objects_are_closed():
    assert ENVELOPE["additionalProperties"] is False
    for field in ("subject", "context"):
        assert ENVELOPE["properties"][field]["additionalProperties"] is False


def test_free_text_description_is_documented_as_never_kept():
    schema = EVENT_SCHEMAS["support.ticket.v1.json"]["properties"]["properties"]
    assert (
        "free text: never kept past the stream"
        in schema["properties"]["description"]["description"].lower()
    )


def all_patterns() -> list[tuple[str, str, str]]:
    return [
        (name, path, node["pattern"])
        for name, doc in DOCUMENTS.items()
        for path, node in walk(doc)
        if isinstance(node, dict) and isinstance(node.get("pattern"), str)
    ]


@pytest.mark.parametrize(("name", "path", "pattern"), all_patterns())
def test_patterns_are_anchored_and_portable(name, path, pattern):
    assert pattern.startswith("^")
    assert pattern.endswith("$")
    # Stick to the subset every regex dialect reads the same way (ECMA-262, RE2, Rust, Java):
    # no \d or \w (Unicode-aware in some engines), no lookaround, no backreferences.
    assert not re.search(r"\\[dDwWsSbB]|\(\?[=!<]|\\[1-9]", pattern)
    re.compile(pattern)


@pytest.mark.parametrize(("name", "path", "pattern"), all_patterns())
def test_every_pattern_has_a_readable_reason_unless_inside_the_ip_rule(name, path, pattern):
    if "/$defs/ip_address/" in path:
        return
    assert pattern in PATTERN_REASONS


def test_ipv4_format_alone_already_rejects_leading_zeros_and_the_schema_pins_it_too():
    # jsonschema-rs's own `ipv4` format rejects 010.1.1.1, but `format` is only an annotation
    # by default in 2020-12, so the schema also carries a pattern that any validator enforces.
    assert not jsonschema_rs.validator_for({"format": "ipv4"}, validate_formats=True).is_valid(
        "010.1.1.1"
    )
    for branch in IP_ADDRESS["anyOf"]:
        assert re.fullmatch(branch["pattern"], "010.1.1.1") is None
        assert re.fullmatch(branch["pattern"], "::ffff:010.1.1.1") is None


# -- the examples ------------------------------------------------------------------------------

EXAMPLES = load_examples()
DOCUMENTATION_NETWORKS = [
    ipaddress.ip_network("192.0.2.0/24"),
    ipaddress.ip_network("2001:db8::/32"),
]


def example_addresses(event: dict) -> Iterator[str]:
    for _, value in walk(event):
        if isinstance(value, str):
            yield value


@pytest.mark.parametrize("event_type", EXAMPLES)
def test_examples_only_use_documentation_domains_and_addresses(event_type):
    event = EXAMPLES[event_type]
    context = event.get("context", {})
    for url in (context.get("url"), context.get("referrer"), event["properties"].get("link_url")):
        if url:
            assert urlsplit(url).hostname.endswith((".example.com", ".example.net"))
    if "host" in context:
        assert context["host"].endswith((".example.com", ".example.net"))
    for value in example_addresses(event):
        if "@" in value:
            assert value.rstrip(">").endswith(("example.com", "example.net"))
    if "ip" in context:
        address = ipaddress.ip_address(context["ip"])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        assert any(address in network for network in DOCUMENTATION_NETWORKS)


# -- the IP rule against Python's ipaddress (which rejects IPv4 leading zeros since 3.9.5) ------

CONTRACTS = load_contracts()
ZONE = re.compile(r"[A-Za-z0-9._~-]{1,64}")


def accepted(ip: str) -> bool:
    event = apply_changes(copy.deepcopy(EXAMPLES["traffic.web_request"]), {"context.ip": ip})
    return not CONTRACTS.violations(event)


def reference(ip: str) -> bool:
    address, _, zone = ip.partition("%")
    if "%" in ip and (not ZONE.fullmatch(zone) or ":" not in address):
        return False
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return False
    return True


@settings(max_examples=300)
@given(
    ip=st.one_of(
        st.ip_addresses().map(str),
        st.ip_addresses(v=6).map(lambda a: a.exploded),
        st.ip_addresses(v=6).map(lambda a: a.exploded.upper()),
        st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
        st.ip_addresses(v=4).map(lambda a: f"64:ff9b::{a}"),
        st.tuples(st.ip_addresses(v=6), st.from_regex(ZONE, fullmatch=True)).map(
            lambda t: f"{t[0]}%{t[1]}"
        ),
    )
)
def test_every_address_python_accepts_is_accepted(ip):
    assert reference(ip)
    assert accepted(ip)


@settings(max_examples=300)
@given(
    octets=st.lists(st.integers(0, 255), min_size=4, max_size=4),
    padded=st.integers(0, 3),
    width=st.integers(2, 3),
)
def test_ipv4_with_a_leading_zero_is_rejected(octets, padded, width):
    parts = [str(o) for o in octets]
    parts[padded] = parts[padded].rjust(width, "0")
    if parts[padded] == str(octets[padded]):
        parts[padded] = "0" + parts[padded]
    ip = ".".join(parts)
    assert not reference(ip)
    assert not accepted(ip)
    assert not accepted(f"::ffff:{ip}")


@settings(max_examples=500)
@given(ip=st.text(alphabet="0123456789abcdefABCDEF:.%", min_size=1, max_size=46))
def test_the_ip_rule_agrees_with_python_on_arbitrary_strings(ip):
    assert accepted(ip) == reference(ip)
