"""Benchmark: every DuckDB aggregate from N clean rows, against the same computation in pandas.

N synthetic clean rows (usage, web traffic, e-mail, consent over 28 UTC days) are written
straight into a lake as Parquet, one file per output and day (as after compaction), with
the columns the aggregates read (aggregates/lake.py SOURCE_SCHEMAS) and ids shaped as the
stream writes them: pseudonyms `<key id>:<32 hex>`, visitor ids of 32 hex digits, each
visitor with one host and user agent a day. Then, each in its own process so that peak RSS
is its own (wall and CPU seconds: CPU shows the work when the cores are shared):

  duckdb build    aggregates.build.build(): all aggregates, suppression, Parquet, database
  duckdb main 4   build() of active_subjects, usage, web_traffic, email_funnel alone over
                  the same files, per-day partials included
  pandas main 4   the same four in pandas (read Parquet via pyarrow, groupby, rollups),
                  without suppression: a lower bound for pandas; left out when its peak
                  (about 0.5 KiB a row) would not fit in free memory
  new day         one more day written, then an incremental build() (its periods only)
  day rewritten   a past day's files rewritten (new inodes, as erasure does), then an
                  incremental build(): the last day of a month, so its month is recomputed

Usage: python bench/aggregates.py [--rows 10000000] [--no-pandas] [--json results.json]
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from multiprocessing import get_context
from pathlib import Path

# This file's name hides the `aggregates` package while bench/ leads sys.path: put it last.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from usage_pipeline.aggregates.build import Recomputed, build  # noqa: E402
from usage_pipeline.aggregates.lake import SOURCE_SCHEMAS  # noqa: E402
from usage_pipeline.aggregates.tables import AGGREGATES  # noqa: E402

sys.path.append(str(_BENCH))
import harness  # noqa: E402

DAYS = 28
FIRST_DAY = dt.date(2026, 10, 5)  # a Monday
SHARES = {"usage": 0.50, "traffic": 0.35, "email": 0.10, "partner": 0.03, "consent": 0.02}
USERS, ACCOUNTS, VISITORS = 200_000, 20_000, 60_000
FEATURES = [f"feature-{n}" for n in range(40)]
PROGRAMS = [f"prg-{n:04d}" for n in range(300)]
SERVICES = ["portal", "studio", "mail", "player", "api"]
HOSTS = ["www.example.com", "docs.example.com", "app.example.com", "media.example.com"]
BROWSERS = ["Chrome", "Firefox", "Safari", "Edge", "Mobile Safari", "Chrome Mobile", "Opera"]
OSES = ["Windows", "Mac OS X", "Linux", "iOS", "Android"]
DEVICES = ["desktop", "mobile", "tablet"]
ACTIONS = ["sent", "delivered", "opened", "clicked", "unsubscribed", "bounced", "complained"]
ACTION_WEIGHTS = [0.40, 0.36, 0.14, 0.05, 0.01, 0.03, 0.01]
CAMPAIGNS = [f"c-{n:03d}" for n in range(60)]
KINDS = ["newsletter", "promotional", "broadcast", "transactional"]
DOMAINS = [f"isp{n}.example" for n in range(30)]
PURPOSES = ["analytics", "marketing", "partner_sharing"]
REWRITTEN = FIRST_DAY + dt.timedelta(days=26)  # 2026-10-31: the last day of a month
PANDAS_KIB_PER_ROW = 0.5 * 1.2  # measured peak per row, with a margin
KEY_ID = "k3f9a1c2e:"  # the pseudonyms' key id prefix
MAIN = ("active_subjects", "usage", "web_traffic", "email_funnel")


def pick(rng: np.random.Generator, values: list[str], n: int, skew: float = 1.1) -> pa.Array:
    """n strings from values, the first ones most often (a Zipf-like draw)."""
    weights = 1 / np.arange(1, len(values) + 1) ** skew
    index = rng.choice(len(values), size=n, p=weights / weights.sum()).astype(np.int32)
    return pa.DictionaryArray.from_arrays(index, pa.array(values)).cast(pa.string())


def draw(rng: np.random.Generator, pool: int, n: int) -> np.ndarray:
    """n indexes into a pool of ``pool`` members, some far more active than others."""
    return (rng.pareto(1.5, n) * pool / 20).astype(np.int64) % pool


def ids(prefix: str, pool: int, index: np.ndarray) -> pa.Array:
    """The ids of pool members ``index``, shaped as the lake's.

    Subjects are pseudonyms (``<key id>:<32 hex>``), visitors 32 hex digits, as the stream
    writes them (docs/lake.md): their length is part of what distinct counts cost.
    """
    return id_pool(prefix, pool).take(pa.array(index))


@functools.lru_cache(maxsize=4)
def id_pool(prefix: str, pool: int) -> pa.Array:
    """``pool`` distinct ids of one kind: pseudonyms, or visitor ids when ``prefix`` says so."""
    digests = [
        hashlib.blake2b(f"{prefix}{k}".encode(), digest_size=16).hexdigest() for k in range(pool)
    ]
    key = "" if prefix.startswith("v") else KEY_ID
    return pa.array([key + digest for digest in digests])


def struct(kind: pa.StructType, n: int, **arrays: pa.Array) -> pa.StructArray:
    """A struct column of ``kind``; fields not given are NULL."""
    fields = [kind.field(i) for i in range(kind.num_fields)]
    columns = [arrays.get(f.name, pa.nulls(n, f.type)) for f in fields]
    return pa.StructArray.from_arrays(columns, fields=fields)


def envelope(
    purpose: str, event_type: str, day: dt.date, n: int, rng: np.random.Generator, start: int
) -> dict[str, pa.Array]:
    midnight = np.datetime64(day.isoformat(), "us").astype(np.int64)
    micros = midnight + np.sort(rng.integers(0, 86_400_000_000, n))
    return {
        "event_id": pc.binary_join_element_wise(
            "e", pc.cast(pa.array(np.arange(start, start + n)), pa.string()), ""
        ),
        "event_type": pa.array([event_type] * n) if n < 2 else pa.repeat(event_type, n),
        "occurred_at": pa.array(micros, pa.timestamp("us", tz="UTC")),
        "purpose": pa.repeat(purpose, n),
    }


def write(lake: Path, purpose: str, day: dt.date, columns: dict[str, pa.Array], start: int):
    schema = SOURCE_SCHEMAS[purpose]
    schema = schema.remove(schema.get_field_index("event_date"))
    table = pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)
    folder = lake / "clean" / purpose / f"event_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"clean.{purpose}+0+{start:010d}-{start + table.num_rows - 1:010d}.parquet"
    pq.write_table(table, folder / name, compression="zstd")


def generate(lake: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` clean rows over DAYS days into ``lake``."""
    rng = np.random.default_rng(seed)
    for offset in range(DAYS):
        generate_day(lake, rows, offset, rng)


