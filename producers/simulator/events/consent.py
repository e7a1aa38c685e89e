"""``consent.changed`` events: answers at signup, and later changes of mind."""

from __future__ import annotations

from typing import Any, Final

from usage_pipeline.producers.simulator.catalog import PORTAL, WWW
from usage_pipeline.producers.simulator.events.columns import _Columns, _Prepared
from usage_pipeline.producers.simulator.rows import _Rows
from usage_pipeline.producers.simulator.run import _Run

# A consent row's code is purpose * 100 + status * 10 + source: indices into these.
_PURPOSES: Final = ("analytics", "marketing", "partner_sharing")
_STATUSES: Final = ("withdrawn", "granted")
_CONSENT_SOURCES: Final = (
    "signup_form",
    "preference_center",
    "unsubscribe_link",
    "support",
    "admin_console",
    "import",
)
# The service that reports a change, per source.
_CONSENT_PUBLISHER: Final = (
    "signup-service",
    "preference-center",
    "mail-relay",
    "helpdesk-sync",
    "admin-console",
    "crm-import",
)


def _prepare_consent(run: _Run, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
    """Consent rows: purpose, status and source are packed in ``a``."""
    return _consent_loop, [
        c.slot[lo:hi],
        c.ids[lo:hi],
        c.ts[lo:hi],
        c.account[lo:hi],
        c.user[lo:hi],
        c.email[lo:hi],
        c.ip[lo:hi],
        c.ua[lo:hi],
        c.session[lo:hi],
        r.a.tolist(),
        r.dev.tolist(),
    ]


def _consent_loop(out: list[Any], *columns: list[Any]) -> None:
    for i, eid, t, acc, uid, em, ip, ua, sid, code, dev in zip(*columns, strict=True):
        source = code % 10
        event: dict[str, Any] = {
            "event_id": eid,
            "event_type": "consent.changed",
            "schema_version": 1,
            "occurred_at": t,
            "source": _CONSENT_PUBLISHER[source],
            "subject": {"account_id": acc, "user_id": uid, "email": em}
            if source == 0
            else {"account_id": acc, "user_id": uid},
        }
        if dev >= 0 and source <= 1:  # given on a web form
            host, path = (WWW, "/signup") if source == 0 else (PORTAL, "/account/privacy")
            context = {"ip": ip, "user_agent": ua, "host": host, "url": f"https://{host}{path}"}
            if sid is not None:
                context["session_id"] = sid
            event["context"] = context
        event["properties"] = {
            "purpose": _PURPOSES[code // 100],
            "status": _STATUSES[(code // 10) % 10],
            "source": _CONSENT_SOURCES[source],
            "effective_at": t,
        }
        out[i] = event
