"""A simulation's events, published (each validated and serialized once) or written.

What `usage-pipeline simulate` and the demo run; progress is reported every 10,000 events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

import orjson

from usage_pipeline.producers.publisher import EventPublisher
from usage_pipeline.producers.simulator import SimulationConfig, simulate

PROGRESS_EVERY = 10_000

Progress = Callable[[int], None]


def publish_simulation(
    publisher: EventPublisher, config: SimulationConfig, on_progress: Progress | None = None
) -> int:
    """Publish ``config``'s events through ``publisher``; how many."""
    return _each(config, publisher.publish, on_progress)


def write_simulation(
    sink: BinaryIO, config: SimulationConfig, on_progress: Progress | None = None
) -> int:
    """Write ``config``'s events to ``sink`` as JSON Lines; how many."""
    return _each(
        config,
        lambda event: sink.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)),
        on_progress,
    )


def _each(config: SimulationConfig, send: Callable, on_progress: Progress | None) -> int:
    count = 0
    for count, event in enumerate(simulate(config), start=1):
        send(event)
        if on_progress is not None and count % PROGRESS_EVERY == 0:
            on_progress(count)
    return count
