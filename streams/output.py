"""A record the stream produces: a clean record, a dead letter, a derived consent change, a link."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    """A record to produce; ``partition`` None lets the producer's murmur2 partitioner place it."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None
