"""A stage runs with start-up objects frozen and a high young threshold, and the process gets
its collector settings back afterwards, even when the stage fails."""

from __future__ import annotations

import gc

import pytest

from usage_pipeline.streams.gc_rare import rare_collections


def test_start_up_objects_are_frozen_and_collections_rare_while_the_stage_runs():
    before = gc.get_threshold()
    with rare_collections(100_000):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (100_000, *before[1:])
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_settings_come_back_when_the_stage_fails():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), rare_collections(50_000):
        raise RuntimeError("stage failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
