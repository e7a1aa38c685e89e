"""Export and erase one subject after a real worker and sink run on the session broker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from confluent_kafka import Producer

from tests.streams.conftest import PARTITIONS, POLICY, REPO
from usage_pipeline.aggregates.build import build
from usage_pipeline.broker.admin import read_topic
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.schemas.topics import CONSENT_FAMILY, family_of, raw_topic
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.processor import (
    DERIVED_ID_NAMESPACE,
    Processor,
    consent_after_tombstone,
)
from usage_pipeline.subjects.identity import identify

pytestmark = pytest.mark.kafka

ROW_KEY = ("kafka_topic", "kafka_partition", "kafka_offset")
PURPOSES = ("service", "analytics", "marketing", "partner_sharing", "traffic")


@dataclass
class Pipeline:
    """A lake built by the real worker and sink, and the subject the tests erase."""

    env: dict[str, str]
    root: Path
    lake: Path
    subject: str
    email: str
    events: list[dict]
    needles: frozenset[str]  # the subject's id, e-mail and pseudonyms, lower-cased


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "usage_pipeline", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def pick_subject(events: list[dict]) -> tuple[str, str]:
    """A user who granted analytics and marketing and received e-mail: in the most outputs."""
    granted: dict[str, set[str]] = {}
    for e in events:
        if e["event_type"] == "consent.changed" and e["properties"]["status"] == "granted":
            granted.setdefault(e["subject"]["user_id"], set()).add(e["properties"]["purpose"])
    mailed = Counter(
        e["subject"]["user_id"]
        for e in events
        if e["event_type"] == "email.activity"
        and {"analytics", "marketing"} <= granted.get(e["subject"].get("user_id"), set())
    )
    subject = mailed.most_common(1)[0][0]
    email = next(e["subject"]["email"] for e in events if e["subject"].get("user_id") == subject
                 and e["subject"].get("email"))  # fmt: skip
    return subject, email


def lake_tables(lake: Path) -> dict[str, pa.Table]:
    """Each output's rows, with event_date, sorted by topic, partition and offset."""
    tables = {}
    for purpose in PURPOSES:
        parts = []
        for path in sorted((lake / "clean" / purpose).rglob("*.parquet")):
            table = pq.read_table(path, schema=pq.read_schema(path))
            day = path.parent.name.partition("=")[2]
            parts.append(
                table.append_column("event_date", pa.array([day] * table.num_rows, pa.string()))
            )
        if parts:
            table = pa.concat_tables(parts)
            tables[purpose] = table.sort_by([(c, "ascending") for c in ROW_KEY])
    return tables


def holds_subject(text: str | bytes, needles: frozenset[str]) -> bool:
    lowered = (text.decode(errors="replace") if isinstance(text, bytes) else text).lower()
    return any(n in lowered for n in needles)


def dump(value: object) -> str:
    return orjson.dumps(value, default=str).decode()


