"""Offsets ride on the records: the commit never passes a record the worker has not finished."""

from __future__ import annotations

from itertools import accumulate

from hypothesis import given
from hypothesis import strategies as st

from usage_pipeline.streams.worker.positions import Positions

KEY = ("raw.usage", 0)


def started(offset: int = 0, committed: int = -1) -> Positions:
    positions = Positions()
    positions.start(KEY, offset, committed)
    return positions


@given(
    gaps=st.lists(st.integers(1, 3), min_size=1, max_size=40),
    finished=st.integers(0, 40),
    end_after=st.integers(0, 3),
)
def test_the_commit_never_passes_a_record_that_is_not_done(gaps, finished, end_after):
    offsets = [offset - 1 for offset in accumulate(gaps)]  # gaps: transaction markers
    positions = started()
    accepted = [offset for offset in offsets if positions.accept(KEY, offset)]
    done, held = accepted[:finished], accepted[finished:]
    for offset in done:
        positions.done(KEY, offset)
    positions.at_end(KEY, offsets[-1] + end_after + 1)
    commit = positions.to_commit({KEY: held[0]} if held else {}, {})[KEY]
    assert all(offset < commit for offset in done)
    assert all(offset >= commit for offset in held)
    if not held:  # all done: past the trailing markers, so the group shows no lag
        assert commit == offsets[-1] + end_after + 1


@given(st.lists(st.integers(0, 50), max_size=60))
def test_a_record_is_accepted_once_whatever_the_consumer_delivers_again(delivered):
    positions = started()
    for i, offset in enumerate(delivered):
        earlier = delivered[:i]
        assert positions.accept(KEY, offset) == all(offset > seen for seen in earlier)


def test_records_of_a_partition_the_worker_does_not_own_are_not_accepted():
    positions = started()
    positions.forget(KEY)
    assert not positions.accept(KEY, 0)
    assert positions.to_commit({}, {}) == {}


def test_a_consent_partition_replaying_commits_no_less_than_its_group_offset():
    positions = started(0, committed=500)  # consent: read from the beginning, replayed to 500
    for offset in range(10):
        positions.accept(KEY, offset)
        positions.done(KEY, offset)
    assert positions.read_to(KEY) == 10  # applied: what the gate may rely on
    assert positions.to_commit({}, {KEY: 500}) == {KEY: 500}


def test_only_a_change_of_offsets_is_worth_a_commit():
    positions = started(7, committed=7)
    assert not positions.moved(positions.to_commit({}, {}))
    positions.accept(KEY, 7)
    positions.done(KEY, 7)
    offsets = positions.to_commit({}, {})
    assert positions.moved(offsets)
    positions.committed(offsets)
    assert not positions.moved(offsets)


def test_after_a_seek_the_worker_reads_on_from_what_it_accepted():
    positions = started(3)
    for offset in (3, 4, 5):
        positions.accept(KEY, offset)
    assert positions.next_offsets() == {KEY: 6}
