"""DuckDB aggregates over the Parquet lake: usage and trend statistics, small cells suppressed."""