def generate_day(lake: Path, rows: int, offset: int, rng: np.random.Generator) -> None:
    """Write day ``offset``'s share of ``rows`` (less on weekends), offsets after earlier days."""
    per_day = {kind: max(int(rows * share / DAYS), 1) for kind, share in SHARES.items()}
    day = FIRST_DAY + dt.timedelta(days=offset)
    weekday = 0.7 if day.weekday() >= 5 else 1.0
    start = offset * 2 * rows // DAYS  # above every earlier day's offsets
    for kind, n in per_day.items():
        count = max(int(n * weekday), 1)
        purpose, columns = GENERATORS[kind](rng, day, count, start)
        write(lake, purpose, day, columns, start)
        start += count


def usage_rows(rng, day, n, start):
    schema = SOURCE_SCHEMAS["analytics"]
    feature = rng.random(n) < 0.7
    granted = rng.random(n) < 0.9
    users = draw(rng, USERS, n)
    columns = envelope("analytics", "usage.feature_used", day, n, rng, start)
    columns["event_type"] = pa.array(np.where(feature, "usage.feature_used", "usage.media_played"))
    subject = struct(
        schema.field("subject").type,
        n,
        # A user belongs to one account.
        account_id=pc.if_else(pa.array(granted), ids("a", ACCOUNTS, users % ACCOUNTS), None),
        user_id=pc.if_else(pa.array(granted), ids("u", USERS, users), None),
    )
    columns["subject"] = pc.if_else(pa.array(granted), subject, None)
    mask = pa.array(feature)
    programs = pick(rng, PROGRAMS, n)
    columns["properties"] = struct(
        schema.field("properties").type,
        n,
        service=pick(rng, SERVICES, n),
        feature=pc.if_else(mask, pick(rng, FEATURES, n), None),
        duration_ms=pc.if_else(mask, pa.array(rng.integers(10, 60_000, n)), None),
        program_id=pc.if_else(mask, None, programs),
        program_title=pc.if_else(mask, None, pc.binary_join_element_wise("Show ", programs, "")),
        duration_s=pc.if_else(mask, None, pa.array(rng.exponential(600, n))),
        bytes=pc.if_else(mask, None, pa.array(rng.integers(10_000, 50_000_000, n))),
    )
    columns["context"] = struct(schema.field("context").type, n)
    columns["consent"] = pa.array(np.where(granted, "granted", "not_granted"))
    return "analytics", columns


