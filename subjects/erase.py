"""`subject erase`: make a subject's data gone or unlinkable everywhere, and write a receipt.

In order, under the lake's lock: refuse while anything is in flight; delete the subject's
rows from the outputs that need consent, unlink them (random tokens) in the outputs that
do not (service: billing and support keep their counts); publish consent tombstones, which
the stream workers apply to their state and compaction applies to the topic; check the dead
letters hold nothing of the subject; rebuild the aggregates over the rewritten lake.
`docs/erasure.md` explains the choice of rewriting over per-subject keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from confluent_kafka import Producer

from usage_pipeline.aggregates.build import build
from usage_pipeline.audit.scan import Progress, no_progress
from usage_pipeline.broker.clients import producer_config
from usage_pipeline.schemas.keys import partition_for
from usage_pipeline.streams.sink.lock import lake_lock
from usage_pipeline.subjects.expiry import topic_expiry
from usage_pipeline.subjects.identity import subject_ref
from usage_pipeline.subjects.locate import Findings, find_subject
from usage_pipeline.subjects.quiesce import Lag, pipeline_lag, wait_until_idle
from usage_pipeline.subjects.receipt import Receipt, file_sha256, now
from usage_pipeline.subjects.request import SubjectRequest
from usage_pipeline.subjects.rewrite import (
    Rewritten,
    Tokens,
    delete_rows,
    remove_stale_temporaries,
    unlink_rows,
)


class PipelineBusyError(RuntimeError):
    """The stream worker or the sink still has records to process: erasing now could be undone."""


def erase(
    request: SubjectRequest,
    progress: Progress = no_progress,
    wait_s: float | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> Receipt:
    """Erase the subject; returns the receipt (not yet written). Raises PipelineBusyError,
    before changing anything, while the pipeline has lag (after ``wait_s`` if given)."""
    stores, policy, policy_file = request.stores, request.policy, request.policy_file
    receipt = Receipt(
        subject_ref(request.identity.subject_id, request.pseudonymizer),
        request.pseudonymizer.key_id,
        policy.version,
        str(policy_file),
        file_sha256(policy_file),
        now(),
    )
    lag = _quiet_pipeline(request, wait_s, say)
    receipt.preconditions = {"stream_lag": lag.stream, "sink_lag": lag.sink}
    with lake_lock(request.layout):
        remove_stale_temporaries(request.layout)
        findings = find_subject(request, progress)
        receipt.found = _found(findings)
        receipt.scanned = {
            "lake_files": findings.lake_files_scanned,
            "dead_letter_records": findings.dead_letters.records,
            "kafka_records": sum(t.records for t in findings.in_kafka),
        }
        receipt.remaining = {t.topic: t.mentions for t in findings.in_kafka if t.mentions}
        receipt.done["lake"] = _rewrite_lake(request, findings, progress)
        receipt.done["consent"] = _tombstone_consent(request, findings)
        if findings.lake:
            say("rebuilding the aggregates")
            built = build(stores.lake_dir, stores.database, stores.k)
            receipt.done["aggregates"] = {"rebuilt": [b.name for b in built]}
    receipt.finished_at = now()
    receipt.expires = _expiry(request, dt.datetime.fromisoformat(receipt.finished_at))
    return receipt


def _quiet_pipeline(
    request: SubjectRequest, wait_s: float | None, say: Callable[[str], None]
) -> Lag:
    lag = pipeline_lag(request.stores, request.cluster, request.policy)
    if not lag.idle and wait_s is not None:
        say(f"waiting for the pipeline: stream lag {lag.stream:,}, sink lag {lag.sink:,}")
        lag = wait_until_idle(request.stores, request.cluster, request.policy, wait_s)
    if not lag.idle:
        raise PipelineBusyError(
            f"the pipeline is not at rest (stream worker lag {lag.stream:,}, sink lag "
            f"{lag.sink:,}): an in-flight record could re-create the subject's rows after the "
            "rewrite. Let the worker and the sink catch up, or pass --wait"
        )
    return lag


def _found(findings: Findings) -> dict[str, object]:
    return {
        "lake": findings.lake_counts(),
        # Keys whose latest record is a tombstone are erased; compaction removes the rest.
        "consent_keys": len(findings.live_consent_keys),
        "key_links": len(findings.key_links),
        "dead_letters": findings.dead_letters.mentions,
    }


def _rewrite_lake(
    request: SubjectRequest, findings: Findings, progress: Progress
) -> dict[str, dict[str, int]]:
    """Delete the subject's rows where consent was the basis; unlink them elsewhere."""
    done: dict[str, dict[str, int]] = {}
    tokens = Tokens()
    advance = progress("files to rewrite", len(findings.lake))
    for match in findings.lake:
        purpose = match.file.purpose
        output = request.identity.outputs[purpose]
        if request.policy.purposes[purpose].consent_required:
            result = delete_rows(request.layout, match)
        else:
            result = unlink_rows(request.layout, match, output.values, tokens)
        _add(done.setdefault(purpose, {}), result)
        advance(1)
    return done


def _add(totals: dict[str, int], result: Rewritten) -> None:
    totals["files_rewritten"] = totals.get("files_rewritten", 0) + 1
    emptied = result.rows_deleted == result.rows_before
    totals["files_emptied"] = totals.get("files_emptied", 0) + int(emptied)
    for name in ("rows_deleted", "rows_unlinked", "values_replaced"):
        totals[name] = totals.get(name, 0) + getattr(result, name)


def _tombstone_consent(request: SubjectRequest, findings: Findings) -> dict[str, int]:
    """Tombstones for the subject's live consent keys (the workers forget those purposes; the
    consent topic is their only store) and for each of its key-rotation links. Both topics
    are compacted: tombstones delete."""
    subject = request.identity.subject_id
    client_id = f"{request.stores.client_id}-erase"
    producer = Producer(producer_config(request.cluster, request.stores.producer, client_id))
    consent_keys = [key.encode() for key in findings.live_consent_keys]
    targets = [
        # Consent records sit on their subject's partition; the links topic's keys are placed
        # by murmur2 of the key itself.
        (request.consent_topic, consent_keys, lambda _key: subject.encode()),
        (request.key_links_topic, findings.key_links, lambda key: key),
    ]
    for topic, keys, placed_by in targets:
        for key in keys:
            partition = partition_for(placed_by(key).decode(), request.topics[topic])
            producer.produce(topic, value=None, key=key, partition=partition)
    if producer.flush(30):
        raise RuntimeError("the broker did not acknowledge every tombstone")
    return {
        "consent_tombstones": len(consent_keys),
        "key_link_tombstones": len(findings.key_links),
    }


def _expiry(request: SubjectRequest, since: dt.datetime) -> dict[str, object]:
    compacted = [t for t in (request.consent_topic,) if t in request.topics]
    return topic_expiry(request.cluster, [*request.event_topics, *compacted], since)
