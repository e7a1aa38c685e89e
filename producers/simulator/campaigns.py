"""The e-mail campaigns of a run: bulk sends on weekdays, transactional templates, their rates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np

from usage_pipeline.producers.simulator.catalog import PORTAL, SUPPORT, WWW
from usage_pipeline.producers.simulator.config import (
    _EPOCH,
    _NEVER,
    DAY_MS,
    HOUR_MS,
    SimulationConfig,
)

_CAMPAIGN_KINDS: Final = ("newsletter", "promotional", "broadcast", "transactional")
# Per campaign kind: P(open | delivered), P(click | opened), P(unsubscribe | delivered)
_OPEN_P: Final = np.array([0.30, 0.24, 0.34, 0.45])
_CLICK_P: Final = np.array([0.16, 0.22, 0.10, 0.25])
_UNSUB_P: Final = np.array([0.0085, 0.0095, 0.0045, 0.0])
_ROWS_PER_RECIPIENT: Final = 2.4  # sent + delivered/bounced + opens + clicks (+ landing) + ...
_BLAST_SHARE: Final = 0.10  # of all events: e-mail of bulk campaigns (transactional adds ~3%)

# Blast campaigns: a kind pattern and themes (landing pages live on www).
_BLAST_KINDS: Final = (0, 1, 1, 2, 0, 1, 1, 0, 1, 2, 0, 1, 1, 0, 1, 2)
_PROMO_THEMES: Final = (
    "studio-pro-upgrade",
    "spring-webinar-series",
    "isp-ad-insertion",
    "media-library-storage",
    "analytics-pro-trial",
    "black-friday",
    "year-end-bundle",
    "partner-program",
    "campaign-ai-assist",
    "4k-broadcast-launch",
)
_BROADCAST_TOPICS: Final = (
    "maintenance-window",
    "new-data-centre",
    "pricing-update",
    "security-advisory",
    "feature-release",
)
_TRANSACTIONAL: Final = (
    ("txn-welcome", f"https://{WWW}/docs/getting-started"),
    ("txn-password-reset", f"https://{PORTAL}/reset-password"),
    ("txn-invoice", f"https://{PORTAL}/billing/invoices"),
    ("txn-ticket-update", f"https://{SUPPORT}/tickets"),
)
_TXN_WELCOME, _TXN_PASSWORD, _TXN_INVOICE, _TXN_TICKET = range(4)


@dataclass(frozen=True, eq=False)
class _Campaigns:
    """Bulk campaigns in send order, then the transactional templates (``_TXN_*``)."""

    ids: np.ndarray  # object
    kinds: np.ndarray  # index into _CAMPAIGN_KINDS
    links: list[str]  # landing page without query
    hosts: np.ndarray  # object: host of the landing page
    kind_names: np.ndarray  # object
    starts_ms: np.ndarray  # send start of bulk campaigns; _NEVER for transactional ones
    recipients: np.ndarray  # planned audience of bulk campaigns

    @property
    def blasts(self) -> int:
        """Number of bulk campaigns."""
        return len(self.ids) - len(_TRANSACTIONAL)

    def transactional(self, template: int) -> int:
        """The campaign index of a transactional template (``_TXN_*``)."""
        return self.blasts + template


def _campaigns(rng: np.random.Generator, config: SimulationConfig) -> _Campaigns:
    """About 16 bulk campaigns a month on weekday office hours, plus 4 transactional templates."""
    days = config.days
    blasts = max(1, round(len(_BLAST_KINDS) * days / 30))
    first_day = 1 if days >= 3 else 0
    start_day = (config.until - _EPOCH).days - days
    ids: list[str] = []
    kinds: list[int] = []
    links: list[str] = []
    starts: list[int] = []
    used_days: set[int] = set()
    for k in range(blasts):
        day = int((k + rng.uniform(0.2, 0.8)) * days / blasts)
        day = min(max(day, first_day), days - 1)
        weekday = (start_day + day + 3) % 7
        if weekday >= 5:  # move weekend sends to the closest weekday inside the period
            day = day - (weekday - 4) if day - (weekday - 4) >= first_day else day + (7 - weekday)
            day = min(day, days - 1)
        while day in used_days and day + 1 < days:
            day += 1
        used_days.add(day)
        hour_ms = int(rng.uniform(7.5, 15.5) * HOUR_MS)
        start = config.start_ms + day * DAY_MS + hour_ms
        date = _EPOCH + dt.timedelta(days=start // DAY_MS)
        kind = _BLAST_KINDS[k % len(_BLAST_KINDS)]
        if kind == 0:
            ids.append(f"nl-{date:%Y-%m-%d}")
            links.append(f"https://{WWW}/blog/{date:%Y-%m}-roundup")
        elif kind == 1:
            theme = _PROMO_THEMES[kinds.count(1) % len(_PROMO_THEMES)]
            ids.append(f"promo-{theme}-{date:%Y%m}")
            links.append(f"https://{WWW}/offers/{theme}")
        else:
            topic = _BROADCAST_TOPICS[kinds.count(2) % len(_BROADCAST_TOPICS)]
            ids.append(f"bc-{topic}-{date:%Y%m%d}")
            links.append(f"https://{WWW}/news/{topic}")
        if ids[-1] in ids[:-1]:
            ids[-1] += f"-{k + 1}"
        kinds.append(kind)
        starts.append(start)
    # In send order (moving weekend sends may have swapped two neighbours).
    order = sorted(range(blasts), key=starts.__getitem__)
    ids, kinds, links, starts = (
        [column[i] for i in order] for column in (ids, kinds, links, starts)
    )
    hosts = [WWW] * blasts
    for name, link in _TRANSACTIONAL:
        ids.append(name)
        kinds.append(3)
        links.append(link)
        hosts.append(link.split("/")[2])
        starts.append(_NEVER)
    per_blast = _BLAST_SHARE * config.events / (blasts * _ROWS_PER_RECIPIENT)
    return _Campaigns(
        ids=np.array(ids, dtype=object),
        kinds=np.array(kinds),
        kind_names=np.array([_CAMPAIGN_KINDS[k] for k in kinds], dtype=object),
        links=links,
        hosts=np.array(hosts, dtype=object),
        starts_ms=np.array(starts, dtype=np.int64),
        recipients=np.full(blasts, max(1, round(per_blast)), dtype=np.int64),
    )
