"""The erasure receipt: what was found where, what was done, when, under which policy and key.

It holds no personal data: no e-mail address, no key, and the subject only as a keyed hash
(``subject_ref``, an HMAC under the pseudonymization key in a namespace no output uses).
With the key, the company can answer "was this subject erased, when?"; without it, the
receipt does not say who. Receipts are JSON files under ``<lake>/_receipts/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

RECEIPTS_DIR = "_receipts"
RECEIPT_FORMAT = 1


@dataclass
class Receipt:
    """One erasure's record; ``found`` and ``done`` map a store to counts, ``remaining`` a
    Kafka topic to its records that mention the subject (Kafka deletes by retention only),
    ``expires`` such a topic to when its retention removes them."""

    subject_ref: str
    key_id: str
    policy_version: str
    policy_file: str
    policy_sha256: str
    started_at: str
    finished_at: str | None = None
    preconditions: dict[str, Any] = field(default_factory=dict)
    scanned: dict[str, int] = field(default_factory=dict)
    found: dict[str, Any] = field(default_factory=dict)
    done: dict[str, Any] = field(default_factory=dict)
    remaining: dict[str, int] = field(default_factory=dict)
    expires: dict[str, Any] = field(default_factory=dict)
    format: int = RECEIPT_FORMAT

    @property
    def empty(self) -> bool:
        """True when the subject was found nowhere."""
        return not any(_count(value) for value in self.found.values())

    def to_json(self) -> bytes:
        """The receipt as indented JSON."""
        return orjson.dumps({**asdict(self), "empty": self.empty}, option=orjson.OPT_INDENT_2)

    def write(self, folder: Path) -> Path:
        """Write the receipt into ``folder`` (created if needed); returns its path."""
        folder.mkdir(parents=True, exist_ok=True)
        stamp = self.started_at.replace(":", "").replace("-", "")
        path = folder / f"erasure-{stamp}-{self.subject_ref.rpartition(':')[2][:12]}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(self.to_json())
        temporary.replace(path)
        return path


def now() -> str:
    """The current UTC time, ISO 8601 to the millisecond."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def file_sha256(path: Path) -> str:
    """``sha256:<hex>`` of a file's bytes."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _count(value: Any) -> int:
    """The sum of the counts in a nested mapping of counts."""
    if isinstance(value, dict):
        return sum(_count(v) for v in value.values())
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
