"""``email.activity`` events: each step of a message, from sent to opened, clicked or bounced."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from usage_pipeline.producers.simulator.catalog import COMPANY_DOMAIN
from usage_pipeline.producers.simulator.events.columns import _Columns, _Prepared
from usage_pipeline.producers.simulator.events.links import _link_url
from usage_pipeline.producers.simulator.formatting import _hex_strings
from usage_pipeline.producers.simulator.hashing import _mix64
from usage_pipeline.producers.simulator.rows import (
    K_MAIL_BOUNCED_HARD,
    K_MAIL_BOUNCED_SOFT,
    K_MAIL_CLICKED,
    K_MAIL_SENT,
    _Rows,
)
from usage_pipeline.producers.simulator.run import _Run

# Per e-mail row kind, from K_MAIL_SENT on (hard and soft bounces are both "bounced").
_EMAIL_ACTIONS: Final = (
    "sent",
    "delivered",
    "bounced",
    "bounced",
    "complained",
    "opened",
    "clicked",
    "unsubscribed",
)
_MAIL_ACTION_NAMES: Final = np.array(_EMAIL_ACTIONS, dtype=object)
_HARD_BOUNCE: Final = ("bounce_type", "hard")
_SOFT_BOUNCE: Final = ("bounce_type", "soft")


def _prepare_mail(run: _Run, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
    """E-mail rows: message ids, and the link of a click or the type of a bounce."""
    hashed = _mix64(r.user * 1_048_576 + r.a * 7 + run.salt) >> np.uint64(24)
    message_ids = [
        f"<{sent}.{h}@mail.{COMPANY_DOMAIN}>"
        for sent, h in zip(r.b.tolist(), _hex_strings(hashed, 10), strict=True)
    ]
    extra: list[tuple[str, str] | None] = [None] * (hi - lo)
    for j in np.flatnonzero(r.kind == K_MAIL_CLICKED).tolist():
        extra[j] = ("link_url", _link_url(run, int(r.a[j]), int(r.user[j]), int(r.b[j])))
    for j in np.flatnonzero(r.kind == K_MAIL_BOUNCED_HARD).tolist():
        extra[j] = _HARD_BOUNCE
    for j in np.flatnonzero(r.kind == K_MAIL_BOUNCED_SOFT).tolist():
        extra[j] = _SOFT_BOUNCE
    return _mail_loop, [
        c.slot[lo:hi],
        c.ids[lo:hi],
        c.ts[lo:hi],
        c.account[lo:hi],
        c.user[lo:hi],
        c.email[lo:hi],
        c.ip[lo:hi],
        c.ua[lo:hi],
        (_MAIL_ACTION_NAMES[r.kind - K_MAIL_SENT]).tolist(),
        run.campaigns.ids[r.a].tolist(),
        run.campaigns.kind_names[r.a].tolist(),
        message_ids,
        extra,
        (r.dev >= 0).tolist(),
    ]


def _mail_loop(out: list[Any], *columns: list[Any]) -> None:
    for i, eid, t, acc, uid, email, ip, ua, action, cid, kind, msg, extra, reader in zip(
        *columns, strict=True
    ):
        props = {
            "action": action,
            "campaign_id": cid,
            "campaign_kind": kind,
            "message_id": msg,
            "recipient": email,
        }
        if extra is not None:  # ("link_url", ...) of a click, ("bounce_type", ...) of a bounce
            props[extra[0]] = extra[1]
        if reader:  # opens and clicks are reported from the reader's device
            out[i] = {
                "event_id": eid,
                "event_type": "email.activity",
                "schema_version": 1,
                "occurred_at": t,
                "source": "mail-relay",
                "subject": {"account_id": acc, "user_id": uid},
                "context": {"ip": ip, "user_agent": ua},
                "properties": props,
            }
        else:
            out[i] = {
                "event_id": eid,
                "event_type": "email.activity",
                "schema_version": 1,
                "occurred_at": t,
                "source": "mail-relay",
                "subject": {"account_id": acc, "user_id": uid},
                "properties": props,
            }
