"""The published aggregates in build order: one module per table, each with one query."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from aggregates.disclosure import Disclosure
from aggregates.tables import (
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
    """One published table: its query and how it is suppressed (None: not suppressed)."""

    name: str
    sql: str
    disclosure: Disclosure | None


def _aggregate(module: ModuleType) -> Aggregate:
    return Aggregate(module.__name__.rpartition(".")[2], module.SQL, module.DISCLOSURE)


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
