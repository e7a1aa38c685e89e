"""The sink's batch bookkeeping: which consumed offsets it may still write."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from usage_pipeline.streams.sink.sink import unseen_offsets


def one_at_a_time(offsets: list[int], next_offset: int) -> list[bool]:
    """The rule record by record: keep an offset past the last one kept, then move past it."""
    kept = []
    for offset in offsets:
        kept.append(offset >= next_offset)
        if kept[-1]:
            next_offset = offset + 1
    return kept


@given(st.lists(st.integers(0, 60), min_size=1, max_size=40), st.integers(0, 60))
def test_a_batch_keeps_exactly_the_offsets_the_record_by_record_rule_keeps(offsets, next_offset):
    mask = unseen_offsets(np.array(offsets, dtype=np.int64), next_offset)
    assert mask.tolist() == one_at_a_time(offsets, next_offset)


def test_offsets_read_again_after_a_seek_back_are_not_written_twice():
    mask = unseen_offsets(np.array([5, 6, 7, 3, 4, 8], dtype=np.int64), 5)
    assert mask.tolist() == [True, True, True, False, False, True]
