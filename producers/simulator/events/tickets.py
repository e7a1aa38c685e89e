"""``support.ticket`` events: tickets opened with a description, and closed with a resolution."""

from __future__ import annotations

from typing import Any, Final

from usage_pipeline.producers.simulator.catalog import (
    _CHANNELS,
    _DOMAINS,
    _PRIORITIES,
    _RESOLUTIONS,
    _TICKET_CATEGORIES,
    SUPPORT,
)
from usage_pipeline.producers.simulator.events.columns import _Columns, _Prepared
from usage_pipeline.producers.simulator.rows import K_TICKET_OPEN, _Rows
from usage_pipeline.producers.simulator.run import _Run

# Problem descriptions per category. {email} is the reporter's address, {ip} one of their IPs.
_TICKET_TEXTS: Final[dict[str, tuple[str, ...]]] = {
    "billing": (
        "The invoice for {period} lists {n} seats but we only have {m} users.",
        "We were charged twice this month. Please send the corrected invoice to {email}.",
        "Please change our billing contact from {email} to {other_email}.",
        "Can we switch from monthly to yearly billing? Who do I talk to?",
    ),
    "account_access": (
        "I can't log in since yesterday and the password reset mail never arrives at {email}.",
        "Locked out after changing my phone (MFA). My login is {email}, please help.",
        "Our office IP {ip} gets 'access denied' on the portal since this morning.",
        "A colleague left the company; please remove {other_email} from our account.",
    ),
    "broadcast_quality": (
        "Our live stream drops every few minutes. The encoder is at {ip}, "
        "started around {time} UTC.",
        "Viewers report audio out of sync on '{program}'.",
        "Broadcast Studio shows 'ingest timeout' when we start the stream from {ip}.",
        "Stream quality falls to 480p for viewers on mobile, fine on desktop.",
    ),
    "media_upload": (
        "Upload of a 4 GB file to the media library fails at 99%.",
        "Transcoding of '{program}' has been stuck at 'queued' for two hours.",
        "Captions generated for '{program}' are in the wrong language.",
    ),
    "email_delivery": (
        "Our newsletter to subscribers on {domain} bounces with 550 errors.",
        "Campaign emails land in spam for recipients at {domain}. Test address: {email}",
        "Open rates show 0% for yesterday's campaign although people clicked.",
    ),
    "privacy_request": (
        "Please delete all personal data you hold about me ({email}).",
        "I want a copy of my data (GDPR article 15). Account e-mail: {email}",
        "Please stop sharing my data with your partners.",
        "Why do you store my IP address ({ip})? Please explain or delete it.",
    ),
    "feature_request": (
        "It would be great to export campaign reports as XLSX.",
        "Can we schedule broadcasts in a time zone other than UTC?",
        "Please add an API endpoint to list media assets by tag.",
    ),
    "technical": (
        "The analytics dashboard keeps loading forever in Firefox.",
        "API returns 429 although we are far below our quota.",
        "Report export to CSV produces an empty file since the last update.",
        "Portal is very slow from our network ({ip}); other sites are fine.",
    ),
}


def _prepare_ticket(run: _Run, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
    """Ticket rows: opened ones get a description, closed ones a resolution.

    ``b`` packs the category (bits 0-2), channel (3-4), priority (5-6), description (7-10)
    and resolution (11-13).
    """
    kinds = r.kind.tolist()
    packed = r.b.tolist()
    texts = [
        _ticket_text(run, _TICKET_CATEGORIES[p & 7], (p >> 7) & 15, u, d, t)
        if k == K_TICKET_OPEN
        else None
        for k, p, u, d, t in zip(
            kinds, packed, r.user.tolist(), r.dev.tolist(), c.ts[lo:hi], strict=True
        )
    ]
    return _ticket_loop, [
        c.slot[lo:hi],
        c.ids[lo:hi],
        c.ts[lo:hi],
        c.account[lo:hi],
        c.user[lo:hi],
        c.email[lo:hi],
        c.ip[lo:hi],
        c.ua[lo:hi],
        c.session[lo:hi],
        kinds,
        r.a.tolist(),
        packed,
        texts,
    ]


def _ticket_text(run: _Run, category: str, choice: int, user: int, dev: int, t: str) -> str:
    """The customer's description: realistic free text, sometimes with an e-mail or IP."""
    pop = run.pop
    texts = _TICKET_TEXTS[category]
    account = int(pop.user_account[user])
    owner = int(pop.account_first_user[account])
    own = pop.user_emails[user]
    other = pop.user_emails[owner] if owner != user else f"billing@{own.split('@')[1]}"
    seats = int(pop.account_seats[account])
    program = run.programs.titles[(user * 31 + choice) % len(run.programs.titles)]
    return texts[choice % len(texts)].format(
        email=own,
        other_email=other,
        ip=pop.device_ips[dev],
        period=t[:7],
        n=seats + 2,
        m=seats,
        time=t[11:16],
        program=program,
        domain=_DOMAINS[(user + choice) % len(_DOMAINS)][0],
    )


def _ticket_loop(out: list[Any], *columns: list[Any]) -> None:
    for i, eid, t, acc, uid, em, ip, ua, sid, kind, number, packed, text in zip(
        *columns, strict=True
    ):
        channel = _CHANNELS[(packed >> 3) & 3]
        props: dict[str, Any] = {
            "action": "opened" if kind == K_TICKET_OPEN else "closed",
            "ticket_id": f"T-{100_000 + number}",
            "channel": channel,
            "category": _TICKET_CATEGORIES[packed & 7],
            "priority": _PRIORITIES[(packed >> 5) & 3],
        }
        event: dict[str, Any] = {
            "event_id": eid,
            "event_type": "support.ticket",
            "schema_version": 1,
            "occurred_at": t,
            "source": "helpdesk-sync",
            "subject": {"account_id": acc, "user_id": uid, "email": em},
        }
        if kind == K_TICKET_OPEN:
            props["description"] = text
            if channel in ("web", "chat"):
                event["context"] = {
                    "ip": ip,
                    "user_agent": ua,
                    "host": SUPPORT,
                    "url": f"https://{SUPPORT}/tickets/new",
                    "session_id": sid,
                }
        else:
            props["resolution"] = _RESOLUTIONS[(packed >> 11) & 7]
        event["properties"] = props
        out[i] = event
