"""A small lake with every kind of aggregate, some cells suppressed, and its report."""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from pathlib import Path

import numpy as np

from tests.aggregates.conftest import Lake, request, used
from tests.aggregates.test_known_outputs import consent, email
from usage_pipeline.aggregates.report import write_report

K = 2
START = dt.date(2026, 11, 2)  # a Monday: three full ISO weeks follow
DAYS = 21
RARE_EVENTS = 7  # the one-user feature's events: must never appear as a number


def fill(lake: Lake) -> None:
    """Three weeks of usage, traffic, e-mail and consent; day 10 has a single user."""
    usage, traffic = [], []
    for offset in range(DAYS):
        day = (START + dt.timedelta(days=offset)).isoformat()
        users = ["u1"] if offset == 10 else [f"u{n}" for n in range(1, 3 + offset % 4)]
        for user in users:
            usage.append(used(f"{day}T09:00", user, feature="search"))
            usage.append(used(f"{day}T10:00", user, feature="export"))
        for n in range(3 + offset % 5):
            traffic.append(request(f"{day}T1{n % 10}:00", f"v{n}", host="www.example.com"))
            traffic.append(request(f"{day}T11:30", f"w{n}", host="docs.example.com"))
    usage += [used(f"{START.isoformat()}T12:{n:02d}", "u9", feature="rare") for n in range(7)]
    lake.add("analytics", usage)
    lake.add("traffic", traffic)
    steps = ["sent", "delivered", "opened", "clicked"]
    mails = [email("2026-11-03T08:00", s, f"u{n}") for n in range(4) for s in steps[: n + 1]]
    mails.append(email("2026-11-03T08:00", "sent", "u1", campaign="c-lonely"))
    lake.add("analytics", mails)
    lake.add("partner_sharing", [email("2026-11-03T08:00", "sent", f"u{n}") for n in range(4)])
    lake.add(
        "service",
        [consent("2026-11-04T08:00", f"u{n}", "granted") for n in range(4)]
        + [consent("2026-11-05T08:00", f"u{n}", "withdrawn") for n in range(2)],
    )


def report(lake: Lake, tmp_path: Path) -> Path:
    """Build with k = K, then write the report."""
    fill(lake)
    lake.build(k=K)
    now = dt.datetime(2026, 11, 23, 6, tzinfo=dt.UTC)
    return write_report(lake.root, tmp_path / "report.html", K, now=now)


def read_png(data: bytes) -> np.ndarray:
    """An 8-bit, non-interlaced RGB or RGBA PNG as a (height, width, channels) array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    channels = 3 if color == 2 else 4
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, stride + 1)
    pixels = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            out = line
        elif kind == 2:
            out = (line + previous) & 0xFF
        elif kind == 1:
            # Sub: a running sum per channel.
            out = np.cumsum(line.reshape(width, channels), axis=0).reshape(-1) & 0xFF
        else:
            out = _unfilter_slow(kind, line.tolist(), previous.tolist(), channels)
        pixels[y] = out
        previous = np.asarray(out, dtype=np.int32)
    return pixels.reshape(height, width, channels)


def _unfilter_slow(kind: int, line: list[int], up: list[int], bpp: int) -> list[int]:
    """Average (3) and Paeth (4) filters, byte by byte."""
    out = [0] * len(line)
    for i, value in enumerate(line):
        a = out[i - bpp] if i >= bpp else 0
        b = up[i]
        if kind == 3:
            out[i] = (value + (a + b) // 2) & 0xFF
            continue
        c = up[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out[i] = (value + predictor) & 0xFF
    return out
