"""The aggregates' settings section (`usage-pipeline aggregate`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from usage_pipeline.schemas.section import Section


class AggregateSettings(Section):
    """The DuckDB aggregates (`usage-pipeline aggregate`); they read `sink.lake_dir`."""

    database: Path = Field(
        Path("lake/aggregates.duckdb"),
        description="DuckDB file with one view per aggregate, for analysts.",
    )
    k: int = Field(
        10, ge=2, description="Smallest number of distinct subjects a published cell may count."
    )
