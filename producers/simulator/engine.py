"""The chunk loop: fill each chunk of the period with rows to an exact budget, then build them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from usage_pipeline.producers.simulator.audience import _Audience
from usage_pipeline.producers.simulator.campaigns import _ROWS_PER_RECIPIENT
from usage_pipeline.producers.simulator.config import SimulationConfig
from usage_pipeline.producers.simulator.events.batches import _EventBuilder
from usage_pipeline.producers.simulator.funnels import _Mailer
from usage_pipeline.producers.simulator.newcomers import _Newcomers
from usage_pipeline.producers.simulator.rows import _Rows
from usage_pipeline.producers.simulator.run import _Run
from usage_pipeline.producers.simulator.sessions import _Sessions
from usage_pipeline.producers.simulator.timeline import _Timeline


class _Simulation:
    """One run: what is scheduled, how many events are out, and the budget of each chunk."""

    def __init__(self, config: SimulationConfig) -> None:
        self.events = config.events
        self.run = run = _Run.draw(config)
        audience = _Audience.of(run.pop.users)
        self.timeline = _Timeline(config)
        self.mailer = _Mailer(run, audience)
        self.sessions = _Sessions(run, audience, self.timeline, self.mailer)
        self.newcomers = _Newcomers(run, audience, self.mailer)
        self.builder = _EventBuilder(run)
        self.emitted = 0
        self.pending = _Rows.empty()
        self.blasts_done = 0
        # Rows that follow from sessions and first appearances, per session row (with a prior)
        self.fresh_rows = 0.02 * self.events + 1
        self.follow_ups = 0.03 * self.fresh_rows
        expected = run.campaigns.recipients * _ROWS_PER_RECIPIENT
        self.blast_rows_left = [*np.cumsum(expected[::-1])[::-1].tolist(), 0.0]

    def batches(self) -> Iterator[list[dict[str, Any]]]:
        """Yield the events in small batches, in time order."""
        for c in range(self.timeline.chunk_count):
            if self.emitted >= self.events:
                return
            rows = self._chunk(c)
            self.emitted += len(rows)
            yield from self.builder.batches(rows)

    def _chunk(self, c: int) -> _Rows:
        """The rows of chunk ``c``, sorted; those that fall after it are kept for later."""
        timeline, camp = self.timeline, self.run.campaigns
        s, e = timeline.bounds[c], timeline.bounds[c + 1]
        last = c == timeline.chunk_count - 1
        remaining = self.events - self.emitted
        due, self.pending = self.pending.split(e)
        scheduled = len(due) + len(self.pending)
        if last:
            fresh = remaining - scheduled
        else:
            # What is left once the rows already scheduled and the bulk campaigns still to
            # come are set aside, shared by weight; the follow-ups (ticket closes, e-mails,
            # consent changes) that future sessions will bring are set aside too, at the rate
            # seen so far, so that sessions follow the seasonality to the end.
            budget = remaining - scheduled - self.blast_rows_left[self.blasts_done]
            share = timeline.chunk_weight[c] / timeline.weight_left[c]
            fresh = round(budget * share / (1 + self.follow_ups / self.fresh_rows))
        fresh = max(fresh, 0)
        parts = [due]
        while self.blasts_done < camp.blasts and camp.starts_ms[self.blasts_done] < e:
            parts.append(self.mailer.blast(self.blasts_done))
            self.blasts_done += 1
        for t in timeline.invoice_times:
            if s <= t < e:
                parts.append(self.mailer.invoices(t))
                self.follow_ups += len(parts[-1])
        sessions, consent_estimate = self.sessions.rows(s, e, fresh)
        parts.append(sessions)
        self.fresh_rows += fresh
        self.follow_ups += max(0, len(sessions) - (fresh - consent_estimate))
        now, later = _Rows.concat(parts).split(e)
        self.pending = _Rows.concat([self.pending, later])
        now = now.sorted()
        extra, initial_consent = self.newcomers.rows(now, s)
        self.follow_ups += len(extra) - initial_consent
        if len(extra):
            extra_now, extra_later = extra.split(e)
            self.pending = _Rows.concat([self.pending, extra_later])
            now = _Rows.concat([now, extra_now]).sorted()
        if len(now) > remaining:
            now = now.take(slice(0, remaining))
        return now


def simulate(config: SimulationConfig) -> Iterator[dict[str, Any]]:
    """Yield exactly ``config.events`` valid events sorted by ``occurred_at``, lazily."""
    if config.events > 0:
        yield from itertools.chain.from_iterable(_Simulation(config).batches())