@pytest.fixture(scope="module")
def pipeline(stream_env, tmp_path_factory) -> Pipeline:
    root = tmp_path_factory.mktemp("subjects")
    lake = root / "lake"
    env = {
        **os.environ,
        **stream_env.env,
        "KAFKA_BOOTSTRAP_SERVERS": stream_env.bootstrap,
        "USAGE_PIPELINE_HOME": str(root / "home"),
        "USAGE_PIPELINE_SINK__LAKE_DIR": str(lake),
        "USAGE_PIPELINE_AGGREGATE__DATABASE": str(lake / "aggregates.duckdb"),
        "USAGE_PIPELINE_AGGREGATE__K": "2",
    }
    events_file = root / "events.jsonl"
    simulated = cli(env, "simulate", "-n", "400", "--days", "3", "--seed", "11",
                    "--out", str(events_file))  # fmt: skip
    assert simulated.returncode == 0, simulated.stderr
    events = [orjson.loads(line) for line in events_file.read_bytes().splitlines()]
    subject, email = pick_subject(events)
    emitted = cli(env, "emit", str(events_file))
    assert emitted.returncode == 0, emitted.stderr
    # An invalid event about the subject: the worker must dead-letter it, redacted.
    bad = {"event_type": "usage.feature_used", "subject": {"user_id": subject, "email": email}}
    producer = Producer({"bootstrap.servers": stream_env.bootstrap})
    producer.produce(stream_env.topic("raw.usage"), orjson.dumps(bad), key=subject.encode())
    assert producer.flush(30) == 0
    with stream_env.worker() as worker:
        worker.wait_until_caught_up()
    for args in (("sink", "--until-caught-up"), ("aggregate", "build")):
        done = cli(env, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    key = Pseudonymizer(stream_env.key_file.read_bytes())
    identity = identify(subject, email, load_policy(POLICY), key)
    needles = frozenset(n.lower() for n in identity.needles)
    return Pipeline(env, root, lake, subject, email, events, needles)


@pytest.fixture(scope="module")
def exported(pipeline) -> dict:
    out = pipeline.root / "export.json"
    result = cli(pipeline.env, "subject", "export", pipeline.subject, "--email", pipeline.email,
                 "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.stat().st_mode & 0o077 == 0  # personal data: readable by its owner only
    return orjson.loads(out.read_bytes())


@pytest.fixture(scope="module")
def erased(pipeline, exported) -> dict:
    before = lake_tables(pipeline.lake)
    result = cli(pipeline.env, "subject", "erase", pipeline.subject, "--email", pipeline.email,
                 "--yes")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    receipts = sorted((pipeline.lake / "_receipts").glob("*.json"))
    assert len(receipts) == 1
    return {"before": before, "after": lake_tables(pipeline.lake), "receipt": receipts[0],
            "output": result.stdout + result.stderr}  # fmt: skip


@pytest.fixture(scope="module")
def replayed(pipeline, erased, stream_env) -> None:
    """A worker run after the erasure: it reads the consent tombstones."""
    with stream_env.worker() as worker:
        worker.wait_until_caught_up()


def subject_keys(exported: dict, purpose: str) -> set[tuple]:
    records = exported["clean_records"].get(purpose, {"records": []})["records"]
    return {tuple(r[c] for c in ROW_KEY) for r in records}


def test_export_lists_consent_history_clean_records_by_output_and_dead_letters(
    pipeline, exported, stream_env
):
    own = [e for e in pipeline.events if e["subject"].get("user_id") == pipeline.subject]
    decisions = {
        (e["properties"]["purpose"], e["properties"]["status"])
        for e in own
        if e["event_type"] == "consent.changed"
    }
    history = exported["consent"]["history"]
    assert decisions <= {(h["properties"]["purpose"], h["properties"]["status"]) for h in history}
    assert exported["consent"]["current_state"]["marketing"][0] == "granted"
    # Service needs no consent: every row of the subject's events (and of the withdrawals its
    # unsubscribes imply) that reached the lake is exported.
    ids = {e["event_id"] for e in own}
    ids |= {str(uuid.uuid5(DERIVED_ID_NAMESPACE, i)) for i in ids}
    in_lake = lake_tables(pipeline.lake)["service"]["event_id"].to_pylist()
    served = sum(1 for event_id in in_lake if event_id in ids)
    assert exported["clean_records"]["service"]["rows"] == served > 0
    assert {"service", "analytics", "marketing"} <= set(exported["clean_records"])
    assert exported["outputs_without_identifiers"] == ["traffic"]
    assert exported["dead_letters"]["records_scanned"] >= 1
    assert exported["dead_letters"]["mentioning_subject"] == 0
    # Raw topics hold the subject in the clear, clean ones its pseudonyms, until retention.
    in_kafka = {t["topic"]: t["mentioning_subject"] for t in exported["kafka_topics"]}
    assert stream_env.topic("raw.consent") not in in_kafka  # the consent history covers it
    raw = [stream_env.topic(f"raw.{f}") for f in ("usage", "traffic", "email", "account")]
    own_events = sum(1 for e in own if e["event_type"] != "consent.changed")
    assert sum(in_kafka[topic] for topic in raw) >= own_events + 1  # + the bad event
    assert in_kafka[stream_env.topic("raw.usage")] >= 1  # the bad event
    assert in_kafka[stream_env.topic("clean.service")] >= 1


def test_erase_leaves_nothing_of_the_subject_in_lake_aggregates_or_database(pipeline, erased):
    assert any(holds_subject(dump(t.to_pylist()), pipeline.needles)
               for t in erased["before"].values())  # fmt: skip
    for table in erased["after"].values():
        assert not holds_subject(dump(table.to_pylist()), pipeline.needles)
    for path in (pipeline.lake / "aggregates").rglob("*.parquet"):
        assert not holds_subject(dump(pq.read_table(path).to_pylist()), pipeline.needles)
    assert not holds_subject((pipeline.lake / "aggregates.duckdb").read_bytes(), pipeline.needles)


def test_erase_leaves_everyone_elses_rows_unchanged(exported, erased):
    for purpose, before in erased["before"].items():
        theirs = subject_keys(exported, purpose)
        after = erased["after"][purpose]
        others_before = [
            r for r in before.to_pylist() if tuple(r[c] for c in ROW_KEY) not in theirs
        ]
        others_after = [r for r in after.to_pylist() if tuple(r[c] for c in ROW_KEY) not in theirs]
        assert others_after == others_before, purpose
        if purpose != "service":  # consent-based outputs lose the subject's rows
            assert after.num_rows == before.num_rows - len(theirs), purpose


def test_erase_unlinks_the_subjects_service_rows_and_keeps_their_count(exported, erased):
    theirs = subject_keys(exported, "service")
    rows = [r for r in erased["after"]["service"].to_pylist()
            if tuple(r[c] for c in ROW_KEY) in theirs]  # fmt: skip
    assert len(rows) == len(theirs) > 0
    assert {r["subject"]["user_id"][:7] for r in rows} == {"erased:"}
    assert len({r["subject"]["user_id"] for r in rows}) == 1  # one user still counts once
    originals = {r["event_id"]: r for r in exported["clean_records"]["service"]["records"]}
    for row in rows:
        assert row["subject"]["account_id"] == originals[row["event_id"]]["subject"]["account_id"]


def test_aggregates_after_erase_equal_a_full_rebuild_over_the_erased_lake(pipeline, erased):
    copy = pipeline.root / "rebuilt"
    shutil.copytree(pipeline.lake / "clean", copy / "clean")
    for built in build(copy, copy / "aggregates.duckdb", 2):
        expected = pq.read_table(built.path)
        published = pq.read_table(pipeline.lake / "aggregates" / built.name / "data.parquet")
        order = [(c, "ascending") for c in expected.column_names]
        rows, expected_rows = (
            published.sort_by(order).to_pylist(),
            expected.sort_by(order).to_pylist(),
        )
        assert len(rows) == len(expected_rows), built.name
        for row, expected_row in zip(rows, expected_rows, strict=True):
            assert row == pytest.approx(expected_row), built.name  # float sums: any order


def test_receipt_records_what_was_done_and_holds_no_personal_data(pipeline, stream_env, erased):
    text = erased["receipt"].read_text()
    receipt = orjson.loads(text)
    assert not holds_subject(text, pipeline.needles)
    assert stream_env.key_file.read_bytes().hex() not in text
    assert receipt["subject_ref"].startswith(receipt["key_id"] + ":")
    assert receipt["policy_version"].startswith("sha256:")
    assert receipt["policy_sha256"].startswith("sha256:")
    assert receipt["started_at"] <= receipt["finished_at"]
    assert receipt["preconditions"] == {"stream_lag": 0, "sink_lag": 0}
    assert receipt["found"]["lake"]["marketing"]["rows"] > 0
    assert receipt["found"]["dead_letters"] == 0
    assert receipt["remaining"][stream_env.topic("raw.usage")] >= 1  # until retention
    assert receipt["done"]["consent"]["consent_tombstones"] >= 1
    assert receipt["done"]["lake"]["service"]["rows_unlinked"] == receipt["found"]["lake"][
        "service"]["rows"]  # fmt: skip
    assert receipt["expires"][stream_env.topic("raw.usage")]["gone_by"] > receipt["finished_at"]
    # Compacted topics have a deadline too: max.compaction.lag.ms is the raw retention.
    compacted = stream_env.topic("raw.consent")
    assert receipt["expires"][compacted]["gone_by"] > receipt["finished_at"]
    assert receipt["empty"] is False


def test_fresh_worker_replaying_consent_keeps_no_state_for_the_erased_subject(
    pipeline,
    stream_env,
    replayed,
):
    processor = Processor(
        Anonymizer(load_policy(POLICY), Pseudonymizer(b"k" * 32)), load_contracts(),
        namespace=stream_env.namespace, consent_partitions=PARTITIONS,
    )  # fmt: skip
    table: dict = {}
    for record in read_topic(stream_env.bootstrap, raw_topic(CONSENT_FAMILY, stream_env.namespace)):
        if record.value() is None:
            update = consent_after_tombstone(record.key(), table.get)
        else:
            update = processor.replay_consent(record.value(), record.partition(), table.get)
        if update is not None:
            subject, state = update
            table.pop(subject, None) if state is None else table.__setitem__(subject, state)
    assert pipeline.subject not in table
    assert len(table) > 0  # everyone else's consent is still there


def test_dead_letters_hold_nothing_of_the_subject(pipeline, stream_env, replayed):
    records = read_topic(stream_env.bootstrap, stream_env.topic("dead.letter"))
    assert records
    for record in records:
        headers = b"".join(v or b"" for _, v in record.headers() or [])
        assert not holds_subject((record.value() or b"") + headers, pipeline.needles)


def test_erasing_twice_changes_nothing_and_finds_nothing(pipeline, erased, replayed):
    result = cli(pipeline.env, "subject", "erase", pipeline.subject, "--email", pipeline.email,
                 "--yes")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing found" in result.stdout
    assert lake_tables(pipeline.lake) == erased["after"]


def test_unknown_subject_gives_an_empty_receipt_and_exit_0(pipeline, replayed):
    receipts = pipeline.root / "unknown-receipts"
    result = cli(pipeline.env, "subject", "erase", "usr_nobody00", "--yes",
                 "--receipt-dir", str(receipts))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (receipt,) = receipts.glob("*.json")
    document = orjson.loads(receipt.read_bytes())
    assert document["empty"] is True
    assert set(document["done"]["consent"].values()) == {0}  # not even a tombstone naming it


def test_erase_without_a_key_exits_1_before_touching_anything(pipeline, replayed):
    env = {k: v for k, v in pipeline.env.items() if "PSEUDONYMIZATION_KEY" not in k}
    before = lake_tables(pipeline.lake)
    result = cli(env, "subject", "erase", pipeline.subject, "--yes")
    assert result.returncode == 1
    assert "pseudonymization key" in result.stderr
    assert lake_tables(pipeline.lake) == before


def test_erase_refuses_while_the_stream_worker_has_lag(pipeline, stream_env, replayed):
    (event,) = [e for e in pipeline.events if family_of(e["event_type"]) == "usage"][:1]
    producer = Producer({"bootstrap.servers": stream_env.bootstrap})
    producer.produce(stream_env.topic("raw.usage"), orjson.dumps(event))
    assert producer.flush(30) == 0
    result = cli(pipeline.env, "subject", "erase", pipeline.subject, "--yes")
    assert result.returncode == 1
    assert "not at rest" in result.stderr
