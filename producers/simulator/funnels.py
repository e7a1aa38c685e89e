"""E-mail funnels: every event of a message per recipient, for bulk, invoice and other mails."""

from __future__ import annotations

from typing import Final

import numpy as np

from usage_pipeline.producers.simulator.audience import _Audience
from usage_pipeline.producers.simulator.campaigns import _CLICK_P, _OPEN_P, _TXN_INVOICE, _UNSUB_P
from usage_pipeline.producers.simulator.catalog import _DOMAINS
from usage_pipeline.producers.simulator.config import HOUR_MS, MINUTE_MS
from usage_pipeline.producers.simulator.draws import _lognormal
from usage_pipeline.producers.simulator.rows import (
    K_MAIL_BOUNCED_HARD,
    K_MAIL_BOUNCED_SOFT,
    K_MAIL_CLICKED,
    K_MAIL_COMPLAINED,
    K_MAIL_DELIVERED,
    K_MAIL_OPENED,
    K_MAIL_SENT,
    K_MAIL_UNSUBSCRIBED,
    K_TRAFFIC,
    _Rows,
)
from usage_pipeline.producers.simulator.run import _Run

_DOMAIN_BOUNCE: Final = np.array([d[1] for d in _DOMAINS])
_DOMAIN_HARD: Final = np.array([d[2] for d in _DOMAINS])
_DOMAIN_COMPLAINT: Final = np.array([d[3] for d in _DOMAINS])


class _Mailer:
    """Sends messages: draws what each recipient does with them, and who can't be mailed."""

    def __init__(self, run: _Run, audience: _Audience) -> None:
        self.run = run
        self.audience = audience

    def funnel(self, users: np.ndarray, sent: np.ndarray, campaign: int) -> _Rows:
        """Every e-mail event of one message per user: sent, delivered or bounced, opened..."""
        n = len(users)
        if n == 0:
            return _Rows.empty()
        rng, pop = self.run.rng, self.run.pop
        kind = int(self.run.campaigns.kinds[campaign])
        domain = pop.user_domain[users]
        bounce_p = _DOMAIN_BOUNCE[domain]
        r = rng.random((n, 6))
        bounced = r[:, 0] < bounce_p
        hard = bounced & (r[:, 1] < _DOMAIN_HARD[domain])
        delivered = ~bounced
        t_deliver = sent + 800 + _lognormal(rng, 3_000.0, 0.9, n).astype(np.int64)
        t_bounce = sent + 2_000 + _lognormal(rng, 25_000.0, 1.0, n).astype(np.int64)
        opened = delivered & (r[:, 2] < _OPEN_P[kind])
        t_open = t_deliver + MINUTE_MS + _lognormal(rng, 2.5 * HOUR_MS, 1.3, n).astype(np.int64)
        clicked = opened & (r[:, 3] < _CLICK_P[kind])
        t_click = t_open + 2_000 + _lognormal(rng, 20_000.0, 1.0, n).astype(np.int64)
        t_land = t_click + rng.integers(300, 2_500, size=n)
        unsub = delivered & (r[:, 4] < _UNSUB_P[kind])
        t_unsub = (
            np.where(
                opened, t_open, t_deliver + _lognormal(rng, 3 * HOUR_MS, 1.0, n).astype(np.int64)
            )
            + 5_000
            + _lognormal(rng, 30_000.0, 1.0, n).astype(np.int64)
        )
        complained = delivered & (r[:, 5] < _DOMAIN_COMPLAINT[domain])
        t_complain = t_deliver + _lognormal(rng, 6 * HOUR_MS, 1.2, n).astype(np.int64)
        device = (
            pop.user_device_start[users] + rng.integers(0, 3, size=n) % pop.user_device_count[users]
        )
        sessions = self.run.new_sessions(n)

        until = self.run.until
        parts: list[_Rows] = []

        def add(mask: np.ndarray, t: np.ndarray, k: int, **extra: np.ndarray | int) -> None:
            m = mask & (t < until)
            cols = {key: value[m] if isinstance(value, np.ndarray) else value
                    for key, value in extra.items()}  # fmt: skip
            parts.append(_Rows.make(t[m], k, users[m], a=campaign, b=sent[m], **cols))

        everyone = np.ones(n, dtype=bool)
        add(everyone, sent, K_MAIL_SENT)
        add(delivered, t_deliver, K_MAIL_DELIVERED)
        add(hard, t_bounce, K_MAIL_BOUNCED_HARD)
        add(bounced & ~hard, t_bounce, K_MAIL_BOUNCED_SOFT)
        add(opened, t_open, K_MAIL_OPENED, dev=device)
        add(clicked, t_click, K_MAIL_CLICKED, dev=device)
        add(clicked, t_land, K_TRAFFIC, dev=device, sess=sessions)
        add(unsub, t_unsub, K_MAIL_UNSUBSCRIBED)
        add(complained, t_complain, K_MAIL_COMPLAINED)

        # Provider suppression after hard bounces and complaints; opt-out after unsubscribing.
        self.audience.suppressed[users[hard | complained]] = True
        quit_ = unsub & (t_unsub < until)
        np.minimum.at(self.audience.marketing_off_ms, users[quit_], t_unsub[quit_])
        return _Rows.concat(parts)

    def blast(self, campaign: int) -> _Rows:
        """A bulk campaign: sent over ~45 minutes to part of the users who may receive it."""
        rng, campaigns = self.run.rng, self.run.campaigns
        t0 = int(campaigns.starts_ms[campaign])
        eligible = self.audience.bulk_mail_recipients(t0)
        size = min(int(campaigns.recipients[campaign]), len(eligible))
        if size == 0:
            return _Rows.empty()
        users = rng.choice(eligible, size=size, replace=False)
        sent = t0 + np.sort(rng.integers(0, 45 * MINUTE_MS, size=size))
        return self.funnel(users, sent, campaign)

    def invoices(self, t0: int) -> _Rows:
        """Monthly invoice mails to the owner of every account that existed at the time.

        For an owner not seen before, the invoice is their first event: their initial
        consent is then recorded just before it, like for anyone else.
        """
        pop = self.run.pop
        owners = pop.account_first_user
        owners = owners[pop.user_activation_ms[owners] <= t0]
        sent = t0 + np.sort(self.run.rng.integers(0, 30 * MINUTE_MS, size=len(owners)))
        return self.funnel(owners, sent, self.run.campaigns.transactional(_TXN_INVOICE))
