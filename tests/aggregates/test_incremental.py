"""Incremental builds recompute only the periods of changed lake days, and equal a full build.

Per-day partials are kept between builds, replaced when their day changes, never left stale.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.aggregates.conftest import Lake, request, row, used
from tests.aggregates.test_known_outputs import consent, email
from usage_pipeline.aggregates.build import Built, Recomputed, build
from usage_pipeline.aggregates.daily import DAILY_DIR
from usage_pipeline.aggregates.publish import AGGREGATES_DIR, table_path
from usage_pipeline.aggregates.state import read_state, state_path
from usage_pipeline.aggregates.tables import AGGREGATES

K = 3
FIRST = dt.date(2026, 11, 20)  # a Friday: the days run across two months and four weeks
DAYS = 18
NEW_DAY = FIRST + dt.timedelta(days=DAYS)  # 2026-12-08, a Tuesday
DATED = {"active_subjects", "usage", "web_traffic"}


def day_rows(day: dt.date, seed: int) -> dict[str, list[dict]]:
    """One day of usage, traffic, e-mail, consent and licenses; some cells below K."""
    rng = random.Random(seed)
    stamp = day.isoformat()
    users = [f"u{n}" for n in rng.sample(range(12), rng.randint(2, 8))]
    analytics = [
        used(
            f"{stamp}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
            rng.choice([*users, None]),
            feature=rng.choice(["search", "export", "share"]),
            service=rng.choice(["portal", "mobile"]),
            duration_ms=rng.choice([500, 1000, 1500]),
        )
        for _ in range(rng.randint(10, 30))
    ]
    analytics += [email(f"{stamp}T08:00", "sent", u, campaign=f"c{day.day % 3}") for u in users]
    traffic = [
        request(
            f"{stamp}T{rng.randint(0, 23):02d}:30",
            f"v{rng.randint(0, 9)}",
            host=rng.choice(["www.example.com", "docs.example.com"]),
            browser_family=rng.choice(["Firefox", "Chrome"]),
        )
        for _ in range(rng.randint(5, 25))
    ]
    partner = [email(f"{stamp}T09:00", rng.choice(["sent", "bounced"]), u) for u in users]
    service = [
        consent(f"{stamp}T10:00", u, rng.choice(["granted", "withdrawn"])) for u in users[:3]
    ]
    service.append(
        row(
            "account.license",
            f"{stamp}T11:00",
            "not_required",
            subject={"account_id": "a1", "user_id": users[0]},
            properties={"action": "seat_assigned", "product": "pro", "seats": len(users)},
        )
    )
    return {
        "analytics": analytics,
        "traffic": traffic,
        "partner_sharing": partner,
        "service": service,
    }


def add_day(lake: Lake, day: dt.date, seed: int) -> None:
    """Write one day's rows for every purpose."""
    for purpose, rows in day_rows(day, seed).items():
        lake.add(purpose, rows)


@pytest.fixture
def built_lake(lake: Lake) -> Lake:
    """A lake of DAYS days, built once with k = K."""
    for offset in range(DAYS):
        add_day(lake, FIRST + dt.timedelta(days=offset), seed=offset)
    build(lake.root, database(lake), K)
    return lake


def database(lake: Lake) -> Path:
    return lake.root / "aggregates.duckdb"


def partition(lake: Lake, purpose: str, day: dt.date) -> Path:
    return lake.root / "clean" / purpose / f"event_date={day.isoformat()}"


def assert_equals_full_build(lake: Lake, tmp_path: Path) -> None:
    """Every published table equals, row for row, a full build of a copy of the lake."""
    fresh = Lake(tmp_path / "fresh")
    shutil.copytree(lake.root / "clean", fresh.root / "clean")
    build(fresh.root, database(fresh), K)
    for aggregate in AGGREGATES:
        incremental = pq.read_table(table_path(lake.root, aggregate.name))
        full = pq.read_table(table_path(fresh.root, aggregate.name))
        assert incremental.to_pylist() == full.to_pylist(), aggregate.name


