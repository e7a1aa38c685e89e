"""Leak audit: finds e-mail addresses, full IP addresses and canary values where none belong.

`usage-pipeline audit scan` scans the Parquet lake, the DuckDB aggregates, the dead-letter
topic and the logs; it reports each finding's place and kind, never the value.
"""

from usage_pipeline.audit.detectors import Detector, Hit
from usage_pipeline.audit.report import Allowance, Finding, Location, ScanReport, parse_allowance
from usage_pipeline.audit.scan import DEFAULT_ALLOWANCES, ScanTargets, scan

__all__ = [
    "DEFAULT_ALLOWANCES",
    "Allowance",
    "Detector",
    "Finding",
    "Hit",
    "Location",
    "ScanReport",
    "ScanTargets",
    "parse_allowance",
    "scan",
]
