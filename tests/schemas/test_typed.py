"""The typed first check (schemas/typed.py) accepts only what the JSON Schemas accept."""

import copy

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from usage_pipeline.producers.simulator import SimulationConfig, simulate

# Strings near the edges of the contracts' patterns and formats, and valid values of other
# fields (each valid somewhere, perhaps not where it lands).
TRICKY_STRINGS = [
    "",
    "usr_1\n",
    "usr_1",
    "a" * 65,
    "ab@example.com",
    "ab@example.com\n",
    "Jane Roe <jane@example.com>",
    "jürgen@bücher.de",
    "a@b",
    "10.0.0.1",
    "010.1.1.1",
    "256.1.1.1",
    "::1",
    "fe80::1%eth0",
    "::ffff:192.0.2.1",
    "2001:db8::1\n",
    "2026-10-02T00:33:17.452Z",
    "2026-02-30T00:00:00Z",
    "2026-10-02T24:00:00Z",
    "2026-10-02T00:33:60Z",
    "2026-10-02T00:33:17+01:00",
    "2026-10-02t00:33:17Z",
    "https://www.example.com/a?b=c#d",
    "not a uri",
    "//no-scheme.example/",
    "www.example.com",
    "exa mple.com",
    "ex..ample.com",
    "-leading.example",
    "47e13fbb-bb11-4102-b396-8a504cb034e5",
    "47E13FBB-BB11-4102-B396-8A504CB034E5",
    "47e13fbbbb114102b3968a504cb034e5",
    "Mozilla/5.0\r\n",
    "traffic.web_request",
    "GET",
    "granted",
    "é\u200b",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(TRICKY_STRINGS)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children)
    ),
    max_leaves=4,
)
SECTIONS = [None, "subject", "context", "properties"]


def full_path(contracts, payload: bytes):
    """The event as the full validator sees it, or None when it refuses it."""
    event = orjson.loads(payload)
    return None if contracts.violations(event) else event


@settings(max_examples=400)
@given(data=st.data())
@example(data=None)  # the example events, unchanged
def test_the_typed_path_accepts_only_what_the_schema_accepts(contracts, examples, data):
    """Change one to three fields of an example event (set, delete, or add one); whatever the
    typed path accepts the full validator accepts too, and decodes the same."""
    event_type = "traffic.web_request" if data is None else None
    event = copy.deepcopy(examples[event_type or data.draw(st.sampled_from(sorted(examples)))])
    for _ in range(0 if data is None else data.draw(st.integers(1, 3))):
        section = data.draw(st.sampled_from(SECTIONS))
        target = event if section is None else event.setdefault(section, {})
        if not isinstance(target, dict):
            continue
        name = data.draw(st.sampled_from(sorted(target)) | st.text(max_size=6)) if target else "x"
        if data.draw(st.booleans()) and name in target:
            del target[name]
        else:
            target[name] = data.draw(json_values)
    try:
        payload = orjson.dumps(event)
    except orjson.JSONEncodeError:  # beyond 64 bits: the typed path never sees it
        return
    accepted = contracts.typed.accept(payload)
    if accepted is not None:
        assert accepted == full_path(contracts, payload)


def test_the_typed_path_accepts_every_example_and_simulated_event(contracts, examples):
    """The simulator's event mix takes the typed path: it is the stream's usual case."""
    assert contracts.typed.event_types == contracts.event_types
    for event in examples.values():
        assert contracts.typed.accept(orjson.dumps(event)) == event
    for event in simulate(SimulationConfig(events=2_000, days=3, seed=5)):
        assert contracts.typed.accept(orjson.dumps(event)) == event


def test_a_repeated_key_or_an_unknown_key_is_left_to_the_full_path(contracts, examples):
    """msgspec keeps the last of repeated keys and leaves unknown ones out: the re-encoding
    differs from the payload, so the typed path refuses and the full path names the reason."""
    raw = orjson.dumps(examples["usage.feature_used"])
    repeated = raw.replace(b'"source":', b'"source":"x","source":', 1)
    unknown = raw.replace(b'"source":', b'"sauce":"x","source":', 1)
    assert contracts.typed.accept(repeated) is None
    assert contracts.typed.accept(unknown) is None


def test_a_key_named_event_type_inside_the_event_does_not_pick_the_decoder(contracts, examples):
    """The first "event_type" key in the bytes picks the decoder; a decoder accepts only its
    own type at the top, so a nested one can only make the typed path refuse."""
    event = copy.deepcopy(examples["usage.feature_used"])
    properties = {"event_type": "traffic.web_request", **event.pop("properties")}
    payload = orjson.dumps({"properties": properties, **event})
    assert payload.index(b'"event_type":"traffic.web_request"') < payload.index(b'"event_id"')
    assert contracts.typed.accept(payload) is None
