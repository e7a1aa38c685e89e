"""Rewriting a lake file without a subject: names, schemas and everyone else's rows kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.subjects.test_identity import POLICY
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.sink.layout import LakeLayout, OffsetRange
from usage_pipeline.streams.sink.writer import write_parquet
from usage_pipeline.subjects.identity import identify
from usage_pipeline.subjects.locate import find_in_lake, lake_files
from usage_pipeline.subjects.rewrite import Tokens, delete_rows, unlink_rows

KEY = Pseudonymizer(b"k" * 32, "kcur")
DAY = dt.date(2026, 11, 20)
SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("subject", pa.struct([("account_id", pa.string()), ("user_id", pa.string())])),
        ("context", pa.struct([("session_id", pa.string()), ("host", pa.string())])),
        ("kafka_offset", pa.int64()),
    ]
)


def row(offset: int, user: str | None, account: str, purpose: str) -> dict:
    user_id = KEY.pseudonymize(user, f"{purpose}/user_id") if user else None
    session = KEY.pseudonymize(f"s{offset}", f"{purpose}/session_id")
    return {
        "event_id": f"e{offset}",
        "subject": {"account_id": account, "user_id": user_id},
        "context": {"session_id": session, "host": "www.example.com"},
        "kafka_offset": offset,
    }


def lake_file(root: Path, purpose: str, rows: list[dict]) -> Path:
    layout = LakeLayout(root)
    path = layout.data_path(purpose, DAY, OffsetRange(f"clean.{purpose}", 0, 0, 9))
    path.parent.mkdir(parents=True)
    write_parquet(pa.Table.from_pylist(rows, SCHEMA), path)
    return path


def matches(root: Path, subject: str):
    identity = identify(subject, None, POLICY, KEY)
    return list(find_in_lake(lake_files(LakeLayout(root), list(POLICY.purposes)), identity))


def test_delete_keeps_name_schema_and_everyone_elses_rows(tmp_path):
    rows = [row(i, "usr_1" if i % 2 else "usr_2", "acct_1", "partner_sharing") for i in range(6)]
    path = lake_file(tmp_path, "partner_sharing", rows)
    (match,) = matches(tmp_path, "usr_1")
    result = delete_rows(LakeLayout(tmp_path), match)
    assert (result.rows_before, result.rows_deleted) == (6, 3)
    assert pq.read_schema(path) == SCHEMA
    assert pq.read_table(path).to_pylist() == [r for i, r in enumerate(rows) if i % 2 == 0]
    assert not list((tmp_path / "_sink" / "tmp").iterdir())


def test_a_file_of_only_the_subject_stays_as_an_empty_file_with_its_schema(tmp_path):
    path = lake_file(tmp_path, "partner_sharing", [row(0, "usr_1", "acct_1", "partner_sharing")])
    (match,) = matches(tmp_path, "usr_1")
    delete_rows(LakeLayout(tmp_path), match)
    assert pq.read_metadata(path).num_rows == 0
    assert pq.read_schema(path) == SCHEMA


def test_unlink_replaces_the_subjects_pseudonyms_by_one_token_per_value(tmp_path):
    rows = [row(i, "usr_1" if i < 3 else "usr_2", "acct_1", "service") for i in range(5)]
    path = lake_file(tmp_path, "service", rows)
    (match,) = matches(tmp_path, "usr_1")
    result = unlink_rows(LakeLayout(tmp_path), match, frozenset({"usr_1"}), Tokens())
    after = pq.read_table(path).to_pylist()
    assert (result.rows_unlinked, result.values_replaced) == (3, 6)  # user and session ids
    assert after[3:] == rows[3:]
    assert len({r["subject"]["user_id"] for r in after[:3]}) == 1
    assert all(r["subject"]["user_id"].startswith("erased:") for r in after[:3])
    assert len({r["context"]["session_id"] for r in after[:3]}) == 3
    assert [r["subject"]["account_id"] for r in after] == ["acct_1"] * 5
    assert matches(tmp_path, "usr_1") == []


def test_an_account_subject_matches_only_rows_without_a_user(tmp_path):
    rows = [row(0, None, "acct_9", "partner_sharing"), row(1, "usr_3", "acct_9", "partner_sharing")]
    lake_file(tmp_path, "partner_sharing", rows)
    (match,) = matches(tmp_path, "acct_9")
    assert match.mask.to_pylist() == [True, False]
