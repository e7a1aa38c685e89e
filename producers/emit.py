"""Publish a JSON Lines stream: each valid line is sent, each invalid one reported by number."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from usage_pipeline.producers.publisher import EventPublisher
from usage_pipeline.schemas.contracts import ContractViolation


@dataclass(frozen=True)
class Rejection:
    """One line that was not published, and why (the reason never quotes the line)."""

    line: int
    reason: str


@dataclass
class EmitReport:
    """What an emit run did."""

    read: int = 0
    published: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    stopped_early: bool = False


def emit_lines(
    lines: Iterable[bytes],
    publisher: EventPublisher,
    *,
    stop_at_first_error: bool = False,
    on_rejection: Callable[[Rejection], None] | None = None,
) -> EmitReport:
    """Publish every valid line of ``lines`` (blank lines are skipped) and flush."""
    report = EmitReport()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        report.read += 1
        try:
            publisher.publish_json(line.rstrip(b"\r\n"))
        except ContractViolation as violation:
            rejection = Rejection(number, str(violation))
            report.rejected.append(rejection)
            if on_rejection is not None:
                on_rejection(rejection)
            if stop_at_first_error:
                report.stopped_early = True
                break
        else:
            report.published += 1
    publisher.flush()
    return report