def traffic_rows(rng, day, n, start):
    schema = SOURCE_SCHEMAS["traffic"]
    columns = envelope("traffic", "traffic.web_request", day, n, rng, start)
    # A visitor id hashes IP, user agent and host with the day's salt: within a day, one
    # visitor has one host, browser, OS and device class.
    visitors = pa.array(draw(rng, VISITORS, n))
    agent = struct(
        schema.field("context").type.field("user_agent").type,
        n,
        browser_family=pick(rng, BROWSERS, VISITORS).take(visitors),
        os_family=pick(rng, OSES, VISITORS).take(visitors),
        device_class=pick(rng, DEVICES, VISITORS).take(visitors),
    )
    columns["context"] = struct(
        schema.field("context").type,
        n,
        host=pick(rng, HOSTS, VISITORS).take(visitors),
        user_agent=agent,
        visitor_id=ids(f"v{day.toordinal()}-", VISITORS, visitors),
    )
    columns["properties"] = struct(
        schema.field("properties").type,
        n,
        method=pa.repeat("GET", n),
        status=pa.array(np.where(rng.random(n) < 0.97, 200, 404)),
        response_bytes=pa.array(rng.integers(200, 2_000_000, n)),
        duration_ms=pa.array(rng.integers(1, 2_000, n)),
        page_view=pa.array(rng.random(n) < 0.7),
    )
    columns["consent"] = pa.repeat("not_required", n)
    return "traffic", columns


def email_rows(purpose: str):
    def rows(rng, day, n, start):
        schema = SOURCE_SCHEMAS[purpose]
        columns = envelope(purpose, "email.activity", day, n, rng, start)
        action_index = rng.choice(len(ACTIONS), size=n, p=ACTION_WEIGHTS).astype(np.int32)
        actions = pa.DictionaryArray.from_arrays(action_index, pa.array(ACTIONS)).cast(pa.string())
        bounced = pc.equal(actions, "bounced")
        columns["subject"] = struct(
            schema.field("subject").type, n, user_id=ids("u", USERS, draw(rng, USERS, n))
        )
        recipient = pick(rng, DOMAINS, n) if purpose == "partner_sharing" else None
        columns["properties"] = struct(
            schema.field("properties").type,
            n,
            action=actions,
            campaign_id=pick(rng, CAMPAIGNS, n, skew=0.6),
            campaign_kind=pick(rng, KINDS, n),
            bounce_type=pc.if_else(bounced, pick(rng, ["hard", "soft"], n), None),
            **({"recipient": recipient} if recipient is not None else {}),
        )
        columns["context"] = struct(schema.field("context").type, n)
        columns["consent"] = pa.repeat("granted", n)
        return purpose, columns

    return rows


