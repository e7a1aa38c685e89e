"""Hand-made lakes: clean rows written as Parquet in the sink's layout, and a build over them."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from usage_pipeline.aggregates.build import build
from usage_pipeline.aggregates.lake import SOURCE_SCHEMAS
from usage_pipeline.aggregates.publish import table_path

TOPICS = {"partner_sharing": "clean.partner"}


def at(text: str) -> dt.datetime:
    """A UTC timestamp from ``YYYY-MM-DDTHH:MM``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def row(event_type: str, occurred_at: str, consent: str = "granted", **parts: object) -> dict:
    """One clean row; ``parts`` are subject, context and properties dicts."""
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": at(occurred_at),
        "consent": consent,
        **parts,
    }


def used(when: str, user: str | None, feature: str = "search", service: str = "portal", **extra):
    """An analytics ``usage.feature_used`` row (no subject means no consent)."""
    subject = {"user_id": user, "account_id": f"acct-of-{user}"} if user else None
    return row(
        "usage.feature_used",
        when,
        "granted" if user else "not_granted",
        subject=subject,
        properties={"service": service, "feature": feature, **extra},
    )


def request(when: str, visitor: str, host: str = "www.example.com", **user_agent: str) -> dict:
    """A traffic ``traffic.web_request`` page view."""
    agent = {"browser_family": "Firefox", "os_family": "Linux", "device_class": "desktop"}
    return row(
        "traffic.web_request",
        when,
        "not_required",
        context={"host": host, "visitor_id": visitor, "user_agent": {**agent, **user_agent}},
        properties={"method": "GET", "status": 200, "response_bytes": 100, "page_view": True},
    )


class Lake:
    """A lake folder that tests fill with rows, one file per purpose and day per call."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.offsets = itertools.count()

    def add(self, purpose: str, rows: list[dict]) -> None:
        """Write rows into ``clean/<purpose>/event_date=<UTC day>/`` like the sink does."""
        schema = SOURCE_SCHEMAS[purpose]
        file_schema = schema.remove(schema.get_field_index("event_date"))
        by_day: dict[dt.date, list[dict]] = defaultdict(list)
        for item in rows:
            by_day[item["occurred_at"].date()].append({"purpose": purpose, **item})
        topic = TOPICS.get(purpose, f"clean.{purpose}")
        for day, day_rows in by_day.items():
            folder = self.root / "clean" / purpose / f"event_date={day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            start = next(self.offsets) * 1000
            name = f"{topic}+0+{start:010d}-{start + len(day_rows) - 1:010d}.parquet"
            pq.write_table(pa.Table.from_pylist(day_rows, schema=file_schema), folder / name)

    def build(self, k: int = 1) -> dict[str, list[dict]]:
        """Build every aggregate; each published table's rows, by aggregate name."""
        build(self.root, self.root / "aggregates.duckdb", k)
        return self.published()

    def published(self) -> dict[str, list[dict]]:
        """Every published table's rows, read back from its Parquet file."""
        folder = self.root / "aggregates"
        return {
            path.name: pq.read_table(table_path(self.root, path.name)).to_pylist()
            for path in folder.iterdir()
            if path.is_dir() and not path.name.startswith("_")
        }


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """An empty lake in a temporary folder."""
    return Lake(tmp_path / "lake")
