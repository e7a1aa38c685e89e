"""Whether the pipeline is at rest: no raw record unprocessed, no clean record unsunk.

An erasure must not run while a record of the subject is in flight: the worker or the sink
would write it into the lake after the rewrite. So erase checks both consumer groups' lag
first, and refuses, or waits, until both are zero.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from usage_pipeline.broker.admin import consumer_lag
from usage_pipeline.broker.security import Cluster
from usage_pipeline.schemas.topics import raw_topics
from usage_pipeline.streams.policy.model import Policy
from usage_pipeline.streams.topics import clean_topics
from usage_pipeline.subjects.stores import Stores


@dataclass(frozen=True)
class Lag:
    """Records the stream worker and the sink have not committed yet."""

    stream: int
    sink: int

    @property
    def idle(self) -> bool:
        """True when nothing is in flight."""
        return self.stream == 0 and self.sink == 0


def pipeline_lag(stores: Stores, cluster: Cluster, policy: Policy) -> Lag:
    """The stream worker's lag on the raw topics and the sink's on the clean topics."""
    namespace = stores.namespace
    stream = consumer_lag(cluster, stores.stream_group, list(raw_topics(namespace)))
    sink = consumer_lag(cluster, stores.sink_group, list(clean_topics(policy, namespace)))
    return Lag(stream, sink)


def wait_until_idle(
    stores: Stores, cluster: Cluster, policy: Policy, timeout_s: float, poll_s: float = 2.0
) -> Lag:
    """Poll the lag until it is zero or ``timeout_s`` passed; returns the last lag seen."""
    deadline = time.monotonic() + timeout_s
    lag = pipeline_lag(stores, cluster, policy)
    while not lag.idle and time.monotonic() < deadline:
        time.sleep(poll_s)
        lag = pipeline_lag(stores, cluster, policy)
    return lag
