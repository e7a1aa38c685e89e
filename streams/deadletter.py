"""Dead-letter records: why an event failed and where it came from, with nothing personal in it.

Unlike Kafka Connect, which re-publishes the raw payload, the excerpt here is redacted by
the strictest rule: every string has its e-mail and IP addresses replaced, every subject id
is replaced, and the whole excerpt is cut to 4 KiB.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson

from streams.anonymize.scrub import scrub_text

MAX_EXCERPT_BYTES = 4096
REDACTED_ID = "[id]"


@dataclass(frozen=True)
class Source:
    """Where a record was read: topic, partition and offset."""

    topic: str
    partition: int
    offset: int


def dead_letter(
    payload: bytes, source: Source, stage: str, reason: str, processor: str
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The value and headers of a dead-letter record for ``payload``."""
    record = {
        "reason": scrub_text(reason),
        "stage": stage,
        "source": {"topic": source.topic, "partition": source.partition, "offset": source.offset},
        "processor": processor,
        "failed_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "excerpt": redacted_excerpt(payload),
    }
    headers = [
        ("dlq.reason", record["reason"].encode()),
        ("dlq.stage", stage.encode()),
        ("dlq.source.topic", source.topic.encode()),
        ("dlq.source.partition", str(source.partition).encode()),
        ("dlq.source.offset", str(source.offset).encode()),
        ("dlq.processor", processor.encode()),
    ]
    return orjson.dumps(record), headers


def redacted_excerpt(payload: bytes) -> str:
    """The payload with personal data removed, cut to at most 4 KiB of UTF-8."""
    try:
        text = orjson.dumps(_redact(orjson.loads(payload))).decode()
    except (orjson.JSONDecodeError, RecursionError):  # not JSON, or nested too deep to walk
        text = scrub_text(payload.decode("utf-8", errors="replace"))
    return text.encode()[:MAX_EXCERPT_BYTES].decode("utf-8", errors="ignore")


def _redact(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key == "subject":
            return dict.fromkeys(value, REDACTED_ID)
        return {scrub_text(k): _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value
