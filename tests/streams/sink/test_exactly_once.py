"""On the real broker: every clean record lands in the lake once, whatever crashes when."""

from __future__ import annotations

import itertools
import threading
from collections import Counter

import orjson
import pytest
from confluent_kafka import Producer

import usage_pipeline.streams.sink.sink as sink_module
import usage_pipeline.streams.sink.writer as writer
from tests.streams.sink.conftest import Produced, expected_rows, lake_rows
from usage_pipeline.broker.clients import producer_config
from usage_pipeline.broker.config import ProducerSettings
from usage_pipeline.streams.sink.layout import LakeLayout, parse_file_name

pytestmark = pytest.mark.kafka


class Crash(BaseException):
    """Stands for the process dying at this point."""


def assert_lake_holds_exactly(env, produced):
    assert lake_rows(env.rows()) == expected_rows(produced)
    layout = LakeLayout(env.lake)
    assert not any(layout.tmp_dir.iterdir()), "temporary files left behind"
    assert not any(layout.intent_dir.iterdir()), "unfinished flush intents left behind"
    by_folder = {}
    for path in sorted((env.lake / "clean").rglob("*.parquet")):
        found = parse_file_name(path.name)
        by_folder.setdefault((path.parent, found.topic, found.partition), []).append(found)
    for found in by_folder.values():  # a day holds an offset in one file only
        assert all(a.end < b.start for a, b in itertools.pairwise(found))


def test_every_record_lands_once_and_duplicates_by_event_id_are_dropped(sink_env, make_outputs):
    outputs = make_outputs(sink_env.namespace)
    produced = sink_env.produce(outputs + outputs[:200])  # the stream delivered 200 twice
    stats = sink_env.run(flush_rows=500)
    assert_lake_holds_exactly(sink_env, produced)
    assert stats.duplicates == 200
    assert stats.rows == len(outputs)


def test_replay_never_adds_a_row_twice(sink_env, make_outputs):
    outputs = make_outputs(sink_env.namespace)
    produced = sink_env.produce(outputs)
    sink_env.run(flush_rows=400)
    again = sink_env.run(flush_rows=400, group_id="another-group")  # reads everything again
    assert again.records == 0  # resumed after the highest offset on disk
    produced += sink_env.produce(outputs[:300])  # the stream repeats itself later on
    late = sink_env.run(flush_rows=400)
    assert (late.records, late.rows, late.duplicates) == (300, 0, 300)
    assert_lake_holds_exactly(sink_env, produced)


def produce_in_transactions(env, batches):
    """Publish each (records, commit?) batch in its own transaction, as the stream stage does;
    where the records of the committed ones went."""
    stored: list[Produced] = []
    settings = ProducerSettings(delivery_timeout_ms=30_000)  # within the transaction timeout
    config = producer_config(env.bootstrap, settings, "sink-tests-tx")
    producer = Producer({**config, "transactional.id": f"{env.namespace}tx"})
    producer.init_transactions(30)
    for outputs, commit in batches:
        delivered: list[Produced] = []

        def note(error, message, delivered=delivered) -> None:
            assert error is None, error
            event_id = orjson.loads(message.value())["event_id"]
            delivered.append(
                Produced(message.topic(), message.partition(), message.offset(), event_id)
            )

        producer.begin_transaction()
        for output in outputs:
            producer.produce(output.topic, output.value, key=output.key, on_delivery=note)
        producer.flush(30)
        if commit:
            producer.commit_transaction(30)
            stored += delivered
        else:
            producer.abort_transaction(30)
    return stored


def test_only_committed_transactions_reach_the_lake_and_marker_offsets_are_no_loss(
    sink_env, make_outputs
):
    outputs = make_outputs(sink_env.namespace)
    batches = [(outputs[i : i + 300], i % 600 == 0) for i in range(0, len(outputs), 300)]
    produced = produce_in_transactions(sink_env, batches)
    stats = sink_env.run(flush_rows=250)
    assert_lake_holds_exactly(sink_env, produced)
    assert stats.records == len(produced)  # aborted records were never delivered
    offsets = sorted((p.topic, p.partition, p.offset) for p in produced)
    gaps = [b for a, b in itertools.pairwise(offsets) if a[:2] == b[:2] and b[2] != a[2] + 1]
    assert gaps, "transaction markers and aborted records leave offsets without a row"
    again = sink_env.run(flush_rows=250)
    assert again.records == 0  # resumed after the files' last offsets, gaps or not


def crash_before_intent(monkeypatch):
    """Temporary files written and fsynced, no intent yet: they must be discarded."""
    monkeypatch.setattr(writer, "_write_atomically", raising)


def crash_after_intent(monkeypatch):
    """Intent written, nothing renamed: the next run finishes the renames."""
    monkeypatch.setattr(writer, "_apply", raising)


def crash_between_renames(monkeypatch):
    """Intent written, the first file renamed, the others not."""
    real = writer.publish
    calls = []

    def publish(source, target):
        calls.append(target)
        if target.suffix == ".parquet" and sum(c.suffix == ".parquet" for c in calls) == 2:
            raise Crash
        real(source, target)

    monkeypatch.setattr(writer, "publish", publish)