def by_name(built: list[Built]) -> dict[str, Built]:
    return {item.name: item for item in built}


def test_a_new_day_recomputes_only_its_periods_and_equals_a_full_build(built_lake, tmp_path):
    before = pq.read_table(table_path(built_lake.root, "usage")).to_pylist()
    add_day(built_lake, NEW_DAY, seed=99)

    built = by_name(build(built_lake.root, database(built_lake), K))

    for name in DATED | {"email_deliverability"}:
        assert built[name].recomputed is Recomputed.periods, name
        assert built[name].days == (NEW_DAY,)
    after = pq.read_table(table_path(built_lake.root, "usage")).to_pylist()
    assert [r for r in after if r["event_date"] != NEW_DAY] == before
    assert {r["event_date"] for r in after} - {r["event_date"] for r in before} == {NEW_DAY}
    assert_equals_full_build(built_lake, tmp_path)


def test_a_new_day_of_one_purpose_leaves_tables_of_other_purposes_as_published(
    built_lake, tmp_path
):
    built_lake.add("traffic", day_rows(NEW_DAY, seed=5)["traffic"])

    built = by_name(build(built_lake.root, database(built_lake), K))

    assert built["web_traffic"].recomputed is Recomputed.periods
    assert built["trends"].recomputed is built["trend_movers"].recomputed is Recomputed.all
    for name in ("usage", "active_subjects", "email_funnel", "consent_changes", "billing_quotas"):
        assert built[name].recomputed is Recomputed.none, name
    assert_equals_full_build(built_lake, tmp_path)


def test_a_rewritten_past_day_with_fewer_rows_changes_its_figures_and_equals_a_full_build(
    built_lake, tmp_path
):
    # As erasure does: the same file name, rewritten without one subject's rows.
    day = FIRST + dt.timedelta(days=9)
    (path,) = partition(built_lake, "analytics", day).glob("*.parquet")
    table = pq.read_table(path)
    subjects = [(r["subject"] or {}).get("user_id") for r in table.to_pylist()]
    erased = next(user for user in subjects if user is not None)
    pq.write_table(table.filter([user != erased for user in subjects]), path)
    before = pq.read_table(table_path(built_lake.root, "usage")).to_pylist()

    built = by_name(build(built_lake.root, database(built_lake), K))

    assert built["usage"].days == built["active_subjects"].days == (day,)
    after = pq.read_table(table_path(built_lake.root, "usage")).to_pylist()
    assert [r for r in after if r["event_date"] == day] != [
        r for r in before if r["event_date"] == day
    ]
    assert_equals_full_build(built_lake, tmp_path)


def test_a_removed_day_drops_its_cells_and_equals_a_full_build(built_lake, tmp_path):
    gone = FIRST  # retention removes the oldest day first
    for purpose in ("analytics", "traffic"):
        shutil.rmtree(partition(built_lake, purpose, gone))

    built = by_name(build(built_lake.root, database(built_lake), K))

    assert built["web_traffic"].days == (gone,)
    for name in ("usage", "web_traffic"):
        rows = pq.read_table(table_path(built_lake.root, name)).to_pylist()
        assert gone not in {r["event_date"] for r in rows}
    assert_equals_full_build(built_lake, tmp_path)


def test_an_unchanged_lake_recomputes_and_rewrites_nothing(built_lake):
    files = [table_path(built_lake.root, a.name) for a in AGGREGATES]
    times = [path.stat().st_mtime_ns for path in [*files, state_path(built_lake.root)]]

    built = build(built_lake.root, database(built_lake), K)

    assert {item.recomputed for item in built} == {Recomputed.none}
    assert [path.stat().st_mtime_ns for path in [*files, state_path(built_lake.root)]] == times
    rows = pq.read_table(table_path(built_lake.root, "usage")).num_rows
    assert by_name(built)["usage"].rows == rows


