"""Dead-letter records: why an event failed and where it came from, with nothing personal in it.

Unlike Kafka Connect, which re-publishes the raw payload, the excerpt here is redacted by
the strictest rule: every string is NFKC-normalised and stripped of invisible characters
(so that a fullwidth at sign, U+FF20, or a zero-width joiner cannot hide an address from the
redactor), then has its e-mail and IP addresses replaced; every subject id is replaced (in a
payload that is not JSON, every string value of a subject field), and the whole excerpt is
cut to 4 KiB. The reason is redacted the same way and kept on one line: control and line
separator characters are escaped, so nothing in a record can forge a header or a log line.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import orjson

from streams.anonymize.scrub import scrub_text, visible_form

MAX_EXCERPT_BYTES = 4096
MAX_REASON_CHARS = 1024
REDACTED_ID = "[id]"
# C0 and C1 controls, DEL and the Unicode line and paragraph separators.
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A subject field's string value in text that is not JSON (maybe cut before its closing quote).
_SUBJECT_VALUE = re.compile(r'("(?:account_id|user_id|email)"\s*:\s*)"(?:[^"\\]|\\.)*"?')


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
        "reason": _one_line(redact_text(reason))[:MAX_REASON_CHARS],
        "stage": stage,
        "source": {"topic": source.topic, "partition": source.partition, "offset": source.offset},
        "processor": processor,
        "failed_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "excerpt": redacted_excerpt(payload),
    }
    headers = [
        ("dlq.reason", record["reason"]),
        ("dlq.stage", stage),
        ("dlq.source.topic", source.topic),
        ("dlq.source.partition", str(source.partition)),
        ("dlq.source.offset", str(source.offset)),
        ("dlq.processor", processor),
    ]
    return orjson.dumps(record), [(name, _one_line(text).encode()) for name, text in headers]


def redact_text(text: str) -> str:
    """``text`` NFKC-normalised, without invisible characters, e-mail and IP addresses."""
    return scrub_text(visible_form(text))


def redacted_excerpt(payload: bytes) -> str:
    """The payload with personal data removed, cut to at most 4 KiB of UTF-8."""
    try:
        text = orjson.dumps(_redact(orjson.loads(payload))).decode()
    except (orjson.JSONDecodeError, RecursionError):  # not JSON, or nested too deep to walk
        text = payload.decode("utf-8", errors="replace")
        text = redact_text(_SUBJECT_VALUE.sub(rf'\1"{REDACTED_ID}"', text))
    return text.encode()[:MAX_EXCERPT_BYTES].decode("utf-8", errors="ignore")


def _redact(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key == "subject":
            return dict.fromkeys(map(redact_text, value), REDACTED_ID)
        return {redact_text(k): _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _one_line(text: str) -> str:
    """``text`` with control and line-separator characters written as escapes (\\r, \\x85...)."""
    return _LINE_BREAKING.sub(lambda m: m.group().encode("unicode_escape").decode(), text)
