"""What one run draws up front and every part shares: population, catalogues, random streams."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from usage_pipeline.producers.simulator.campaigns import _Campaigns, _campaigns
from usage_pipeline.producers.simulator.config import SimulationConfig
from usage_pipeline.producers.simulator.draws import _rng
from usage_pipeline.producers.simulator.pages import _Pages, _pages
from usage_pipeline.producers.simulator.population import Population, population
from usage_pipeline.producers.simulator.programs import _Programs, _programs


@dataclass(eq=False)
class _Run:
    """The inputs of one run, its random stream for sessions and events, and its session count.

    Everything but ``rng`` is drawn from its own seeded stream, so adding draws to one part
    leaves the others unchanged.
    """

    config: SimulationConfig
    pop: Population
    rng: np.random.Generator
    ids: np.random.Generator  # event ids, see ``_id_stream``
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
            ids=_id_stream(config),
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


def _id_stream(config: SimulationConfig) -> np.random.Generator:
    """The random stream event ids are drawn from, seeded by everything that shapes the events.

    An event id must name one event: the sink drops a repeated id as a duplicate. Every field
    of the configuration changes the events (``events``, ``days`` and ``until`` move every
    chunk's budget and times), and so does the simulator's code; seeding the ids with all of
    them means runs that differ in any never share an id, while one configuration run twice
    gives the same events under the same ids, which the lake then stores once.
    """
    digest = hashlib.sha256(_code_digest())
    digest.update(repr(dataclasses.astuple(config)).encode())
    entropy = int.from_bytes(digest.digest(), "big")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


@functools.cache
def _code_digest() -> bytes:
    """SHA-256 of the simulator's source files, in a stable order."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.digest()
