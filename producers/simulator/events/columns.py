"""What every event type's builder receives and returns: shared columns, prepared columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, eq=False)
class _Columns:
    """Per-row values shared by every kind of event in a chunk, as lists in kind order."""

    slot: list[int]  # index of the event in its batch
    ids: list[str]
    ts: list[str]
    account: list[str]
    user: list[str | None]
    email: list[str | None]
    ip: list[str]
    ua: list[str]
    session: list[str | None]


# A loop that assembles dicts, and the per-event value lists it zips over.
_Prepared = tuple[Any, list[list[Any]]]
