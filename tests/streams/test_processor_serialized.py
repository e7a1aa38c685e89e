"""A clean record's JSON with its trailer put in place of the closing brace: orjson's bytes."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from usage_pipeline.streams.processor import serialized

TRAILER_NAMES = ("purpose", "consent", "policy_version", "key_id")
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
values = st.recursive(
    scalars, lambda inner: st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8
)
records = st.dictionaries(
    st.text(max_size=10).filter(lambda name: name not in TRAILER_NAMES), values, max_size=6
)
trailers = st.fixed_dictionaries({name: st.text(max_size=12) for name in TRAILER_NAMES})


@given(record=records, trailer=trailers)
def test_a_record_and_its_trailer_are_the_json_of_the_record_with_the_trailer_last(record, trailer):
    tail = b"," + orjson.dumps(trailer)[1:]
    assert serialized(record, tail) == orjson.dumps({**record, **trailer})


@given(record=records.filter(bool))
def test_a_closing_brace_as_tail_leaves_the_record_as_it_is(record):
    assert serialized(record, b"}") == orjson.dumps(record)
