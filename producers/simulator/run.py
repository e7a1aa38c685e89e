"""What one run draws up front and every part shares: population, catalogues, random stream."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from producers.simulator.campaigns import _Campaigns, _campaigns
from producers.simulator.config import SimulationConfig
from producers.simulator.draws import _rng
from producers.simulator.pages import _Pages, _pages
from producers.simulator.population import Population, population
from producers.simulator.programs import _Programs, _programs


@dataclass(eq=False)
class _Run:
    """The inputs of one run, its random stream for sessions and events, and its session count.

    Everything but ``rng`` is drawn from its own seeded stream, so adding draws to one part
    leaves the others unchanged.
    """

    config: SimulationConfig
    pop: Population
    rng: np.random.Generator
    pages: _Pages
    programs: _Programs
    campaigns: _Campaigns
    salt: int  # mixed into hashed ids, so that other seeds give other ids
    start: int  # first millisecond of the period
    until: int  # first millisecond after it
    sessions: int = 0  # session numbers handed out so far

    @classmethod
    def draw(cls, config: SimulationConfig) -> _Run:
        """Draw the population, pages, programs and campaigns of a run."""
        return cls(
            config=config,
            pop=population(config),
            rng=_rng(config.seed, 1),
            pages=_pages(_rng(config.seed, 2)),
            programs=_programs(_rng(config.seed, 3), config.until),
            campaigns=_campaigns(_rng(config.seed, 4), config),
            salt=int(_rng(config.seed, 5).integers(0, 2**62)),
            start=config.start_ms,
            until=config.until_ms,
        )

    def new_sessions(self, n: int) -> np.ndarray:
        """Numbers for ``n`` new sessions (or funnels that land on the web site)."""
        numbers = self.sessions + np.arange(n)
        self.sessions += n
        return numbers
