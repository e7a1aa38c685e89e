"""The published aggregates in build order: one module per table, each with one query."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from usage_pipeline.aggregates.disclosure import Disclosure
from usage_pipeline.aggregates.lake import SOURCE_SCHEMAS, view_name
from usage_pipeline.aggregates.periods import Periods
from usage_pipeline.aggregates.tables import (
    active_subjects,
    billing_licenses,
    billing_quotas,
    consent_changes,
    email_deliverability,
    email_funnel,
    trend_movers,
    trends,
    usage,
    web_traffic,
)


@dataclass(frozen=True)
class Aggregate:
    """One published table: its query, how it is suppressed (None: not), what it reads.

    ``reads`` names the views its query reads: lake sources (``clean_<purpose>``) or
    aggregates built before it. ``periods`` says how its rows follow lake days, so a build
    can recompute only the periods of changed days (None: recomputed whole). ``daily``
    reduces lake days to per-day partials kept between builds (``aggregates.daily``), its
    rows marked with their ``event_date``; ``sql`` then reads the view ``daily`` instead
    of the lake.
    """

    name: str
    sql: str
    disclosure: Disclosure | None
    reads: tuple[str, ...] = ()
    periods: Periods | None = None
    daily: str | None = None

    @property
    def purposes(self) -> tuple[str, ...]:
        """The lake outputs (purposes) it reads."""
        return tuple(p for p in SOURCE_SCHEMAS if view_name(p) in self.reads)


def _aggregate(module: ModuleType) -> Aggregate:
    return Aggregate(
        module.__name__.rpartition(".")[2],
        module.SQL,
        module.DISCLOSURE,
        module.READS,
        module.PERIODS,
        module.DAILY,
    )


# Trends come last: they read the published tables before them, never the lake.
AGGREGATES: tuple[Aggregate, ...] = tuple(
    _aggregate(module)
    for module in (
        active_subjects,
        usage,
        web_traffic,
        email_funnel,
        email_deliverability,
        consent_changes,
        billing_licenses,
        billing_quotas,
        trends,
        trend_movers,
    )
)
