"""Where the pipeline keeps data and how its groups are named: what subject commands need.

Resolved from the settings at the edge (``usage_pipeline.resolve.subject_stores``), so the
subject commands take this one frozen value instead of the root settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from usage_pipeline.broker.config import ProducerSettings


@dataclass(frozen=True)
class Stores:
    """The deployment's topics, lake, aggregates and consumer groups."""

    namespace: str  # prefix of every topic name
    lake_dir: Path
    database: Path  # the aggregates' DuckDB file
    k: int  # smallest count an aggregate cell may publish
    stream_group: str  # the stream workers' consumer group, with the namespace
    sink_group: str  # the sink's consumer group, with the namespace
    client_id: str
    producer: ProducerSettings  # how tombstones are produced
