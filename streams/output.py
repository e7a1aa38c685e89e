"""A record the stream produces: a clean record, a dead letter, a derived consent change, a link."""

from __future__ import annotations

import msgspec


# One is made per clean record: a msgspec Struct is built by C code (half the cost of a
# slotted dataclass, whose __init__ is Python) and, holding no cycle, stays out of the
# garbage collector's lists (gc=False). Never modified.
class Output(msgspec.Struct, gc=False):
    """A record to produce; ``partition`` None lets the producer's murmur2 partitioner place it."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None
