"""Publishing a simulated population, as `simulate` and `demo` do (kept apart: it loads numpy)."""

from __future__ import annotations

from usage_pipeline.cli.common import open_publisher
from usage_pipeline.producers import simulated
from usage_pipeline.producers.publisher import PublishStats
from usage_pipeline.producers.simulator import SimulationConfig
from usage_pipeline.settings import Settings


def publish_events(
    settings: Settings, config: SimulationConfig, on_progress: simulated.Progress
) -> PublishStats:
    """Publish ``config``'s events as the producer; what was published, once acknowledged."""
    with open_publisher(settings) as publisher:
        simulated.publish_simulation(publisher, config, on_progress)
    return publisher.stats
