"""Leak audit: finds e-mail addresses, full IP addresses and canary values where none belong.

`usage-pipeline audit scan` scans the Parquet lake, the DuckDB aggregates, the dead-letter
topic and the logs; it reports each finding's place and kind, never the value.
"""
