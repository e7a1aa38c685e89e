"""`usage-pipeline aggregate build` then `query`, as processes, over a small lake."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer

from tests.aggregates.conftest import used
from usage_pipeline.aggregates.lake import connect
from usage_pipeline.cli.aggregate import parse_interval

CLI = [sys.executable, "-c", "from usage_pipeline.cli.main import main; main()"]


def cli(tmp_path: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "USAGE_PIPELINE_SINK__LAKE_DIR": str(tmp_path / "lake"),
        "USAGE_PIPELINE_AGGREGATE__DATABASE": str(tmp_path / "lake" / "aggregates.duckdb"),
        "USAGE_PIPELINE_AGGREGATE__K": "2",
        "COLUMNS": "200",
    }


def test_build_then_query_round_trip(lake, tmp_path):
    lake.add("analytics", [used("2026-11-24T10:00", user) for user in ("u1", "u2", "u3")])
    built = cli(tmp_path, "aggregate", "build")
    assert built.returncode == 0, built.stderr
    assert "web_traffic" in built.stdout and "suppressed cells" in built.stdout
    assert (tmp_path / "lake" / "aggregates" / "usage" / "data.parquet").is_file()

    printed = cli(
        tmp_path, "aggregate", "query", "select item, users from usage where item is not null"
    )
    assert printed.returncode == 0, printed.stderr
    assert "search" in printed.stdout and "3" in printed.stdout

    out = tmp_path / "result.json"
    sql = "select period, active_users from active_subjects order by period"
    written = cli(tmp_path, "aggregate", "query", sql, "--format", "json", "--output", str(out))
    assert written.returncode == 0, written.stderr
    assert json.loads(out.read_text())[0] == {"period": "day", "active_users": 3}


def test_build_prints_what_it_recomputed_and_full_recomputes_everything(lake, tmp_path):
    lake.add("analytics", [used("2026-11-24T10:00", "u1")])
    assert cli(tmp_path, "aggregate", "build").returncode == 0
    lake.add("analytics", [used("2026-11-25T10:00", "u2")])

    again = cli(tmp_path, "aggregate", "build")
    unchanged = cli(tmp_path, "aggregate", "build")
    full = cli(tmp_path, "aggregate", "build", "--full")

    usage = next(line for line in again.stdout.splitlines() if " usage " in line)
    assert "periods of 2026-11-25" in usage
    assert "unchanged" in next(
        line for line in again.stdout.splitlines() if "billing_quotas" in line
    )
    assert (
        "all" not in unchanged.stdout.replace("Aggregates", "") and "unchanged" in unchanged.stdout
    )
    assert "unchanged" not in full.stdout and "periods of" not in full.stdout


def test_duckdb_draws_no_progress_bar_where_no_person_watches(lake, tmp_path):
    # DuckDB draws its bar on stdout for long queries, terminal or not: off in a pipe.
    lake.add("analytics", [used("2026-11-24T10:00", "u1")])
    assert cli(tmp_path, "aggregate", "build").returncode == 0
    sql = "select current_setting('enable_progress_bar') as bar"

    out = tmp_path / "bar.json"

    printed = cli(tmp_path, "aggregate", "query", sql, "--format", "json", "--output", str(out))

    assert printed.returncode == 0, printed.stderr
    assert json.loads(out.read_text()) == [{"bar": False}]
    with connect() as con:  # a build's connection
        assert con.sql(sql).to_arrow_table().to_pylist() == [{"bar": False}]


def test_query_reports_bad_sql_in_one_line(lake, tmp_path):
    lake.add("analytics", [used("2026-11-24T10:00", "u1")])
    assert cli(tmp_path, "aggregate", "build").returncode == 0
    failed = cli(tmp_path, "aggregate", "query", "select nope from usage")
    assert failed.returncode == 1 and "error" in failed.stderr and "Traceback" not in failed.stderr


def test_build_every_interval_repeats_until_sigterm(lake, tmp_path):
    lake.add("analytics", [used("2026-11-24T10:00", "u1")])
    data = tmp_path / "lake" / "aggregates" / "usage" / "data.parquet"
    process = subprocess.Popen(
        [*CLI, "aggregate", "build", "--every", "1s"],
        env=env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not data.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        first = data.stat().st_mtime_ns
        lake.add("analytics", [used("2026-11-25T10:00", "u2")])
        while data.stat().st_mtime_ns == first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pq.read_table(data).num_rows > 4, "the second build saw the new day"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("30s", 30), ("1h", 3600)])
def test_intervals_read_seconds_minutes_and_hours(text, seconds):
    assert parse_interval(text) == seconds


def test_a_bad_interval_is_refused():
    with pytest.raises(typer.BadParameter):
        parse_interval("soon")


def test_analysts_query_each_clean_output_through_its_view_not_a_file_glob(lake, tmp_path):
    lake.add("analytics", [used("2026-11-24T10:00", user) for user in ("u1", "u2", "u3")])
    assert cli(tmp_path, "aggregate", "build").returncode == 0
    sql = (
        "select (select count(*) from clean.analytics) as analytics, "
        "(select count(*) from clean.partner_sharing) as partner_sharing"
    )
    out = tmp_path / "counts.json"
    printed = cli(tmp_path, "aggregate", "query", sql, "--format", "json", "--output", str(out))
    assert printed.returncode == 0, printed.stderr
    # Partner sharing has no file yet: an empty typed table until a build finds one.
    assert json.loads(out.read_text()) == [{"analytics": 3, "partner_sharing": 0}]