def crash_before_commit(monkeypatch):
    """Files renamed, offsets not committed: the next run resumes from the files."""
    real = writer.write_files

    def write_files(*args):
        real(*args)
        raise Crash

    monkeypatch.setattr(sink_module, "write_files", write_files)


def crash_after_commit(monkeypatch):
    """A few flushes committed, then the process dies with records buffered."""
    real = sink_module.LakeSink._flush
    calls = []

    def flush(self, key):
        real(self, key)
        calls.append(key)
        if len(calls) == 3:
            raise Crash

    monkeypatch.setattr(sink_module.LakeSink, "_flush", flush)


def raising(*_args, **_kwargs):
    raise Crash


# What each crash leaves on disk: (temporary files, an intent, renamed data files).
CRASH_STATE = {
    crash_before_intent: (True, False, False),
    crash_after_intent: (True, True, False),
    crash_between_renames: (True, True, True),
    crash_before_commit: (False, False, True),
    crash_after_commit: (False, False, True),
}


@pytest.mark.parametrize(
    "crash",
    [
        crash_before_intent,
        crash_after_intent,
        crash_between_renames,
        crash_before_commit,
        crash_after_commit,
    ],
)
def test_next_run_converges_after_a_crash(sink_env, make_outputs, monkeypatch, crash):
    outputs = make_outputs(sink_env.namespace)
    produced = sink_env.produce(outputs + outputs[:100])
    with monkeypatch.context() as patch:
        crash(patch)
        with pytest.raises(Crash):
            sink_env.run(flush_rows=300)
    layout = LakeLayout(sink_env.lake)
    temporaries = list(layout.tmp_dir.glob("*.tmp"))
    intents = list(layout.intent_dir.glob("*.json"))
    renamed = list((sink_env.lake / "clean").rglob("*.parquet"))
    assert CRASH_STATE[crash] == (bool(temporaries), bool(intents), bool(renamed))
    sink_env.run(flush_rows=300)
    assert_lake_holds_exactly(sink_env, produced)


def test_a_flush_waiting_for_its_partitions_earlier_flush_is_never_committed_past(
    sink_env, make_outputs, monkeypatch
):
    """One partition's first flush is held on its writer until the partition's next flush is
    asked for (by then the partition's end was seen), and the process dies before that next
    flush is written: committing the first must not move the offset past the second's records
    to the end marker."""
    traffic = [o for o in make_outputs(sink_env.namespace) if o.topic.endswith("clean.traffic")]
    produced = sink_env.produce(traffic[:60], partition=0)
    next_flush_asked = threading.Event()
    real_write, real_flush, flushes = sink_module.write_files, sink_module.LakeSink._flush, []

    def write_files(layout, offsets, files):
        if len(flushes) > 1:
            raise Crash
        next_flush_asked.wait(60)
        real_write(layout, offsets, files)

    def flush(self, key):
        flushes.append(key)
        if len(flushes) > 1:
            next_flush_asked.set()
        real_flush(self, key)

    with monkeypatch.context() as patch:
        patch.setattr(sink_module, "write_files", write_files)
        patch.setattr(sink_module.LakeSink, "_flush", flush)
        with pytest.raises(Crash):
            sink_env.run(flush_rows=40)
    assert len(flushes) == 2
    sink_env.run(flush_rows=40)
    assert_lake_holds_exactly(sink_env, produced)


def files_per_partition_day(env) -> Counter:
    return Counter(
        (path.parent.name, found.topic, found.partition)
        for path in (env.lake / "clean").rglob("*.parquet")
        if (found := parse_file_name(path.name)) is not None
    )


def test_a_partition_flushed_many_times_for_memory_publishes_one_file_a_day(sink_env, make_outputs):
    """A tiny memory budget forces a flush every few records; they append to the partition's
    open files, which the end of the run publishes: one file per partition and day."""
    produced = sink_env.produce(make_outputs(sink_env.namespace, events=6000))
    stats = sink_env.run(flush_bytes=1024, flush_seconds=60, file_seconds=60)
    assert_lake_holds_exactly(sink_env, produced)
    per_day = files_per_partition_day(sink_env)
    assert set(per_day.values()) == {1}
    partitions = {(topic, partition) for _, topic, partition in per_day}
    assert stats.files == len(per_day) and stats.flushes > 2 * len(partitions)


def test_a_crash_while_files_are_open_leaves_no_row_and_the_next_run_converges(
    sink_env, make_outputs, monkeypatch
):
    outputs = make_outputs(sink_env.namespace)
    produced = sink_env.produce(outputs + outputs[:100])
    real, appended = writer.OpenFiles.append, []

    def append(self, folder, table):
        real(self, folder, table)
        appended.append(folder)
        if len(appended) == 20:
            raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(writer.OpenFiles, "append", append)
        patch.setattr(writer.OpenFiles, "discard", lambda self: None)  # as a SIGKILL would
        with pytest.raises(Crash):
            sink_env.run(flush_bytes=1024, flush_seconds=60, file_seconds=60)
    layout = LakeLayout(sink_env.lake)
    assert list(layout.tmp_dir.glob("*-open.*.tmp"))
    assert not list((sink_env.lake / "clean").rglob("*.parquet"))
    sink_env.run(flush_bytes=1024, flush_seconds=60, file_seconds=60)
    assert_lake_holds_exactly(sink_env, produced)
