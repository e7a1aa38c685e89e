"""`subject export`: everything the pipeline holds about one subject, as one JSON document.

For a subject's access request: the consent decisions on record (history, and the state
the stream derives from it), every lake row of the subject by output (as stored: pseudonyms, and
in marketing the e-mail address the subject gave), and how many dead letters mention it
(expected 0: they are redacted). Raw topics are not read: they hold every event in clear
for their retention only, and the lake holds what the pipeline keeps from them.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow.parquet as pq

from usage_pipeline.audit.scan import Progress, no_progress
from usage_pipeline.schemas.keys import CONSENT_KEY_SEPARATOR
from usage_pipeline.streams.consent import ConsentState, apply_change, epoch_us
from usage_pipeline.subjects.locate import ConsentRecord, FileMatch, TopicMentions, find_subject
from usage_pipeline.subjects.receipt import now
from usage_pipeline.subjects.request import SubjectRequest

CONSENT_FIELDS = ("event_id", "event_type", "occurred_at", "source", "properties")


def export(request: SubjectRequest, progress: Progress = no_progress) -> dict[str, Any]:
    """The subject's export document."""
    findings = find_subject(request, progress)
    outputs: dict[str, list[dict[str, Any]]] = {}
    advance = progress("files for the subject's rows", len(findings.lake))
    for match in findings.lake:
        outputs.setdefault(match.file.purpose, []).extend(_rows(match, request))
        advance(1)
    not_searchable = [p for p, o in request.identity.outputs.items() if not o.searchable]
    return {
        "subject_id": request.identity.subject_id,
        "generated_at": now(),
        "policy_version": request.policy.version,
        "key_id": request.pseudonymizer.key_id,
        "consent": {
            "history": [_consent(record) for record in findings.consent],
            "current_state": current_state(findings.consent),
        },
        "clean_records": {
            purpose: {"rows": len(rows), "records": rows} for purpose, rows in outputs.items()
        },
        "key_links": [key.decode() for key in findings.key_links],
        "outputs_without_identifiers": not_searchable,
        "dead_letters": _mentions(findings.dead_letters),
        # Counts only: a record that mentions the subject may be about someone else too.
        "kafka_topics": [_mentions(topic) for topic in findings.in_kafka],
    }


def current_state(history: list[ConsentRecord]) -> ConsentState:
    """The consent state the stream builds from these records: purpose -> [status, effective
    epoch microseconds]; a tombstone of a ``subject|purpose`` key forgets that purpose."""
    state: ConsentState = {}
    for record in history:
        if record.event is None:
            _, _, purpose = record.key.partition(CONSENT_KEY_SEPARATOR)
            state.pop(purpose, None)
            continue
        properties = record.event["properties"]
        effective = epoch_us(properties["effective_at"])
        state = apply_change(state, properties["purpose"], properties["status"], effective)
    return state


def to_json(document: dict[str, Any]) -> bytes:
    """The document as indented JSON (timestamps in ISO 8601)."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC)


def _mentions(found: TopicMentions) -> dict[str, Any]:
    return {
        "topic": found.topic,
        "topic_exists": found.exists,
        "records_scanned": found.records,
        "mentioning_subject": found.mentions,
    }


def _rows(match: FileMatch, request: SubjectRequest) -> list[dict[str, Any]]:
    path = match.file.path
    table = pq.read_table(path, schema=pq.read_schema(path)).filter(match.mask)
    relative = str(path.relative_to(request.layout.root))
    day = match.file.day.isoformat()
    return [{**row, "event_date": day, "lake_file": relative} for row in table.to_pylist()]


def _consent(record: ConsentRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": record.key, "partition": record.partition}
    entry["offset"] = record.offset
    if record.event is None:
        return {**entry, "tombstone": True}
    return {**entry, **{name: record.event.get(name) for name in CONSENT_FIELDS}}
