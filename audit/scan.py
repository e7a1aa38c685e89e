"""One scan over every place the pipeline writes: lake, DuckDB, dead-letter topic, logs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from usage_pipeline.audit import sources
from usage_pipeline.audit.detectors import Detector
from usage_pipeline.audit.report import Allowance, Finding, ScanReport
from usage_pipeline.broker.security import Cluster, address
from usage_pipeline.streams.anonymize.scrub import scrub_text

# The marketing output keeps the e-mail address of subjects who granted marketing consent
# (config/anonymization.yaml: marketing keeps subject.email and properties.recipient).
DEFAULT_ALLOWANCES = (
    Allowance("clean/marketing/*", "subject.email"),
    Allowance("clean/marketing/*", "properties.recipient"),
)


class Progress(Protocol):
    """Shows how far a scan is: one task per source, advanced as units are scanned."""

    def __call__(self, label: str, total: int | None) -> Callable[[int], None]: ...


def no_progress(label: str, total: int | None) -> Callable[[int], None]:
    """Progress that shows nothing."""
    return sources._noop


@dataclass
class ScanTargets:
    """What to scan. Absent optional places are skipped (and said so); absent logs are errors."""

    lake_dir: Path | None = None
    database: Path | None = None
    cluster: Cluster | None = None
    topics: list[str] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)  # asked for: must exist
    optional_logs: list[Path] = field(default_factory=list)  # known places: may be absent


def scan(
    targets: ScanTargets,
    detector: Detector,
    allowances: Iterable[Allowance] = DEFAULT_ALLOWANCES,
    progress: Progress = no_progress,
) -> ScanReport:
    """Scan every target; the report has each finding's place and kind, never a value."""
    run = _Scan(detector, tuple(allowances), ScanReport())
    database = targets.database.resolve() if targets.database else None
    if targets.lake_dir is not None:
        run.lake(targets.lake_dir, database, progress)
    if database is not None:
        run.database(database, progress)
    for topic in targets.topics:
        run.topic(targets.cluster, topic, progress)
    run.logs(targets.logs, targets.optional_logs, progress)
    run.report.not_full.update(detector.not_full)
    return run.report


@dataclass
class _Scan:
    detector: Detector
    allowances: tuple[Allowance, ...]
    report: ScanReport

    def lake(self, lake_dir: Path, database: Path | None, progress: Progress) -> None:
        if not lake_dir.is_dir():
            self.report.skipped.append(f"lake folder {lake_dir} does not exist")
            return
        skip = {database, Path(f"{database}.wal")} if database else set()
        files = sorted(p for p in lake_dir.rglob("*") if p.is_file() and p.resolve() not in skip)
        advance = progress(f"lake files in {lake_dir}", len(files))
        for path in files:
            relative = path.relative_to(lake_dir).as_posix()
            if path.suffix == ".parquet":
                self.read(str(path), sources.parquet_file(path, str(path), self.detector), relative)
                self.report.scanned["Parquet files"] += 1
            else:
                self.read(str(path), sources.text_file(path, str(path), self.detector), relative)
                self.report.scanned["other lake files"] += 1
            advance(1)

    def database(self, database: Path, progress: Progress) -> None:
        if not database.is_file():
            self.report.skipped.append(f"DuckDB database {database} does not exist")
            return
        advance = self.counted("DuckDB tables and views", progress(f"tables of {database}", None))
        self.read(str(database), sources.duckdb_database(database, self.detector, advance))

    def topic(self, cluster: Cluster | None, topic: str, progress: Progress) -> None:
        if not cluster:
            self.report.skipped.append(
                f"topic {topic}: no Kafka cluster (set KAFKA_BOOTSTRAP_SERVERS or run kafka up)"
            )
            return
        try:
            exists = sources.topic_exists(cluster, topic)
        except Exception as exc:  # reported; the scan goes on
            self.report.errors.append(f"topic {topic}: {_reason(exc)}")
            return
        if not exists:
            self.report.skipped.append(f"topic {topic} does not exist on {address(cluster)}")
            return
        advance = self.counted("Kafka records", progress(f"records of {topic}", None))
        self.read(f"topic {topic}", sources.kafka_topic(cluster, topic, self.detector, advance))

    def logs(self, logs: list[Path], optional: list[Path], progress: Progress) -> None:
        present = []
        for path in optional:
            if path.is_file():
                present.append(path)
            else:
                self.report.skipped.append(f"log {path} does not exist")
        for path in logs:
            if path.is_file():
                present.append(path)
            else:
                self.report.errors.append(f"log {path} does not exist")
        present = list(dict.fromkeys(present))
        if not present:
            return
        advance = progress("log bytes", sum(p.stat().st_size for p in present))
        for path in present:
            self.read(str(path), sources.text_file(path, str(path), self.detector, advance))
            self.report.scanned["log files"] += 1

    def counted(self, what: str, advance: Callable[[int], None]) -> Callable[[int], None]:
        """``advance`` that also counts the units scanned under ``what``."""
        self.report.scanned[what] += 0  # listed in the summary even when there is none

        def both(units: int) -> None:
            self.report.scanned[what] += units
            advance(units)

        return both

    def read(self, shown: str, items: Iterator[sources.Item], relative: str | None = None) -> None:
        """Detect in every candidate a source yields; a source that fails is an error."""
        try:
            for location, text in items:
                for hit in self.detector.detect(text):
                    allowance = next(
                        (a for a in self.allowances if a.allows(hit.kind, location, relative)), None
                    )
                    if allowance is not None:
                        self.report.allowed[(str(allowance), hit.kind)] += 1
                    else:
                        self.report.add(Finding(hit.kind, location, hit.ref))
        except Exception as exc:  # reported; the scan goes on
            self.report.errors.append(f"{shown}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    """An error's type and first line, with any e-mail or IP address in it redacted."""
    message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {scrub_text(message)}" if message else type(exc).__name__
