"""User sessions: bursts of requests, feature uses, plays, license checks, tickets; crawlers."""

from __future__ import annotations

from typing import Final

import numpy as np

from usage_pipeline.producers.simulator.audience import _Audience
from usage_pipeline.producers.simulator.campaigns import _TXN_PASSWORD, _TXN_TICKET
from usage_pipeline.producers.simulator.catalog import (
    _CHANNEL_P,
    _N_BOT_DEVICES,
    _PRIORITY_P,
    _RES_P,
    _TICKET_CATEGORY_P,
)
from usage_pipeline.producers.simulator.config import HOUR_MS, MINUTE_MS
from usage_pipeline.producers.simulator.draws import _lognormal, _pick
from usage_pipeline.producers.simulator.funnels import _Mailer
from usage_pipeline.producers.simulator.rows import (
    K_FEATURE,
    K_LICENSE,
    K_MEDIA,
    K_TICKET_CLOSE,
    K_TICKET_OPEN,
    K_TRAFFIC,
    _Rows,
)
from usage_pipeline.producers.simulator.run import _Run
from usage_pipeline.producers.simulator.timeline import _Timeline

# Kinds of the events inside a user session (after its first request), with their weights.
_SESSION_KINDS: Final = np.array([K_TRAFFIC, K_FEATURE, K_MEDIA, K_LICENSE, K_TICKET_OPEN])
# Weights of the rows after a session's first request (which is always a web request), so
# that all events come out at about 45% traffic, 25% feature use, 10% media, 5% license.
_SESSION_KIND_P: Final = np.array([0.43, 0.355, 0.142, 0.071, 0.0072])
_BOT_SHARE: Final = 0.004  # crawler requests, of the session budget
_PASSWORD_RESET_P: Final = 0.015  # of sessions
_MEAN_SESSION_LENGTH: Final = 6.0


