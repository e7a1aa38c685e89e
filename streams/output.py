"""A record the stream produces: a clean record, a dead letter, a derived consent change, a link."""

from __future__ import annotations

from dataclasses import dataclass


# One is made per clean record: slotted and not frozen, it costs a seventh of a frozen
# dataclass and half of a NamedTuple (whose constructor is Python code). Never modified.
@dataclass(slots=True)
class Output:
    """A record to produce; ``partition`` None lets the producer's murmur2 partitioner place it."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None
