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
from usage_pipeline.settings import Settings
from usage_pipeline.streams.policy.model import Policy
from usage_pipeline.streams.topics import clean_topics


@dataclass(frozen=True)
class Lag:
    """Records the stream worker and the sink have not committed yet."""

    stream: int
    sink: int

    @property
    def idle(self) -> bool:
        """True when nothing is in flight."""
        return self.stream == 0 and self.sink == 0


def pipeline_lag(settings: Settings, bootstrap: Cluster, policy: Policy) -> Lag:
    """The stream worker's lag on the raw topics and the sink's on the clean topics."""
    namespace = settings.topics.namespace
    stream = consumer_lag(
        bootstrap, namespace + settings.stream.app_id, list(raw_topics(namespace))
    )
    sink_group = namespace + settings.sink.group_id
    sink = consumer_lag(bootstrap, sink_group, list(clean_topics(policy, namespace)))
    return Lag(stream, sink)


def wait_until_idle(
    settings: Settings, bootstrap: Cluster, policy: Policy, timeout_s: float, poll_s: float = 2.0
) -> Lag:
    """Poll the lag until it is zero or ``timeout_s`` passed; returns the last lag seen."""
    deadline = time.monotonic() + timeout_s
    lag = pipeline_lag(settings, bootstrap, policy)
    while not lag.idle and time.monotonic() < deadline:
        time.sleep(poll_s)
        lag = pipeline_lag(settings, bootstrap, policy)
    return lag
