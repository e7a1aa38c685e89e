"""The ACL table: derived from the topic registry, and shown as it is in docs/security.md."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from usage_pipeline.broker.acls import GRANTS
from usage_pipeline.schemas.topics import CLEAN, CONSENT, RAW_EVENTS, TOPICS

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
ROW = re.compile(r"^\| (\w+) \| ([a-z ]+) \| `([^`]+)` \| (\w+) \| ([A-Z, ]+) \|$", re.M)


def derived_rows() -> dict[tuple[str, str, str, str], set[str]]:
    rows: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for grant in GRANTS:
        name = grant.name.replace("{", "<").replace("}", ">")
        rows[grant.role, grant.resource.replace("_", " "), name, grant.pattern].add(grant.operation)
    return dict(rows)


def test_security_doc_shows_the_derived_acl_table():
    documented = {
        (role, resource, name, pattern): set(ops.split(", "))
        for role, resource, name, pattern, ops in ROW.findall(DOC.read_text())
    }
    assert documented == derived_rows()


def test_every_registered_topic_is_granted_to_exactly_its_readers_and_writers():
    for topic in TOPICS:
        name = "{ns}" + topic.name
        readers = {g.role for g in GRANTS if g.name == name and g.operation == "READ"}
        writers = {g.role for g in GRANTS if g.name == name and g.operation == "WRITE"}
        assert (readers, writers) == (set(topic.readers), set(topic.writers)), topic.name


def test_only_the_stream_reads_raw_topics_and_only_the_sink_reads_clean_ones():
    for topic in (*RAW_EVENTS.values(), CONSENT):
        assert topic.readers == ("stream",)
    assert CLEAN.readers == ("sink",)


def test_the_stream_may_write_raw_consent_for_the_changes_it_derives():
    assert "stream" in CONSENT.writers
