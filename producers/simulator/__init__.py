"""Deterministic, fast, realistic synthetic events for the usage pipeline (the simulator).

``simulate(SimulationConfig(events=..., days=..., seed=..., until=...))`` yields exactly
``events`` event dicts that meet the contracts in ``schemas/json``, sorted by ``occurred_at``,
inside ``[until - days, until)`` (UTC). The same configuration gives the same events, byte for
byte: every random draw comes from numpy ``PCG64`` generators seeded from ``seed``, never from
the wall clock or the global random state. Event ids come from a stream seeded by the whole
configuration and the simulator's code, so two runs that differ in anything share no id.

How it works: ``population`` draws accounts, users, devices (IP and user agent) and consent
answers once. The period is then cut into chunks of a few hours; each chunk draws user
sessions (bursts of web requests, feature uses, media plays, license checks, tickets) in
vectorized numpy, adds the rows scheduled earlier that fall in it (session tails, e-mail
funnels, ticket closes, consent changes), inserts each new user's initial consent just before
their first event, sorts, and only then builds the dicts, a small batch at a time. Rows are
integer columns until that last step, so memory stays flat however many events are asked
for. Chunk budgets follow the hour-of-day, weekday and growth curves and are corrected as the
run goes, so the total is exact.

Where things are:

- ``config``: ``SimulationConfig`` and the time units.
- ``catalog``: reference data shared by several parts: hosts, mail domains, names, user
  agents, plans, support-ticket vocabulary.
- ``population``: accounts, users, devices and consent answers (``Population``).
- ``pages``, ``programs``, ``campaigns``: what people browse, watch and get mailed.
- ``run``, ``audience``, ``timeline``: a run's shared inputs, what it has learnt about each
  user, and the chunks of its period with their share of the events.
- ``rows``: the integer row table; ``sessions``, ``funnels``, ``newcomers``: what fills it.
- ``engine``: the chunk loop and its exact budget (``simulate``).
- ``events``: rows to event dicts, one module per event type.
- ``draws``, ``hashing``, ``formatting``: vectorized numpy helpers.
"""

from usage_pipeline.producers.simulator.config import SimulationConfig
from usage_pipeline.producers.simulator.engine import simulate
from usage_pipeline.producers.simulator.population import Population, population

__all__ = ["Population", "SimulationConfig", "population", "simulate"]