@pytest.mark.parametrize(
    "change",
    ["k", "definition", "corrupt state", "missing table", "full"],
)
def test_a_changed_k_definition_state_or_table_forces_a_full_build(built_lake, change):
    k, aggregates, full = K, AGGREGATES, False
    if change == "k":
        k = K + 1
    elif change == "definition":
        aggregates = tuple(
            dataclasses.replace(a, sql=a.sql.replace("count(*) as events", "count(1) as events"))
            for a in AGGREGATES
        )
    elif change == "corrupt state":
        state_path(built_lake.root).write_text("{not json")
    elif change == "missing table":
        table_path(built_lake.root, "billing_quotas").unlink()
    else:
        full = True

    built = build(built_lake.root, database(built_lake), k, aggregates=aggregates, full=full)

    assert {item.recomputed for item in built} == {Recomputed.all}
    state = read_state(built_lake.root)
    assert state is not None and state.k == k


def test_the_build_state_records_k_time_and_the_lake_it_read(built_lake):
    state = read_state(built_lake.root)

    assert state is not None and state.k == K
    assert state.built_at.tzinfo is not None
    analytics = state.lake["analytics"]
    assert analytics["partitions"] == DAYS
    assert (analytics["first_day"], analytics["last_day"]) == (
        FIRST.isoformat(),
        (NEW_DAY - dt.timedelta(days=1)).isoformat(),
    )


def test_a_build_stopped_before_its_state_is_written_recomputes_the_same_days_next_time(
    built_lake, tmp_path, monkeypatch
):
    add_day(built_lake, NEW_DAY, seed=99)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt  # stopped after the tables were written, before the state

    with monkeypatch.context() as patch:
        patch.setattr("usage_pipeline.aggregates.build.write_database", stop)
        with pytest.raises(KeyboardInterrupt):
            build(built_lake.root, database(built_lake), K)
    built = by_name(build(built_lake.root, database(built_lake), K))

    assert built["usage"].recomputed is Recomputed.periods and built["usage"].days == (NEW_DAY,)
    assert_equals_full_build(built_lake, tmp_path)


def test_a_full_build_stopped_half_way_is_followed_by_another_full_build(built_lake, monkeypatch):
    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("usage_pipeline.aggregates.build.write_database", stop)
        with pytest.raises(KeyboardInterrupt):
            build(built_lake.root, database(built_lake), K + 1)  # some tables now use K + 1
    built = build(built_lake.root, database(built_lake), K)

    assert {item.recomputed for item in built} == {Recomputed.all}


def test_tables_built_side_by_side_are_reported_in_order_and_an_error_stops_the_build(lake):
    add_day(lake, FIRST, seed=1)
    heard: list[str] = []

    build(lake.root, database(lake), K, on_built=lambda item: heard.append(item.name))

    assert heard == [a.name for a in AGGREGATES]
    broken = tuple(
        dataclasses.replace(a, sql="select nope from clean_traffic") if a.name == "usage" else a
        for a in AGGREGATES
    )
    state_path(lake.root).unlink()
    with pytest.raises(duckdb.Error, match="nope"):
        build(lake.root, database(lake), K, aggregates=broken)
    assert read_state(lake.root) is None


# ---------------------------------------------------------------- per-day partials

PARTIAL_TABLES = sorted(a.name for a in AGGREGATES if a.daily is not None)


def partials(lake: Lake) -> dict[Path, int]:
    """Every partial file and its inode (a rewritten file has a new one)."""
    root = lake.root / AGGREGATES_DIR / DAILY_DIR
    return {path: path.stat().st_ino for path in root.rglob("*.parquet")}


def day_of(path: Path) -> dt.date:
    return dt.date.fromisoformat(path.name.split(".")[0])


def test_every_table_with_a_daily_query_keeps_one_partial_per_lake_day(built_lake):
    kept = partials(built_lake)

    assert PARTIAL_TABLES == ["active_subjects", "email_funnel"]
    for name in PARTIAL_TABLES:
        days = sorted(day_of(path) for path in kept if path.parent.name == name)
        assert days == [FIRST + dt.timedelta(days=n) for n in range(DAYS)], name


