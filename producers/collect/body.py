"""Request bodies of batches: media type, size limit, gzip with a decompressed-size limit, and
decoding into events (a JSON array, or NDJSON with one event per line).

Pure functions: the app reads the bytes, these decide. Every error is a ``BodyError`` with
the HTTP status it deserves and a reason that never quotes the body.
"""

from __future__ import annotations

import zlib
from typing import Any

from usage_pipeline.schemas.contracts import Contracts, ContractViolation

JSON = "application/json"
NDJSON = "application/x-ndjson"
BATCH_TYPES = (JSON, NDJSON)
GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip header and trailer, no zlib or raw deflate
CHUNK = 64 * 1024


class BodyError(ValueError):
    """A body the collector refuses, with its HTTP status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, lower-cased, without parameters."""
    return (content_type or "").partition(";")[0].strip().lower()


def check_batch_type(content_type: str | None) -> str:
    """The batch's media type; 415 for anything but JSON or NDJSON (UTF-8 only)."""
    kind = media_type(content_type)
    if kind not in BATCH_TYPES:
        raise BodyError(415, f"Content-Type must be {JSON} (an array) or {NDJSON}")
    charset = _parameter(content_type or "", "charset")
    if charset not in (None, "utf-8", "utf8"):
        raise BodyError(415, "the only charset accepted is utf-8")
    return kind


def check_declared_length(content_length: str | None, limit: int) -> None:
    """413 at once when Content-Length already says the body is over ``limit``."""
    if content_length is None:
        return
    if not content_length.strip().isdigit():
        raise BodyError(400, "Content-Length is not a number")
    if int(content_length) > limit:
        raise BodyError(413, f"the body is over the {limit}-byte limit")


def decode_content(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body without its Content-Encoding (identity or gzip), at most ``limit`` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise BodyError(415, "Content-Encoding must be gzip or identity")
    return gunzip(body, limit)


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip ``data``, refusing (413) as soon as the output passes ``limit``."""
    inflater = zlib.decompressobj(GZIP_WBITS)
    parts: list[bytes] = []
    size = 0
    pending = data
    try:
        while pending and not inflater.eof:
            # max_length bounds each step's output: a bomb never expands past the limit.
            out = inflater.decompress(pending, min(CHUNK, limit + 1 - size))
            size += len(out)
            if size > limit:
                raise BodyError(413, f"the decompressed body is over the {limit}-byte limit")
            parts.append(out)
            pending = inflater.unconsumed_tail
            if not out and pending:
                break  # no progress: corrupt input
    except zlib.error:
        raise BodyError(400, "the body is not valid gzip") from None
    if not inflater.eof:
        raise BodyError(400, "the gzip body is truncated")
    if inflater.unused_data:
        raise BodyError(400, "the gzip body has trailing data (several members are not accepted)")
    return b"".join(parts)


def decode_batch(body: bytes, kind: str, contracts: Contracts) -> list[Any]:
    """The events of a batch body, indexed as the client counts them: NDJSON lines (bytes,
    blank lines skipped), or the decoded elements of a JSON array, an element that is not
    strict JSON replaced by its ``ContractViolation``; 400 when an array body does not parse."""
    if kind == NDJSON:
        lines = (line.rstrip(b"\r") for line in body.split(b"\n"))
        return [line for line in lines if line.strip()]
    try:
        return contracts.decode_array(body)
    except ContractViolation as violation:
        raise BodyError(400, f"the body {violation.reason}") from None


def _parameter(content_type: str, name: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"').lower()
    return None
