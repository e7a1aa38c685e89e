"""The sink's settings section (`usage-pipeline sink`) and lake housekeeping."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PositiveInt, field_validator

from usage_pipeline.schemas.section import Section


class SinkSettings(Section):
    """The Parquet lake sink (`usage-pipeline sink`) and lake housekeeping."""

    lake_dir: Path = Field(Path("lake"), description="Root folder of the Parquet lake.")
    group_id: str = Field("usage-pipeline-sink", description="Consumer group of the sink.")
    flush_rows: int = Field(
        100_000,
        ge=1,
        description="Rows of one partition that force a flush, and that publish its open files.",
    )
    flush_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        description="Bytes of records held (buffered or being written) that force a flush.",
    )
    flush_seconds: float = Field(
        2.0,
        gt=0,
        description="Longest time a record waits in a buffer; with the worker's commit "
        "interval it bounds publish-to-Parquet latency at rest (p99 under 5 s).",
    )
    file_seconds: float = Field(
        60.0,
        gt=0,
        description="While the sink reads at least busy_rows_per_s, longest time a partition's "
        "files stay open, each flush appending to them, before they are published; at rest "
        "flush_seconds applies. Fewer, larger files when input is fast.",
    )
    busy_rows_per_s: float = Field(
        1000.0,
        gt=0,
        description="Records read per second, all partitions together, from which the sink "
        "keeps files open up to file_seconds instead of flush_seconds.",
    )
    dedupe_max_ids: int = Field(
        2_000_000, ge=1, description="Event ids kept in memory to drop duplicates (soft limit)."
    )
    retention_days: dict[str, PositiveInt] = Field(
        {"service": 400, "analytics": 400, "marketing": 90, "partner_sharing": 30, "traffic": 30},
        description="Days each purpose's lake partitions are kept, by event date.",
    )

    @field_validator("retention_days")
    @classmethod
    def _keep_other_defaults(cls, value: dict[str, int]) -> dict[str, int]:
        """Setting one purpose's retention keeps the default of the others."""
        default = cls.model_fields["retention_days"].default
        return {**default, **value}
