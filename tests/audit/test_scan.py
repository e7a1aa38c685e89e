"""`usage-pipeline audit scan` on a planted lake, database, log and dead-letter topic."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from usage_pipeline.broker.admin import create_topics
from usage_pipeline.cli.main import app
from usage_pipeline.schemas.topics import TopicSpec

EMAIL = "planted.person@example.org"
IPV4 = "203.0.113.77"
IPV6 = "2001:db8:aa:bb::99"
CANARY = "canary-Q7Z3-unique"
VALUES = (EMAIL, IPV4, IPV6, CANARY, "planted.person")


def write_parquet(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def row(ip: str = "203.0.113.0", note: str = "fine", email: str | None = None) -> dict:
    return {
        "event_id": "3f0c6a8e-2d4b-4f51-9a77-1b2c3d4e5f60",
        "subject": {"user_id": "k1:9f8e7d6c5b4a3928", "email": email},
        "context": {"ip": ip},
        "properties": {"note": note, "tags": ["a", note]},
    }


def clean_lake(root: Path) -> None:
    """Truncated IPs, pseudonyms, and a marketing e-mail the policy allows."""
    lake = root / "lake"
    write_parquet(
        lake / "clean/analytics/event_date=2026-11-20/clean.analytics+0+0-9.parquet",
        [row(), row(ip="2001:db8:1::")],
    )
    write_parquet(
        lake / "clean/marketing/event_date=2026-11-20/clean.marketing+0+0-9.parquet",
        [row(email="subscriber@example.com")],
    )
    with duckdb.connect(str(lake / "aggregates.duckdb")) as db:
        db.execute("create table usage (service varchar, network varchar, n bigint)")
        db.execute("insert into usage values ('s', '198.51.100.0', 12)")
        db.execute("create view v_usage as select * from usage")
    (root / "home").mkdir()
    (root / "home/stream-worker.log").write_text("started on 127.0.0.1:9092\n")


def env_for(root: Path, **more: str) -> dict[str, str]:
    return {
        "USAGE_PIPELINE_HOME": str(root / "home"),
        "USAGE_PIPELINE_SINK__LAKE_DIR": str(root / "lake"),
        "USAGE_PIPELINE_AGGREGATE__DATABASE": str(root / "lake/aggregates.duckdb"),
        "USAGE_PIPELINE_CONFIG": str(root / "absent.toml"),
        "KAFKA_BOOTSTRAP_SERVERS": "",
        **more,
    }


def audit(root: Path, *args: str, **env: str):
    return CliRunner().invoke(app, ["audit", "scan", *args], env=env_for(root, **env))


def test_a_clean_lake_with_truncated_ips_pseudonyms_and_allowed_marketing_email_exits_0(tmp_path):
    clean_lake(tmp_path)
    result = audit(tmp_path, "--no-kafka")
    assert result.exit_code == 0, result.output
    assert "Allowed by clean/marketing/*:subject.email: 1 email" in result.output
    assert "IPv4 network x.y.z.0" in result.output
    assert "Clean:" in result.output
    assert "subscriber@example.com" not in result.output


def test_an_allowance_given_replaces_the_defaults(tmp_path):
    clean_lake(tmp_path)
    result = audit(tmp_path, "--no-kafka", "--allow", "clean/analytics/*:subject.email")
    assert result.exit_code == 1
    assert re.search(
        r"LEAK email .*clean\.marketing\+0\+0-9\.parquet row 0 subject\.email", result.output
    )
    assert "subscriber@example.com" not in result.output


def test_a_bad_allowance_is_refused(tmp_path):
    clean_lake(tmp_path)
    assert audit(tmp_path, "--no-kafka", "--allow", "no-column").exit_code == 2


@pytest.mark.kafka
def test_planted_leaks_are_found_at_their_place_with_exit_1_and_never_printed(
    tmp_path, kafka_bootstrap
):
    clean_lake(tmp_path)
    lake = tmp_path / "lake"
    write_parquet(
        lake / "clean/service/event_date=2026-11-20/clean.service+1+0-9.parquet",
        [row(), row(ip=IPV4), row(note=f"write to {EMAIL} please"), row(note=CANARY)],
    )
    write_parquet(lake / "aggregates/usage/data.parquet", [{"who": IPV6, "n": 3}])
    with duckdb.connect(str(lake / "aggregates.duckdb")) as db:
        db.execute(f"insert into usage values ('{EMAIL}', '198.51.100.0', 1)")
    extra_log = tmp_path / "extra.log"
    extra_log.write_text(f"one\ntwo\nconnection from {IPV6}\n")
    namespace = f"audit-{tmp_path.name[-12:]}."
    dead_letter = namespace + "dead.letter"
    create_topics(kafka_bootstrap, [TopicSpec(dead_letter, 1, {})])
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(dead_letter, b'{"reason": "ok", "stage": "parse"}')
    producer.produce(
        dead_letter, b'{"reason": "bad", "original": {"ip": "' + IPV4.encode() + b'"}}'
    )
    assert producer.flush(30) == 0
    canaries = tmp_path / "canaries.txt"
    canaries.write_text(f"# planted\n{CANARY}\n")

    result = audit(
        tmp_path,
        "--canaries", str(canaries),
        "--log", str(extra_log),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        USAGE_PIPELINE_TOPICS__NAMESPACE=namespace,
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    output = result.output
    service = r"clean/service/event_date=2026-11-20/clean\.service\+1\+0-9\.parquet"
    expected = [
        rf"LEAK ipv4 .*{service} row 1 context\.ip",
        rf"LEAK email .*{service} row 2 properties\.note",
        rf"LEAK email .*{service} row 2 properties\.tags\[\]",
        rf"LEAK canary .*{service} row 3 properties\.note  ref canary #1",
        rf"LEAK canary .*{service} row 3 properties\.tags\[\]  ref canary #1",
        r"LEAK ipv6 .*aggregates/usage/data\.parquet row 0 who",
        r"LEAK email .*aggregates\.duckdb/usage row 1 service",
        r"LEAK email .*aggregates\.duckdb/v_usage row 1 service",
        r"LEAK ipv6 .*extra\.log line 3",
        rf"LEAK ipv4 .*topic {re.escape(dead_letter)} partition 0 offset 1 value\.original\.ip",
    ]
    for pattern in expected:
        assert re.search(pattern, output), pattern
    assert "LEAKS FOUND: 10 finding(s)" in output
    for value in VALUES:
        assert value not in output


@pytest.mark.kafka
def test_planted_fragments_of_addresses_are_found_in_a_dead_letter_and_a_lake_file(
    tmp_path, kafka_bootstrap
):
    clean_lake(tmp_path)
    traffic = "clean/traffic/event_date=2026-11-20/clean.traffic+0+0-9.parquet"
    write_parquet(
        tmp_path / "lake" / traffic,
        [{"url": "https://portal.example/u/jane.roe%4"}, {"url": "/a?e=jane.roe@hidd"}],
    )
    namespace = f"audit-{tmp_path.name[-12:]}."
    dead_letter = namespace + "dead.letter"
    create_topics(kafka_bootstrap, [TopicSpec(dead_letter, 1, {})])
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(dead_letter, b'{"reason": "bad", "excerpt": "{\\"to\\": \\"jane.roe@hidd"}')
    assert producer.flush(30) == 0

    result = audit(
        tmp_path,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        USAGE_PIPELINE_TOPICS__NAMESPACE=namespace,
    )

    assert result.exit_code == 1, result.output
    shown = re.escape(traffic)
    for pattern in (
        rf"LEAK email .*{shown} row 0 url",
        rf"LEAK email .*{shown} row 1 url",
        rf"LEAK email .*topic {re.escape(dead_letter)} partition 0 offset 0 value\.excerpt",
    ):
        assert re.search(pattern, result.output), pattern
    assert "jane" not in result.output