class _Sessions:
    """Draws the sessions of each chunk, and the tickets and mails they lead to."""

    def __init__(
        self, run: _Run, audience: _Audience, timeline: _Timeline, mailer: _Mailer
    ) -> None:
        self.run = run
        self.audience = audience
        self.timeline = timeline
        self.mailer = mailer
        pop = run.pop
        self.tickets = 0
        self.consent_rows = (pop.consent_initial >= 0).sum(axis=1)
        self.human_devices = len(pop.device_ips) - _N_BOT_DEVICES
        # Users in signup order, for sampling among those who exist at a given time.
        self.by_activation = np.argsort(pop.user_activation_ms, kind="stable")
        self.activation_sorted = pop.user_activation_ms[self.by_activation]
        self.weight_cum = np.cumsum(pop.user_weight[self.by_activation])

    def rows(self, s: int, e: int, fresh: int) -> tuple[_Rows, int]:
        """Sessions starting in [s, e) worth ``fresh`` rows, with new users' consent.

        Returns the rows (and their follow-ups) and how many of the ``fresh`` rows are left
        for the consent of the users who appear for the first time.
        """
        n_bot = round(fresh * _BOT_SHARE)
        drawn = self._draw(s, e, fresh - n_bot)
        if drawn is None:
            return self._crawler(s, e, n_bot), 0
        users, starts, session, t, rank, consent = drawn
        rng, pop, campaigns = self.run.rng, self.run.pop, self.run.campaigns
        kept = len(users)

        # Each session uses one of the user's devices, mostly the first.
        dev_count = pop.user_device_count[users]
        pick = np.where(rng.random(kept) < 0.6, 0, rng.integers(0, 3, size=kept) % dev_count)
        devices = pop.user_device_start[users] + pick
        ids = self.run.new_sessions(kept)
        n = len(t)
        kind = _SESSION_KINDS[_pick(rng, _SESSION_KIND_P, n)]
        kind[rank == 0] = K_TRAFFIC  # a session starts with a request
        row_users = users[session]
        a = np.full(n, -1, dtype=np.int64)
        b = np.zeros(n, dtype=np.int64)
        follow_ups: list[_Rows] = []
        opened = np.flatnonzero(kind == K_TICKET_OPEN)
        if len(opened):
            numbers, packed, follow_ups = self._tickets(t[opened], row_users[opened])
            a[opened] = numbers
            b[opened] = packed
        parts = [_Rows.make(t, kind, row_users, devices[session], ids[session], a, b), *follow_ups]

        # Password resets requested at the start of a few sessions.
        reset = rng.random(kept) < _PASSWORD_RESET_P
        if reset.any():
            sent = starts[reset] + rng.integers(3_000, 30_000, size=int(reset.sum()))
            password = campaigns.transactional(_TXN_PASSWORD)
            parts.append(self.mailer.funnel(users[reset], sent, password))
        parts.append(self._crawler(s, e, n_bot))
        return _Rows.concat(parts), consent

    def _draw(
        self, s: int, e: int, target: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int] | None:
        """Sessions starting in [s, e) worth ``target`` rows, counting newcomers' consent.

        Everyone who signs up in [s, e) starts a session; the other sessions go to users who
        exist by then, drawn by activity, as many as the budget needs (the last one is cut).
        Returns per session its user and start, per row its session, time and rank in the
        session, and the consent rows of the newcomers; None if nobody exists yet.
        """
        rng, until = self.run.rng, self.run.until
        lo = int(np.searchsorted(self.activation_sorted, max(s, self.run.start + 1), side="left"))
        hi = int(np.searchsorted(self.activation_sorted, e, side="left"))
        act_users = self.by_activation[lo:hi]
        act_starts = self.activation_sorted[lo:hi]
        n_act = len(act_users)
        if target <= 0 and n_act == 0:
            return None
        existing = int(np.searchsorted(self.activation_sorted, s, side="right"))
        guess = max(8, int(target / _MEAN_SESSION_LENGTH * 1.15) + 8)
        while True:
            regular = guess if existing else 0
            if regular:
                pick = np.searchsorted(
                    self.weight_cum[:existing],
                    rng.random(regular) * self.weight_cum[existing - 1],
                    side="right",
                )
                regular_users = self.by_activation[np.minimum(pick, existing - 1)]
            else:
                regular_users = np.empty(0, dtype=np.int64)
            users = np.concatenate([act_users, regular_users])
            starts = np.concatenate([act_starts, self.timeline.session_starts(rng, s, e, regular)])
            count = len(users)
            if count == 0:  # nobody exists yet
                return None
            lengths = np.minimum(rng.geometric(1 / _MEAN_SESSION_LENGTH, size=count), 80)
            session = np.repeat(np.arange(count), lengths)
            first_row = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            gaps = np.rint(_lognormal(rng, 20_000.0, 1.1, len(session))).astype(np.int64) + 300
            gaps[first_row] = 0
            elapsed = np.cumsum(gaps)
            t = starts[session] + elapsed - elapsed[first_row][session]
            inside = t < until
            per_session = np.bincount(session[inside], minlength=count)
            _, first_of_user = np.unique(users, return_index=True)
            cost = np.zeros(count, dtype=np.int64)
            newcomers = first_of_user[~self.audience.seen[users[first_of_user]]]
            cost[newcomers] = self.consent_rows[users[newcomers]]
            total = np.cumsum(per_session + cost)
            if total[-1] >= target or not regular or guess > 50 * max(target, 1):
                break
            guess *= 2
        cut = max(n_act - 1, int(np.searchsorted(total, target, side="left")))
        cut = min(cut, count - 1)
        allowed = per_session.copy()
        if cut >= n_act:
            before = int(total[cut - 1]) if cut > 0 else 0
            allowed[cut] = max(1, target - before - int(cost[cut]))
        rank = np.arange(len(session)) - first_row[session]
        keep = inside & (session <= cut) & (rank < allowed[session])
        kept = cut + 1
        return (
            users[:kept],
            starts[:kept],
            session[keep],
            t[keep],
            rank[keep],
            int(cost[:kept].sum()),
        )

    def _tickets(
        self, t_open: np.ndarray, users: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[_Rows]]:
        """Tickets opened at ``t_open``: numbers, packed attributes, closes and update mails.

        A ticket is closed hours later (sooner when urgent); most web and e-mail tickets get
        an update by e-mail.
        """
        rng, campaigns = self.run.rng, self.run.campaigns
        k = len(t_open)
        numbers = self.tickets + np.arange(k)
        self.tickets += k
        category = _pick(rng, _TICKET_CATEGORY_P, k)
        channel = _pick(rng, _CHANNEL_P, k)
        priority = _pick(rng, _PRIORITY_P, k)
        text = rng.integers(0, 16, size=k)
        resolution = np.where(
            category == 5, np.where(rng.random(k) < 0.7, 6, 0), _pick(rng, _RES_P, k)
        )
        packed = category | channel << 3 | priority << 5 | text << 7 | resolution << 11
        hours = np.where(priority >= 2, 1.5, 6.0) * HOUR_MS
        closed_t = t_open + 10 * MINUTE_MS + _lognormal(rng, hours, 1.2, k).astype(np.int64)
        ok = closed_t < self.run.until
        closed_users = users[ok]
        closes = _Rows.make(closed_t[ok], K_TICKET_CLOSE, closed_users, a=numbers[ok], b=packed[ok])
        mailed = (channel[ok] <= 1) & (rng.random(int(ok.sum())) < 0.8)
        sent = closed_t[ok][mailed] + rng.integers(5_000, 60_000, size=int(mailed.sum()))
        update = campaigns.transactional(_TXN_TICKET)
        return numbers, packed, [closes, self.mailer.funnel(closed_users[mailed], sent, update)]

    def _crawler(self, s: int, e: int, n: int) -> _Rows:
        """Crawler requests: spread evenly over the day, no session, no customer."""
        if n <= 0:
            return _Rows.empty()
        rng = self.run.rng
        t = np.sort(s + rng.integers(0, e - s, size=n))
        t = t[t < self.run.until]
        dev = self.human_devices + rng.integers(0, _N_BOT_DEVICES, size=len(t))
        return _Rows.make(t, K_TRAFFIC, -1, dev, -1, -2, 0)
