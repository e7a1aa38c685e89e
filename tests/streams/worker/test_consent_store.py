"""Consent state per partition, packed: what is put is what is looked up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from usage_pipeline.streams.consent import GRANTED, WITHDRAWN
from usage_pipeline.streams.worker.consent_store import ConsentStore

decisions = st.dictionaries(
    st.sampled_from(["analytics", "marketing", "partner_sharing", "a_new_purpose"]),
    st.tuples(st.sampled_from([GRANTED, WITHDRAWN]), st.integers(-(2**55), 2**55)).map(list),
    min_size=1,
)


@given(st.dictionaries(st.text(min_size=1, max_size=12), decisions, max_size=20))
def test_a_packed_state_reads_back_as_it_was_put(states):
    store = ConsentStore()
    store.start(0, replay_until=0)
    for subject, state in states.items():
        store.put(0, subject, state)
    lookup = store.lookup(0)
    assert {subject: lookup(subject) for subject in states} == states
    assert store.subjects() == len(states)


def test_an_erased_subject_has_no_state_and_an_unknown_one_neither():
    store = ConsentStore()
    store.start(3, replay_until=10)
    store.put(3, "usr_a", {"marketing": [GRANTED, 5]})
    store.put(3, "usr_a", None)
    assert store.lookup(3)("usr_a") is None
    assert store.lookup(3)("usr_b") is None


def test_records_below_the_group_offset_are_replayed_and_a_dropped_partition_is_gone():
    store = ConsentStore()
    store.start(1, replay_until=7)
    assert store.is_replay(1, 6) and not store.is_replay(1, 7)
    assert store.rebuilding({1: 3}) == 1 and store.rebuilding({1: 7}) == 0
    store.drop(1)
    assert not store.owns(1)
