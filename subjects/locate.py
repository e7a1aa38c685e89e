"""Find a subject's records wherever the pipeline keeps them: lake, consent, links, dead letters.

Export and erase both call this one locator, so what erase deletes is exactly what export
shows. Lake files are read one at a time and only the identifier columns first, so memory
stays flat; a file is read whole only when it holds the subject.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from confluent_kafka import Message

from usage_pipeline.audit.scan import Progress as ScanProgress
from usage_pipeline.audit.scan import no_progress
from usage_pipeline.broker.admin import describe_cluster, iter_topic, read_topic
from usage_pipeline.broker.security import Cluster
from usage_pipeline.schemas.keys import CONSENT_KEY_SEPARATOR
from usage_pipeline.streams.sink.layout import LakeLayout
from usage_pipeline.subjects.identity import (
    ACCOUNT_ID,
    EMAIL_COLUMNS,
    USER_ID,
    OutputIdentity,
    SubjectIdentity,
)
from usage_pipeline.subjects.request import SubjectRequest

Advance = Callable[[int], None]


@dataclass(frozen=True)
class LakeFile:
    """One data file of one purpose's output."""

    purpose: str
    day: dt.date
    path: Path


@dataclass(frozen=True)
class FileMatch:
    """A lake file that holds the subject: its rows, and which of them are the subject's."""

    file: LakeFile
    rows: int
    mask: pa.ChunkedArray  # boolean, True for the subject's rows

    @property
    def matched(self) -> int:
        """How many rows are the subject's."""
        return pc.sum(self.mask).as_py() or 0


@dataclass(frozen=True)
class ConsentRecord:
    """One record of the compacted consent topic under one of the subject's keys."""

    partition: int
    offset: int
    key: str
    event: dict[str, Any] | None  # None: a tombstone


@dataclass(frozen=True)
class TopicMentions:
    """How many records a topic holds, and how many mention the subject."""

    topic: str
    exists: bool
    records: int
    mentions: int


def lake_files(layout: LakeLayout, purposes: list[str]) -> list[LakeFile]:
    """Every data file of the given purposes' outputs, oldest day first."""
    return [
        LakeFile(purpose, day, data_file.path)
        for purpose in purposes
        for day, folder in layout.days(purpose)
        for data_file in layout.files(folder)
    ]


def find_in_lake(
    files: list[LakeFile], identity: SubjectIdentity, advance: Advance | None = None
) -> Iterator[FileMatch]:
    """The files holding the subject, with a mask of its rows; outputs without identifiers
    (traffic) are not read."""
    for lake_file in files:
        output = identity.outputs.get(lake_file.purpose)
        if output is not None and output.searchable:
            columns = [c for c in ("subject", "properties") if c in _names(lake_file.path)]
            table = pq.read_table(lake_file.path, columns=columns)
            mask = subject_rows(table, output)
            if pc.any(mask).as_py():
                yield FileMatch(lake_file, table.num_rows, mask)
        if advance is not None:
            advance(1)


def subject_rows(table: pa.Table, output: OutputIdentity) -> pa.ChunkedArray:
    """True for each row of ``table`` that is the subject's in ``output``: its user id, its
    account id in a row without user id, or its e-mail address (clear or pseudonym)."""
    mask = pa.chunked_array([pa.array([False] * table.num_rows, pa.bool_())])
    user = _field(table, USER_ID)
    if user is not None:
        mask = pc.or_(mask, _is_in(user, output.user_ids))
    account = _field(table, ACCOUNT_ID)
    if account is not None:
        owned = _is_in(account, output.account_ids)
        mask = pc.or_(mask, owned if user is None else pc.and_(pc.is_null(user), owned))
    for path in EMAIL_COLUMNS:
        column = _field(table, path)
        if column is not None:
            mask = pc.or_(mask, _is_in(pc.utf8_lower(column), output.emails))
    return pc.fill_null(mask, False)


def consent_history(
    cluster: Cluster, topic: str, subject_id: str, topics: dict[str, int] | None = None
) -> list[ConsentRecord]:
    """Every record of the consent topic under one of the subject's keys: ``subject|purpose``,
    or the bare subject that services without a partition choice use (docs/stream.md)."""
    bare = subject_id.encode()
    prefix = bare + CONSENT_KEY_SEPARATOR.encode()
    found = []
    for message in _read(cluster, topic, topics):
        key = message.key() or b""
        if key == bare or key.startswith(prefix):
            value = message.value()
            event = None if value is None else orjson.loads(value)
            found.append(ConsentRecord(message.partition(), message.offset(), key.decode(), event))
    return found


