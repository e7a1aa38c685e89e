"""The offset ledger: the worker commits only positions below which every record was processed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.offsets import Gap, OffsetLedger, SourceRecord

TOPIC = "raw.usage"


def records(*offsets: int, partition: int = 0) -> list[SourceRecord]:
    return [SourceRecord(TOPIC, partition, offset, None, b"{}") for offset in offsets]


def started_at(position: int, partition: int = 0) -> OffsetLedger:
    ledger = OffsetLedger()
    ledger.start_from({(TOPIC, partition): position})
    return ledger


def test_contiguous_records_from_the_committed_offset_leave_no_gap():
    ledger = started_at(10)
    batch = records(10, 11, 12)
    assert ledger.gaps(batch) == []
    ledger.advance(batch)
    assert ledger.committable() == {(TOPIC, 0): 13}


def test_a_jump_past_unprocessed_records_is_reported_as_a_gap():
    ledger = started_at(218)
    assert ledger.gaps(records(285, 286)) == [Gap(TOPIC, 0, 218, 285)]


def test_a_jump_inside_a_batch_is_reported():
    assert started_at(0).gaps(records(0, 1, 5, 6)) == [Gap(TOPIC, 0, 2, 5)]


def test_records_delivered_again_after_a_seek_are_not_gaps():
    ledger = started_at(0)
    ledger.advance(records(0, 1, 2, 3))
    assert ledger.gaps(records(1, 2, 3, 4)) == []


def test_the_position_never_moves_back_when_old_records_are_processed_again():
    ledger = started_at(0)
    ledger.advance(records(0, 1, 2, 3))
    ledger.advance(records(1, 2))
    assert ledger.committable() == {(TOPIC, 0): 4}


def test_records_not_yet_flushed_are_not_committable():
    ledger = started_at(7)
    ledger.gaps(records(7, 8))
    assert ledger.committable() == {}


def test_a_gap_read_back_empty_from_a_compacted_topic_is_passed():
    ledger = started_at(0)
    batch = records(0, 9)
    gaps = ledger.gaps(batch)
    ledger.advance(batch, gaps)
    assert ledger.committable() == {(TOPIC, 0): 10}


def test_committed_positions_are_not_offered_again():
    ledger = started_at(0)
    ledger.advance(records(0, 1))
    ledger.committed(ledger.committable())
    assert ledger.committable() == {}
    ledger.advance(records(2))
    assert ledger.committable() == {(TOPIC, 0): 3}


def test_a_partition_without_a_start_position_is_refused_rather_than_guessed():
    with pytest.raises(KeyError):
        OffsetLedger().gaps(records(40, 41, partition=2))


def test_start_positions_do_not_move_a_partition_already_in_progress():
    ledger = started_at(0)
    ledger.advance(records(0, 1, 2))
    ledger.start_from({(TOPIC, 0): 0})
    assert ledger.gaps(records(3)) == []


deliveries = st.lists(
    st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=12), max_size=12
)


@given(deliveries, st.integers(min_value=0, max_value=20))
def test_no_committable_position_passes_a_record_that_was_never_processed(batches, start):
    """Whatever the consumer delivers (jumps, repeats, going back), with gaps read back from
    the log, every offset below a committable position was processed or was below the start."""
    log_end = 61
    ledger = started_at(start)
    processed: set[int] = set()
    for delivered in batches:
        batch = records(*delivered)
        gaps = ledger.gaps(batch)
        read_back = [o for gap in gaps for o in range(gap.start, gap.end)]
        processed.update(delivered, read_back)
        ledger.advance(batch + records(*read_back), gaps)
        for position in ledger.committable().values():
            assert set(range(start, min(position, log_end))) <= processed


def test_partitions_without_a_position_are_named_so_the_worker_can_look_them_up():
    ledger = started_at(0)
    assert ledger.unknown(records(0) + records(5, partition=1)) == {(TOPIC, 1)}


def test_a_lost_partition_is_forgotten_and_not_committed():
    ledger = started_at(0)
    ledger.advance(records(0, 1))
    ledger.forget([(TOPIC, 0)])
    assert ledger.committable() == {}
    assert ledger.unknown(records(2)) == {(TOPIC, 0)}
