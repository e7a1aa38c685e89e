"""Tracked links in e-mails: the same URL in a click event and in the landing request."""

from __future__ import annotations

import datetime as dt

from usage_pipeline.producers.simulator.campaigns import (
    _CAMPAIGN_KINDS,
    _TXN_INVOICE,
    _TXN_PASSWORD,
    _TXN_TICKET,
    _TXN_WELCOME,
)
from usage_pipeline.producers.simulator.config import _EPOCH, DAY_MS
from usage_pipeline.producers.simulator.hashing import _mix_int
from usage_pipeline.producers.simulator.run import _Run


def _link_url(run: _Run, campaign: int, user: int, sent: int) -> str:
    """The tracked link of a message (the same for its click and its landing request)."""
    camp = run.campaigns
    link = camp.links[campaign]
    h = _mix_int(user * 1_000_003 + campaign * 7 + run.salt)
    if campaign == camp.transactional(_TXN_PASSWORD):
        return f"{link}?token={_mix_int(h ^ sent):016x}"
    if campaign == camp.transactional(_TXN_INVOICE):
        month = (_EPOCH + dt.timedelta(days=sent // DAY_MS)).strftime("%Y-%m")
        return f"{link}?period={month}"
    if campaign == camp.transactional(_TXN_TICKET):
        return f"{link}?utm_source=helpdesk&utm_medium=email"
    if campaign == camp.transactional(_TXN_WELCOME):
        return f"{link}?utm_source=welcome&utm_medium=email"
    kind = _CAMPAIGN_KINDS[int(camp.kinds[campaign])]
    url = f"{link}?utm_source={kind}&utm_medium=email&utm_campaign={camp.ids[campaign]}"
    if h % 20 == 0:  # some mailers put the subscriber's address in tracked links
        url += f"&subscriber={run.pop.user_emails[user]}"
    return url