def consent_rows(rng, day, n, start):
    schema = SOURCE_SCHEMAS["service"]
    columns = envelope("service", "consent.changed", day, n, rng, start)
    columns["subject"] = struct(
        schema.field("subject").type, n, user_id=ids("u", USERS, draw(rng, USERS, n))
    )
    columns["properties"] = struct(
        schema.field("properties").type,
        n,
        purpose=pick(rng, PURPOSES, n),
        status=pa.array(np.where(rng.random(n) < 0.8, "granted", "withdrawn")),
        source=pa.repeat("settings", n),
        effective_at=columns["occurred_at"],
    )
    columns["context"] = struct(schema.field("context").type, n)
    columns["consent"] = pa.repeat("not_required", n)
    return "service", columns


GENERATORS = {
    "usage": usage_rows,
    "traffic": traffic_rows,
    "email": email_rows("analytics"),
    "partner": email_rows("partner_sharing"),
    "consent": consent_rows,
}


# ---------------------------------------------------------------- measured, each in a process

Figures = dict[str, float]


@contextmanager
def measured() -> Iterator[Figures]:
    """Figures of the block: wall and CPU seconds (CPU shows the work when cores are shared)."""
    figures: Figures = {}
    started, cpu = time.perf_counter(), cpu_seconds()
    yield figures
    figures["seconds"] = time.perf_counter() - started
    figures["cpu_seconds"] = cpu_seconds() - cpu


def cpu_seconds() -> float:
    """User and system CPU time of this process so far (every DuckDB thread included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_duckdb_build(lake: str) -> Figures:
    with measured() as figures:
        build(Path(lake), Path(lake) / "aggregates.duckdb", k=10)
    return figures


def run_duckdb_incremental(rows: int, lake: str) -> Figures:
    """An incremental build after one new day (written before the clock starts)."""
    generate_day(Path(lake), rows, DAYS, np.random.default_rng(DAYS))
    with measured() as figures:
        built = build(Path(lake), Path(lake) / "aggregates.duckdb", k=10)
    assert any(b.recomputed is Recomputed.periods for b in built)
    return figures


def run_duckdb_rewritten(lake: str) -> Figures:
    """An incremental build after a past day's files were rewritten, as erasure does.

    The day is the last of a full month, so its week and month are read again: the most a
    changed day costs.
    """
    for path in sorted(Path(lake).glob(f"clean/*/event_date={REWRITTEN.isoformat()}/*.parquet")):
        copy = path.with_name(f"{path.name}.tmp")
        shutil.copy2(path, copy)  # a new inode: the day's fingerprint changes
        copy.replace(path)
    with measured() as figures:
        built = build(Path(lake), Path(lake) / "aggregates.duckdb", k=10)
    assert any(REWRITTEN in b.days for b in built)
    return figures


def run_duckdb_main(lake: str) -> Figures:
    """The four main tables as build() makes them (with suppression), over the same files."""
    root = Path(tempfile.mkdtemp(prefix="main4-", dir=Path(lake).parent))
    (root / "clean").symlink_to(Path(lake) / "clean")
    main4 = tuple(a for a in AGGREGATES if a.name in MAIN)
    with measured() as figures:
        build(root, root / "aggregates.duckdb", k=10, aggregates=main4, full=True)
    shutil.rmtree(root)
    return figures


def read_flat(lake: Path, purpose: str, columns: list[str]) -> pd.DataFrame:
    """One purpose's rows with the nested columns flattened (``properties.service`` ...)."""
    table = pq.read_table(lake / "clean" / purpose, partitioning="hive")
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    frame = table.select(columns).to_pandas()
    frame["event_date"] = pd.to_datetime(frame["event_date"].astype(str))
    return frame


