"""Numbers to Python strings in bulk: hex ids, UUIDs and timestamps, via numpy byte buffers."""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np

from usage_pipeline.producers.simulator.config import _EPOCH, DAY_MS, SECOND_MS

_HEX_DIGITS: Final = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Lookup tables from numbers to their ASCII digits, one uint16/uint32 per number: np.take on
# a flat table is the fastest numpy gather.
_HEX_PAIRS: Final = np.frombuffer("".join(f"{b:02x}" for b in range(256)).encode(), "<u2")
_DIGIT_PAIRS: Final = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), "<u2")
_DIGIT_TRIPLES: Final = np.frombuffer("".join(f"{i:03d}." for i in range(1000)).encode(), "<u4")


def _ascii_rows(chars: np.ndarray) -> list[str]:
    """Rows of a (n, width) uint8 array of ASCII codes, as Python strings."""
    n, width = chars.shape
    lines = np.empty((n, width + 1), dtype=np.uint8)
    lines[:, :width] = chars
    return _lines(lines)


def _hex_strings(values: np.ndarray, width: int, prefix: str = "") -> list[str]:
    """``prefix`` + the low ``width`` hex digits of each uint64, as Python strings."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = (values.astype(np.uint64)[:, None] >> shifts) & np.uint64(15)
    chars = np.empty((len(values), len(prefix) + width), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars[:, len(prefix) :] = _HEX_DIGITS[nibbles]
    return _ascii_rows(chars)


def _lines(buffer: np.ndarray) -> list[str]:
    """The rows of a (n, width + 1) uint8 array of ASCII codes whose last column is free."""
    n = len(buffer)
    buffer[:, -1] = 10
    return buffer.tobytes().decode("ascii").split("\n", n)[:n]


def _uuid4_strings(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random version-4 UUIDs drawn from ``rng``, in canonical text form."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.take(_HEX_PAIRS, raw).view(np.uint8)
    buffer = np.empty((n, 37), dtype=np.uint8)
    for dash in (8, 13, 18, 23):
        buffer[:, dash] = ord("-")
    buffer[:, 0:8] = hexed[:, 0:8]
    buffer[:, 9:13] = hexed[:, 8:12]
    buffer[:, 14:18] = hexed[:, 12:16]
    buffer[:, 19:23] = hexed[:, 16:20]
    buffer[:, 24:36] = hexed[:, 20:32]
    return _lines(buffer)


def _timestamps(t_ms: np.ndarray) -> list[str]:
    """RFC 3339 UTC strings with milliseconds (``2026-11-03T14:22:05.123Z``) for epoch ms."""
    n = len(t_ms)
    if n == 0:
        return []
    days = t_ms // DAY_MS
    rest = t_ms - days * DAY_MS
    first = int(days.min())
    span = int(days.max()) - first + 1
    dates = np.frombuffer(
        "".join(
            (_EPOCH + dt.timedelta(days=first + d)).isoformat() + "T" for d in range(span)
        ).encode(),
        dtype=np.uint8,
    ).reshape(span, 11)
    seconds = rest // SECOND_MS
    buffer = np.empty((n, 25), dtype=np.uint8)
    buffer[:, 0:11] = dates[days - first]
    buffer[:, 11:13] = np.take(_DIGIT_PAIRS, seconds // 3600)[:, None].view(np.uint8)
    buffer[:, 13] = ord(":")
    buffer[:, 14:16] = np.take(_DIGIT_PAIRS, seconds // 60 % 60)[:, None].view(np.uint8)
    buffer[:, 16] = ord(":")
    buffer[:, 17:19] = np.take(_DIGIT_PAIRS, seconds % 60)[:, None].view(np.uint8)
    buffer[:, 19] = ord(".")
    millis = np.take(_DIGIT_TRIPLES, rest - seconds * SECOND_MS)[:, None].view(np.uint8)
    buffer[:, 20:23] = millis[:, :3]
    buffer[:, 23] = ord("Z")
    return _lines(buffer)
