"""First appearances: initial consent just before a user's first event, later changes, welcome."""

from __future__ import annotations

import numpy as np

from usage_pipeline.producers.simulator.audience import _Audience
from usage_pipeline.producers.simulator.campaigns import _TXN_WELCOME
from usage_pipeline.producers.simulator.config import MINUTE_MS
from usage_pipeline.producers.simulator.draws import _pick
from usage_pipeline.producers.simulator.funnels import _Mailer
from usage_pipeline.producers.simulator.rows import K_CONSENT, _Rows
from usage_pipeline.producers.simulator.run import _Run


class _Newcomers:
    """Records each user's consent when they first appear, and schedules what follows."""

    def __init__(self, run: _Run, audience: _Audience, mailer: _Mailer) -> None:
        self.run = run
        self.audience = audience
        self.mailer = mailer
        self.is_new = run.pop.user_activation_ms > run.start

    def rows(self, rows: _Rows, s: int) -> tuple[_Rows, int]:
        """Consent rows just before each new user's first event; their later changes; welcome.

        Returns the rows and how many of them are initial consent.
        """
        seen, marketing_off_ms = self.audience.seen, self.audience.marketing_off_ms
        users = rows.user
        candidates = np.flatnonzero((users >= 0) & ~seen[np.maximum(users, 0)])
        if len(candidates) == 0:
            return _Rows.empty(), 0
        _, first = np.unique(users[candidates], return_index=True)
        pos = candidates[first]
        rng, pop = self.run.rng, self.run.pop
        u, t1, dev, sess = users[pos], rows.t[pos], rows.dev[pos], rows.sess[pos]
        seen[u] = True
        n = len(u)
        t_consent = np.maximum(s, t1 - rng.integers(500, 4_000, size=n))
        parts: list[_Rows] = []
        answers = pop.consent_initial[u]
        initial = int((answers >= 0).sum())
        for purpose in range(3):
            m = answers[:, purpose] >= 0
            code = purpose * 100 + answers[m, purpose].astype(np.int64) * 10  # source 0: signup
            parts.append(_Rows.make(t_consent[m], K_CONSENT, u[m], dev[m], sess[m], code))
        off = answers[:, 1] == 0
        marketing_off_ms[u[off]] = np.minimum(marketing_off_ms[u[off]], t_consent[off])

        # Later changes, somewhere between the first appearance and the end of the period.
        room = self.run.until - t1 - 2 * MINUTE_MS
        later = t1 + MINUTE_MS + (rng.random(n) * np.maximum(room, 0)).astype(np.int64)
        device = pop.user_device_start[u] + rng.integers(0, 3, size=n) % pop.user_device_count[u]
        # Partner sharing is withdrawn in the preference center, through support or an admin.
        source = np.array([1, 3, 4])[_pick(rng, np.array([0.6, 0.25, 0.15]), n)]
        ok = room > 0
        for flags, code, src in (
            (pop.later_marketing_withdrawal, 100, np.ones(n, dtype=np.int64)),
            (pop.later_partner_withdrawal, 200, source),
            (pop.later_analytics_grant, 10, np.ones(n, dtype=np.int64)),
        ):
            m = flags[u] & ok
            devs = np.where(src[m] == 1, device[m], -1)
            parts.append(_Rows.make(later[m], K_CONSENT, u[m], devs, -1, code + src[m]))
            if code == 100:
                np.minimum.at(marketing_off_ms, u[m], later[m])
        welcome = self.is_new[u]
        sent = t1[welcome] + rng.integers(2_000, 20_000, size=int(welcome.sum()))
        campaign = self.run.campaigns.transactional(_TXN_WELCOME)
        parts.append(self.mailer.funnel(u[welcome], sent, campaign))
        return _Rows.concat(parts), initial