def rollup(frame: pd.DataFrame, fixed: list[str], levels: list[str], agg: dict) -> pd.DataFrame:
    """GROUP BY fixed, ROLLUP(levels): one groupby per level, NULL for the rolled-up ones."""
    parts = []
    for depth in range(len(levels), -1, -1):
        keys = fixed + levels[:depth]
        if keys:
            part = frame.groupby(keys, observed=True, sort=False).agg(**agg).reset_index()
        else:
            part = frame.agg(**{name: (col, fn) for name, (col, fn) in agg.items()}).T
        for level in levels[depth:]:
            part[level] = None
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def run_pandas_main(lake: str) -> Figures:
    with measured() as figures:
        pandas_main4(Path(lake))
    return figures


def pandas_main4(lake: Path) -> None:
    """The four main tables in pandas, without suppression."""
    analytics = read_flat(
        lake,
        "analytics",
        [
            "event_type",
            "event_date",
            "consent",
            "subject.account_id",
            "subject.user_id",
            "properties.service",
            "properties.feature",
            "properties.program_id",
            "properties.duration_ms",
            "properties.duration_s",
            "properties.bytes",
            "properties.action",
            "properties.campaign_id",
            "properties.campaign_kind",
        ],
    )
    # active_subjects
    usage = analytics[analytics["event_type"].isin(["usage.feature_used", "usage.media_played"])]
    granted = usage[usage["consent"] == "granted"]
    periods = {
        "day": granted["event_date"],
        "week": granted["event_date"].dt.to_period("W-SUN").dt.start_time,
        "month": granted["event_date"].dt.to_period("M").dt.start_time,
    }
    active = pd.concat(
        granted.assign(period=name, period_start=start)
        .groupby(["period", "period_start"])
        .agg(
            active_accounts=("subject.account_id", "nunique"),
            active_users=("subject.user_id", "nunique"),
        )
        .reset_index()
        for name, start in periods.items()
    )
    # usage
    frame = pd.DataFrame(
        {
            "event_date": usage["event_date"],
            "service": usage["properties.service"].fillna("(none)"),
            "kind": np.where(usage["event_type"] == "usage.feature_used", "feature", "program"),
            "item": usage["properties.feature"]
            .fillna(usage["properties.program_id"])
            .fillna("(none)"),
            "user": usage["subject.user_id"],
            "duration_s": (usage["properties.duration_ms"] / 1000).fillna(
                usage["properties.duration_s"]
            ),
            "bytes": usage["properties.bytes"],
        }
    )
    usage_table = rollup(
        frame,
        ["event_date"],
        ["service", "kind", "item"],
        {
            "events": ("user", "size"),
            "users": ("user", "nunique"),
            "duration_s": ("duration_s", "sum"),
            "bytes": ("bytes", "sum"),
        },
    )
    # email_funnel
    mail = analytics[analytics["event_type"] == "email.activity"]
    mail = pd.DataFrame(
        {
            "campaign_kind": mail["properties.campaign_kind"].fillna("(none)"),
            "campaign_id": mail["properties.campaign_id"].fillna("(none)"),
            "recipient": mail["subject.user_id"].fillna(mail["subject.account_id"]),
            **{a: mail["properties.action"] == a for a in ACTIONS},
        }
    )
    funnel = rollup(
        mail,
        [],
        ["campaign_kind", "campaign_id"],
        {**{a: (a, "sum") for a in ACTIONS}, "_subjects": ("recipient", "nunique")},
    )
    funnel["open_rate"] = funnel["opened"] / funnel["delivered"].replace(0, np.nan)
    del analytics, usage, granted, frame, mail
    # web_traffic
    traffic = read_flat(
        lake,
        "traffic",
        [
            "event_date",
            "occurred_at",
            "context.host",
            "context.user_agent.browser_family",
            "context.user_agent.os_family",
            "context.user_agent.device_class",
            "context.visitor_id",
            "properties.page_view",
            "properties.response_bytes",
        ],
    )
    traffic["hour_of_day"] = traffic["occurred_at"].dt.hour.astype(str).str.zfill(2)
    traffic["page_view"] = traffic["properties.page_view"].fillna(False).astype(bool)
    measures = {
        "requests": ("context.visitor_id", "size"),
        "page_views": ("page_view", "sum"),
        "unique_visitors": ("context.visitor_id", "nunique"),
        "response_bytes": ("properties.response_bytes", "sum"),
    }
    dimensions = {
        "host": "context.host",
        "browser_family": "context.user_agent.browser_family",
        "os_family": "context.user_agent.os_family",
        "device_class": "context.user_agent.device_class",
        "hour_of_day": "hour_of_day",
    }
    web = pd.concat(
        [
            traffic.groupby(["event_date", column])
            .agg(**measures)
            .reset_index()
            .rename(columns={column: "value"})
            .assign(dimension=name)
            for name, column in dimensions.items()
        ]
        + [traffic.groupby("event_date").agg(**measures).reset_index().assign(value=None)]
    )
    sizes = (len(active), len(usage_table), len(web), len(funnel))
    assert all(sizes), sizes


