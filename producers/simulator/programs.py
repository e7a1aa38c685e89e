"""The media programs people play: episodes of ~16 shows, live or on demand, Zipf-popular."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np

from usage_pipeline.producers.simulator.draws import _unique_ints, _zipf

# (show, genre, min length s, max length s, episodes, live share)
_SHOWS: Final = (
    ("Evening News", "news", 1_500, 1_800, 24, 0.3),
    ("Morning Market Brief", "news", 600, 900, 22, 0.2),
    ("Tech Briefing", "tech", 900, 1_500, 14, 0.0),
    ("Studio Sessions", "music", 2_400, 3_600, 12, 0.1),
    ("Campaign Masterclass", "webinar", 2_700, 3_600, 10, 0.4),
    ("Broadcasting 101", "webinar", 1_800, 2_700, 10, 0.0),
    ("Brand Spotlight", "promo", 60, 180, 20, 0.0),
    ("Ad Creative Showcase", "ad", 15, 60, 25, 0.0),
    ("Customer Stories", "promo", 180, 420, 12, 0.0),
    ("Live: City Council", "live", 5_400, 10_800, 8, 0.9),
    ("Weekend Sports Roundup", "sports", 3_600, 5_400, 8, 0.6),
    ("Kids' Science Lab", "kids", 1_200, 1_500, 10, 0.0),
    ("Product Launch Live", "live", 1_800, 3_600, 5, 0.9),
    ("Night Jazz Stream", "live", 7_200, 10_800, 8, 0.95),
    ("Documentary: Signal & Noise", "doc", 3_000, 4_200, 6, 0.0),
    ("Partner Showcase", "promo", 300, 900, 6, 0.2),
)


@dataclass(frozen=True, eq=False)
class _Programs:
    """Every episode with its length, bit rate and live share; popularity as a running total."""

    ids: np.ndarray  # object
    titles: np.ndarray  # object
    length_s: np.ndarray
    kbps: np.ndarray
    live_share: np.ndarray
    cum: np.ndarray


def _programs(rng: np.random.Generator, until: dt.date) -> _Programs:
    """About 200 programs: news, webinars, live shows, ad spots; popularity is Zipf-like."""
    ids: list[str] = []
    titles: list[str] = []
    length: list[float] = []
    live: list[float] = []
    numbers = _unique_ints(rng, sum(s[4] for s in _SHOWS), 1, 10_000).tolist()
    for show, genre, low, high, episodes, live_share in _SHOWS:
        for k in range(episodes):
            number = numbers[len(ids)]
            aired = until - dt.timedelta(days=int(rng.integers(1, 120)))
            ids.append(f"prg-{aired.year}-{number:04d}")
            if genre == "news":
                titles.append(f"{show}, {aired.day} {aired:%B %Y}")
            elif genre in ("ad", "promo"):
                titles.append(f"{show} #{k + 1}")
            else:
                titles.append(f"{show}, episode {k + 1}")
            length.append(float(rng.uniform(low, high)))
            live.append(live_share)
    n = len(ids)
    weight = rng.permutation(np.array(_zipf(n, 1.0, 0.9)))
    return _Programs(
        ids=np.array(ids, dtype=object),
        titles=np.array(titles, dtype=object),
        length_s=np.array(length),
        kbps=rng.choice(np.array([800.0, 1_800.0, 3_000.0, 4_500.0, 6_000.0]), size=n),
        live_share=np.array(live),
        cum=np.cumsum(weight),
    )
