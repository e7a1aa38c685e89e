"""The sink's batch bookkeeping: which consumed offsets it may still write, and how fast it
reads (busy or at rest)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from usage_pipeline.streams.sink.sink import ReadRate, unseen_offsets


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


def test_the_read_rate_is_zero_one_window_after_the_last_record():
    rate = ReadRate(window=2.0, now=0.0)
    rates = [rate.per_second(n / 2, n * 1000) for n in range(1, 21)]  # 1,000 every 0.5 s
    assert rates[3:] == [2000.0] * 17
    assert rate.per_second(11.5, 20_000) == 500.0  # the last 2 s held one round
    assert rate.per_second(12.0, 20_000) == 0.0


def test_the_first_records_count_over_a_whole_window():
    rate = ReadRate(window=2.0, now=0.0)
    assert rate.per_second(0.1, 500) == 250.0


def test_a_round_longer_than_the_window_is_measured_over_its_length():
    rate = ReadRate(window=2.0, now=0.0)
    rate.per_second(1.0, 100)
    assert rate.per_second(6.0, 1100) == 200.0