def in_child(function: Callable[[str], Figures], lake: Path) -> Figures:
    """Run one measurement in a fresh process: its figures and its own peak RSS."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_with_rss, function, str(lake)).result()


def _with_rss(function: Callable[[str], Figures], lake: str) -> Figures:
    return {**function(lake), "peak_rss_mib": harness.peak_rss_mib()}


def pandas_fits(rows: int) -> bool:
    """Whether pandas' peak (about 0.5 KiB a row, measured at 10M rows) fits in free memory."""
    with Path("/proc/meminfo").open() as meminfo:
        fields = dict(line.split(":", 1) for line in meminfo)
    available_kib = int(fields["MemAvailable"].split()[0])
    return rows * PANDAS_KIB_PER_ROW < 0.8 * available_kib


def main() -> None:
    command_line = harness.parser(__doc__, "rows", 10_000_000)
    command_line.add_argument(
        "--no-pandas", dest="pandas", action="store_false", help="leave the pandas baseline out"
    )
    args = command_line.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-aggregates-"))
    lake = root / "lake"
    try:
        started = time.perf_counter()
        generate(lake, args.rows)
        generated = time.perf_counter() - started
        written = sum(f.stat().st_size for f in lake.rglob("*.parquet")) / 2**20
        print(f"generated {args.rows:,} rows in {generated:.1f} s ({written:,.0f} MiB Parquet)")
        measurements: list[tuple[str, Callable[[str], Figures]]] = [
            ("duckdb_build_all", run_duckdb_build),
            ("duckdb_main4", run_duckdb_main),
            ("pandas_main4", run_pandas_main),
            ("duckdb_build_new_day", partial(run_duckdb_incremental, args.rows)),
            ("duckdb_build_day_rewritten", run_duckdb_rewritten),
        ]
        if not args.pandas or not pandas_fits(args.rows):
            print("pandas left out: --no-pandas, or its peak would not fit in free memory")
            measurements = [m for m in measurements if m[0] != "pandas_main4"]
        results = {}
        for name, function in measurements:
            figures = in_child(function, lake)
            results[name] = {key: round(value, 2) for key, value in figures.items()}
            print(
                f"{name:27} {figures['seconds']:8.2f} s  {figures['cpu_seconds']:8.2f} s CPU"
                f"   peak RSS {figures['peak_rss_mib']:8,.0f} MiB",
                flush=True,
            )
        ratios = {}
        if "pandas_main4" in results:
            pandas = results["pandas_main4"]["seconds"]
            ratios["ratio_same_four"] = pandas / results["duckdb_main4"]["seconds"]
            ratios["ratio_build_all"] = pandas / results["duckdb_build_all"]["seconds"]
            print(f"pandas / duckdb, same four aggregates: {ratios['ratio_same_four']:5.1f}x")
            print(f"pandas four / duckdb all tables:       {ratios['ratio_build_all']:5.1f}x")
        harness.save(
            args.json,
            {
                "rows": args.rows,
                "generate_seconds": round(generated, 1),
                "parquet_mib": round(written),
                **results,
                **{name: round(ratio, 2) for name, ratio in ratios.items()},
            },
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
