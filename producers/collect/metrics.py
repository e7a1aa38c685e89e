"""Prometheus metrics of the collector (prometheus-client), in a registry of its own.

Label values are bounded: routes are the app's own, event types are the contracts' (anything
else is ``unknown``), and a rejection's reason is the top-level envelope field it concerns
(``$`` for the whole event, ``other`` for anything else), never text from the request.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

ENVELOPE_FIELDS = frozenset(
    [
        *("$", "event_id", "event_type", "schema_version", "occurred_at"),
        *("source", "subject", "context", "properties"),
    ]
)
# Publish latency is a few ms when Kafka is healthy and up to the ack timeout when it is not.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class CollectMetrics:
    """Counters, gauges and histograms the routes update."""

    def __init__(self, event_types: Iterable[str], queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self._event_types = frozenset(event_types)
        self.requests = Counter(
            "collect_requests", "HTTP requests by route and status.",
            ["route", "status"], registry=self.registry,
        )  # fmt: skip
        self.accepted = Counter(
            "collect_events_accepted", "Events published and acknowledged by Kafka, by type.",
            ["event_type"], registry=self.registry,
        )  # fmt: skip
        self.rejected = Counter(
            "collect_events_rejected", "Events refused by the contracts, by type and field.",
            ["event_type", "reason"], registry=self.registry,
        )  # fmt: skip
        self.publish_latency = Histogram(
            "collect_publish_latency_seconds", "From producing a request's events to their acks.",
            registry=self.registry, buckets=LATENCY_BUCKETS,
        )  # fmt: skip
        queue = Gauge(
            "collect_producer_queue_depth", "Events waiting for Kafka's acknowledgement.",
            registry=self.registry,
        )  # fmt: skip
        queue.set_function(queue_depth)
        self._request_counts: dict[tuple[str, int], Callable[[], None]] = {}

    def count_request(self, route: str, status: int) -> None:
        """Count one answered request (a labelled child is looked up once per route and status,
        not under prometheus-client's lock on every request)."""
        inc = self._request_counts.get((route, status))
        if inc is None:
            inc = self._request_counts[route, status] = self.requests.labels(route, str(status)).inc
        inc()

    def event_type(self, value: object) -> str:
        """A label value for an event's type: a known type, else ``unknown``."""
        return value if isinstance(value, str) and value in self._event_types else "unknown"

    def reason(self, field: str) -> str:
        """A label value for a rejection: the top-level field it concerns."""
        top = field.split(".", 1)[0]
        return top if top in ENVELOPE_FIELDS else "other"

    def count_accepted(self, tally: Tally[str]) -> None:
        """Add a request's accepted events, by type."""
        for event_type, count in tally.items():
            self.accepted.labels(event_type).inc(count)

    def count_rejected(self, tally: Tally[tuple[str, str]]) -> None:
        """Add a request's rejected events, by type and reason."""
        for (event_type, reason), count in tally.items():
            self.rejected.labels(event_type, reason).inc(count)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
