"""Names of the Parquet lake that its writer (the sink) and its readers (the aggregates,
analysts) share: one definition, so the two sides cannot part."""

from __future__ import annotations

EVENT_DATE = "event_date"  # the partition column: each day's folder is event_date=<day>