def key_links(
    cluster: Cluster, topic: str, identity: SubjectIdentity, topics: dict[str, int] | None = None
) -> list[bytes]:
    """Keys of the live link records (previous, current pseudonym) of the subject."""
    pseudonyms = identity.needles
    live: dict[bytes, bool] = {}
    for message in _read(cluster, topic, topics):
        key = message.key() or b""
        if set(key.decode(errors="replace").split(" ")) & pseudonyms:
            live[key] = message.value() is not None
    return sorted(key for key, alive in live.items() if alive)


def topic_mentions(
    cluster: Cluster, topic: str, identity: SubjectIdentity, topics: dict[str, int] | None = None
) -> TopicMentions:
    """Records of ``topic`` whose key, value or headers hold the subject's id, e-mail address
    or a pseudonym (compared without case, as whole tokens)."""
    if topics is None:
        topics = describe_cluster(cluster).topics
    if topic not in topics:
        return TopicMentions(topic, False, 0, 0)
    needles = sorted({n.lower() for n in identity.needles}, key=len, reverse=True)
    pattern = re.compile(
        rb"(?<![a-z0-9._:@+-])(?:" + b"|".join(re.escape(n.encode()) for n in needles) + rb")"
        rb"(?![a-z0-9._:@+-])"
    )
    records = mentions = 0
    for message in iter_topic(cluster, topic):
        records += 1
        mentions += bool(pattern.search(_text(message)))
    return TopicMentions(topic, True, records, mentions)


def _text(message: Message) -> bytes:
    parts = [message.key() or b"", message.value() or b""]
    parts += [value or b"" for _, value in message.headers() or []]
    return b"\n".join(parts).lower()


def _read(cluster: Cluster, topic: str, topics: dict[str, int] | None) -> list[Message]:
    if topics is None:
        topics = describe_cluster(cluster).topics
    return read_topic(cluster, topic) if topic in topics else []


def _names(path: Path) -> list[str]:
    return pq.read_schema(path).names


def _field(table: pa.Table, path: str) -> pa.ChunkedArray | None:
    """A struct field such as ``subject.user_id``; None when the output has no such column."""
    top, _, name = path.partition(".")
    if top not in table.column_names or table.schema.field(top).type.get_field_index(name) < 0:
        return None
    return pc.struct_field(table[top], name)


def _is_in(column: pa.ChunkedArray, values: frozenset[str]) -> pa.ChunkedArray:
    return pc.is_in(column, value_set=pa.array(sorted(values), pa.string()))


@dataclass(frozen=True)
class Findings:
    """Everything the pipeline holds about one subject, located."""

    lake: list[FileMatch]
    lake_files_scanned: int
    consent: list[ConsentRecord]
    key_links: list[bytes]
    dead_letters: TopicMentions
    in_kafka: list[TopicMentions]  # raw and clean topics: kept until their retention

    def lake_counts(self) -> dict[str, dict[str, int]]:
        """Per purpose: files holding the subject and its rows in them."""
        counts: dict[str, dict[str, int]] = {}
        for match in self.lake:
            entry = counts.setdefault(match.file.purpose, {"files": 0, "rows": 0})
            entry["files"] += 1
            entry["rows"] += match.matched
        return counts

    @property
    def live_consent_keys(self) -> list[str]:
        """The subject's consent keys whose latest record is not a tombstone yet."""
        latest: dict[str, ConsentRecord] = {}
        for record in self.consent:
            latest[record.key] = record  # one partition per subject: offsets are in order
        return sorted(key for key, record in latest.items() if record.event is not None)


def find_subject(request: SubjectRequest, progress: ScanProgress = no_progress) -> Findings:
    """Locate the subject in the lake, the consent topic, the key links, the dead letters, and
    the raw and clean topics."""
    files = lake_files(request.layout, list(request.policy.purposes))
    advance = progress("lake files", len(files))
    lake = list(find_in_lake(files, request.identity, advance))
    cluster, topics, subject = request.cluster, request.topics, request.identity.subject_id
    progress("consent topic", None)
    consent = consent_history(cluster, request.consent_topic, subject, topics)
    links = key_links(cluster, request.key_links_topic, request.identity, topics)
    progress("dead letters", None)
    dead = topic_mentions(cluster, request.dead_letter_topic, request.identity, topics)
    advance = progress("raw and clean topics", len(request.event_topics))
    in_kafka = []
    for topic in request.event_topics:
        in_kafka.append(topic_mentions(cluster, topic, request.identity, topics))
        advance(1)
    return Findings(lake, len(files), consent, links, dead, in_kafka)
