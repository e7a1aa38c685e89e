"""Findings, allowances and the scan report: places and kinds, never values."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from usage_pipeline.audit.detectors import CANARY

MAX_KEPT_FINDINGS = 100_000  # beyond this only counts are kept


@dataclass(frozen=True)
class Location:
    """Where a finding is: a file's row and column, a topic's record, or a file's line."""

    source: str  # "parquet", "duckdb", "kafka", "log", "file"
    path: str  # file path, "<database>/<table>", or the topic
    column: str | None = None  # column, record field, or None for a text line
    row: int | None = None
    line: int | None = None
    partition: int | None = None
    offset: int | None = None

    def __str__(self) -> str:
        if self.source == "kafka":
            place = f"topic {self.path} partition {self.partition} offset {self.offset}"
        elif self.row is not None:
            place = f"{self.path} row {self.row}"
        elif self.line is not None:
            place = f"{self.path} line {self.line}"
        else:
            place = self.path
        return f"{place} {self.column}" if self.column else place


@dataclass(frozen=True)
class Finding:
    """A leak: its kind, where it is, and a reference that is not the value."""

    kind: str
    location: Location
    ref: str


@dataclass(frozen=True)
class Allowance:
    """A place where e-mail and IP addresses may be: a path glob and a column glob.

    The path glob is matched against the location's path as printed (for lake files also
    relative to the lake folder; ``*`` matches ``/`` too). Canaries are never allowed.
    """

    path_glob: str
    column: str

    def __str__(self) -> str:
        return f"{self.path_glob}:{self.column}"

    def allows(self, kind: str, location: Location, relative_path: str | None) -> bool:
        """Whether a finding of ``kind`` at ``location`` is allowed here."""
        if kind == CANARY or location.column is None:
            return False
        if not fnmatchcase(location.column, self.column):
            return False
        paths = [location.path] if relative_path is None else [location.path, relative_path]
        return any(fnmatchcase(path, self.path_glob) for path in paths)


def parse_allowance(text: str) -> Allowance:
    """``PATH_GLOB:COLUMN`` (the last colon separates them) as an Allowance."""
    path_glob, colon, column = text.rpartition(":")
    if not colon or not path_glob or not column:
        raise ValueError(f"an allowance is PATH_GLOB:COLUMN, not {text!r}")
    return Allowance(path_glob, column)


@dataclass
class ScanReport:
    """What a scan found, skipped, allowed and could not read."""

    findings: list[Finding] = field(default_factory=list)
    finding_count: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    allowed: Counter[tuple[str, str]] = field(default_factory=Counter)  # (allowance, kind)
    not_full: Counter[str] = field(default_factory=Counter)
    scanned: Counter[str] = field(default_factory=Counter)  # "parquet files" -> count ...
    skipped: list[str] = field(default_factory=list)  # sources absent, with the reason
    errors: list[str] = field(default_factory=list)  # sources that could not be read

    def add(self, finding: Finding) -> None:
        """Count a finding; keep it unless the report already keeps very many."""
        self.finding_count += 1
        self.by_kind[finding.kind] += 1
        if len(self.findings) < MAX_KEPT_FINDINGS:
            self.findings.append(finding)

    @property
    def exit_code(self) -> int:
        """1 on any finding, 2 when a source could not be read, else 0."""
        if self.finding_count:
            return 1
        return 2 if self.errors else 0

    def summary_lines(self) -> list[str]:
        """What was scanned, allowed, not counted and not readable, and the verdict."""
        lines = []
        scanned = ", ".join(f"{n:,} {what}" for what, n in self.scanned.items()) or "nothing"
        lines.append(f"Scanned: {scanned}.")
        for allowance_kind, count in sorted(self.allowed.items()):
            allowance, kind = allowance_kind
            lines.append(f"Allowed by {allowance}: {count:,} {kind} value(s), not reported.")
        for what, count in sorted(self.not_full.items()):
            lines.append(f"Not full addresses: {count:,} {what}, not reported.")
        lines += [f"Skipped: {reason}" for reason in self.skipped]
        lines += [f"Could not scan: {reason}" for reason in self.errors]
        if self.finding_count:
            kinds = ", ".join(f"{n:,} {kind}" for kind, n in sorted(self.by_kind.items()))
            lines.append(f"LEAKS FOUND: {self.finding_count:,} finding(s) ({kinds}).")
        elif self.errors:
            lines.append("No finding, but some sources could not be scanned.")
        else:
            lines.append("Clean: no e-mail address, full IP address or canary found.")
        return lines
