"""Dead-letter records: why an event failed and where it came from, with nothing personal in it.

Unlike Kafka Connect, which re-publishes the raw payload, the excerpt here holds nothing
personal. A payload that parses as JSON is shown with every string redacted by the strictest
rule: NFKC-normalised and stripped of invisible characters (so that a fullwidth at sign,
U+FF20, or a zero-width joiner cannot hide an address from the redactor), then e-mail
addresses (partial ones too) and IP addresses replaced; subject ids are replaced by [id]. A
payload that does not parse is described, never quoted (``streams.outline``): a payload cut
short can end in half an address that no redactor recognises. Excerpts are redacted, cut to
4 KiB, then redacted again, since a cut can itself end in what looks like the start of an
address. The reason is redacted the same way and kept on one line: control and line
separator characters are escaped, so nothing in a record can forge a header or a log line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from usage_pipeline.streams.anonymize.scrub import EMAIL_PLACEHOLDER, scrub_text
from usage_pipeline.streams.outline import outline

MAX_EXCERPT_BYTES = 4096
MAX_REASON_CHARS = 1024
REDACTED_ID = "[id]"
# C0 and C1 controls, DEL and the Unicode line and paragraph separators.
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(slots=True)  # made per record: a third of a frozen dataclass's cost (see Output)
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
        "reason": _redacted_within(_one_line(reason), lambda text: text[:MAX_REASON_CHARS]),
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


def redacted_excerpt(payload: bytes) -> str:
    """What an operator may see of ``payload``, at most 4 KiB of UTF-8: the JSON with personal
    data removed, or the outline of a payload that does not parse."""
    try:
        text = orjson.dumps(_redact(orjson.loads(payload))).decode()
    except (orjson.JSONDecodeError, RecursionError):  # not JSON, or nested too deep to walk
        text = outline(payload)
    return _redacted_within(text, _first_excerpt_bytes)


def _first_excerpt_bytes(text: str) -> str:
    return text.encode()[:MAX_EXCERPT_BYTES].decode("utf-8", errors="ignore")


def _redacted_within(text: str, cut: Callable[[str], str]) -> str:
    """``text`` redacted, then cut, then redacted again until a cut leaves nothing to redact.

    A cut can end in what starts an address ("jane.roe%" of "jane.roe%25off"); redacting it
    makes the text longer at most by a placeholder, which the next cut shortens again, and
    a cut placeholder ("[ema") starts no address: the loop ends after a few rounds.
    """
    text = scrub_text(text)
    while True:
        short = cut(text)
        again = scrub_text(short)
        if again == short:
            return short
        text = again


def _redact(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key == "subject":
            return dict.fromkeys(map(scrub_text, value), REDACTED_ID)
        if key == "properties" and isinstance(value.get("recipient"), str):
            # Even a recipient that is no address is one person's: "jane.roe" names her.
            value = {**value, "recipient": EMAIL_PLACEHOLDER}
        return {scrub_text(k): _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def _one_line(text: str) -> str:
    """``text`` with control and line-separator characters written as escapes (\\r, \\x85...)."""
    return _LINE_BREAKING.sub(lambda m: m.group().encode("unicode_escape").decode(), text)
