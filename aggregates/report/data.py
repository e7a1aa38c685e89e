"""The report's inputs: the published (already suppressed) aggregates, read from Parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from usage_pipeline.aggregates.publish import table_path
from usage_pipeline.aggregates.tables import AGGREGATES

Rows = list[dict]


def load_published(lake_dir: Path) -> dict[str, Rows]:
    """Every published aggregate's rows by name; a table not built yet is an empty list.

    Raises FileNotFoundError when no aggregate was published at all.
    """
    tables: dict[str, Rows] = {}
    for aggregate in AGGREGATES:
        path = table_path(lake_dir, aggregate.name)
        tables[aggregate.name] = pq.read_table(path).to_pylist() if path.is_file() else []
    if not any(table_path(lake_dir, a.name).is_file() for a in AGGREGATES):
        raise FileNotFoundError(
            f"{Path(lake_dir) / 'aggregates'}: no aggregates yet; "
            "run `usage-pipeline aggregate build`"
        )
    return tables