def test_a_new_day_computes_its_own_partials_and_reuses_the_others(built_lake, tmp_path):
    before = partials(built_lake)
    add_day(built_lake, NEW_DAY, seed=99)

    build(built_lake.root, database(built_lake), K)

    after = partials(built_lake)
    assert {path: after[path] for path in before} == before
    assert sorted((p.parent.name, day_of(p)) for p in after.keys() - before.keys()) == [
        (name, NEW_DAY) for name in PARTIAL_TABLES
    ]
    assert_equals_full_build(built_lake, tmp_path)


def test_a_day_rewritten_without_a_subject_leaves_its_pseudonym_in_no_partial(built_lake):
    day = FIRST + dt.timedelta(days=4)
    erased = "k0000test:5f3c9e0a7b214d6f8e1a2b3c4d5e6f70"
    built_lake.add("analytics", [used(f"{day}T12:00", erased), used(f"{day}T13:00", erased)])
    build(built_lake.root, database(built_lake), K)
    assert holding(built_lake, erased) == ["active_subjects"]
    # As erasure does: the subject's file rewritten under its name, without its rows.
    (path,) = [
        p
        for p in partition(built_lake, "analytics", day).glob("*.parquet")
        if erased.encode() in p.read_bytes()
    ]
    table = pq.read_table(path)
    pq.write_table(table.slice(0, 0), path)

    build(built_lake.root, database(built_lake), K)

    assert holding(built_lake, erased) == []
    assert len([p for p in partials(built_lake) if day_of(p) == day]) == len(PARTIAL_TABLES)


def holding(lake: Lake, needle: str) -> list[str]:
    """The folders of the files under aggregates/ that hold ``needle``."""
    root = lake.root / AGGREGATES_DIR
    files = (p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes())
    return sorted(p.parent.name for p in files)


def test_the_partials_of_a_removed_day_are_deleted(built_lake, tmp_path):
    for folder in built_lake.root.glob(f"clean/*/event_date={FIRST.isoformat()}"):
        shutil.rmtree(folder)

    build(built_lake.root, database(built_lake), K)

    assert FIRST not in {day_of(path) for path in partials(built_lake)}
    assert_equals_full_build(built_lake, tmp_path)


def test_a_forced_full_build_computes_every_partial_again(built_lake):
    before = partials(built_lake)

    build(built_lake.root, database(built_lake), K, full=True)

    after = partials(built_lake)
    assert after.keys() == before.keys()
    assert all(after[path] != before[path] for path in before)


def test_files_a_stopped_build_left_behind_are_removed(built_lake):
    root = built_lake.root / AGGREGATES_DIR / DAILY_DIR
    leftovers = [root / "_tmp" / "usage.data.parquet.0.tmp", root / "dropped_table" / "x.parquet"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half-written")

    build(built_lake.root, database(built_lake), K)

    assert not any(path.exists() for path in leftovers)


def test_tables_computed_one_period_and_one_day_at_a_time_equal_those_of_one_query(
    built_lake, tmp_path, monkeypatch
):
    # The default computes this small lake in one query per table; a limit of one byte
    # makes every period, and every day's partial, a query of its own.
    one_at_a_time = Lake(tmp_path / "chunked")
    shutil.copytree(built_lake.root / "clean", one_at_a_time.root / "clean")
    monkeypatch.setattr("usage_pipeline.aggregates.build.CHUNK_BYTES", 1)
    monkeypatch.setattr("usage_pipeline.aggregates.daily.CHUNK_BYTES", 1)

    build(one_at_a_time.root, database(one_at_a_time), K)

    for aggregate in AGGREGATES:
        chunked = pq.read_table(table_path(one_at_a_time.root, aggregate.name))
        whole = pq.read_table(table_path(built_lake.root, aggregate.name))
        assert chunked.to_pylist() == whole.to_pylist(), aggregate.name
