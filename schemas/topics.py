"""Topic names shared by producers and streams: one raw topic per event family.

A namespace (``topics.namespace`` in settings, e.g. ``staging.``) prefixes every name, so
several deployments or test runs can share one cluster.
"""

from __future__ import annotations

CONSENT_FAMILY = "consent"
RAW_FAMILIES = ("usage", "traffic", "email", "account", "support", CONSENT_FAMILY)


def family_of(event_type: str) -> str:
    """The family of an event type: the part before the first dot (``usage.feature_used``)."""
    return event_type.split(".", 1)[0]


def raw_topic(family: str, namespace: str = "") -> str:
    """The raw topic of a family, e.g. ``raw.usage``."""
    return f"{namespace}raw.{family}"


def raw_topics(namespace: str = "") -> tuple[str, ...]:
    """Every raw topic."""
    return tuple(raw_topic(family, namespace) for family in RAW_FAMILIES)
