"""Page views from browsers: the beacon's payload, turned into ``traffic.web_request`` events.

The browser sends only what the page knows (its URL, its referrer, and the ids of a
signed-in visitor if the site chose to pass them); the collector adds what the request
itself carries: the client IP, the User-Agent header and the time. No cookie is read or set.
A ``Sec-GPC: 1`` header on a request that names a user is that user's opt-out of sharing
with partners, recorded as a ``consent.changed`` withdrawal of ``partner_sharing``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

ANONYMOUS_ACCOUNT = "anonymous"  # the subject of a page view by nobody signed in
MAX_BEACON_BYTES = 8 * 1024
MAX_URL_CHARS = 2048
MAX_USER_AGENT_CHARS = 1024
SUBJECT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Control characters have no place in a header value (RFC 9110 section 5.5).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Derived consent events get ids from their page view's id: a retried request makes no twin.
GPC_NAMESPACE = uuid.UUID("5d0c8e52-0f5b-4d36-9a4b-6e3f1b2c7a90")


class BeaconError(ValueError):
    """A page-view payload the collector refuses; the reason names the field, not the value."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Beacon:
    """What the page sent."""

    url: str
    referrer: str | None
    user_id: str | None
    account_id: str | None

    @property
    def origin(self) -> str:
        """scheme://host[:port] of the page, lower-cased, as browsers write Origin."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}".lower()


def parse_beacon(body: bytes) -> Beacon:
    """Decode ``{"url": ..., "referrer": ..., "user_id": ..., "account_id": ...}``."""
    if len(body) > MAX_BEACON_BYTES:
        raise BeaconError(413, f"the body is over the {MAX_BEACON_BYTES}-byte limit")
    reason = None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        reason = "the body is not valid JSON"
    if reason is not None:
        raise BeaconError(400, reason)
    if not isinstance(payload, dict):
        raise BeaconError(400, "the body must be a JSON object")
    unknown = set(payload) - {"url", "referrer", "user_id", "account_id"}
    if unknown:
        raise BeaconError(400, "unexpected property; allowed: url, referrer, user_id, account_id")
    url = payload.get("url")
    if not isinstance(url, str) or not _is_page_url(url):
        raise BeaconError(400, "url: must be the absolute http(s) URL of the page")
    referrer = payload.get("referrer")
    if referrer is not None and not isinstance(referrer, str):
        raise BeaconError(400, "referrer: must be a string or null")
    ids = {}
    for name in ("user_id", "account_id"):
        value = payload.get(name)
        if value is not None and (not isinstance(value, str) or not SUBJECT_ID.fullmatch(value)):
            raise BeaconError(400, f"{name}: must be 1 to 64 characters of A-Z a-z 0-9 . _ : -")
        ids[name] = value
    # A referrer that is no page URL (an app, a stripped header) is dropped, not refused.
    kept_referrer = referrer if referrer and _is_page_url(referrer) else None
    return Beacon(url, kept_referrer, ids["user_id"], ids["account_id"])


def clean_user_agent(value: str | None) -> str | None:
    """The User-Agent header without control characters, cut to the contract's 1024."""
    if not value:
        return None
    return _CONTROL.sub("", value)[:MAX_USER_AGENT_CHARS] or None


def page_view(
    beacon: Beacon, ip: str, user_agent: str | None, source: str, now: dt.datetime
) -> dict[str, Any]:
    """The ``traffic.web_request`` event of one page view."""
    subject = {
        name: value
        for name, value in (("account_id", beacon.account_id), ("user_id", beacon.user_id))
        if value is not None
    } or {"account_id": ANONYMOUS_ACCOUNT}
    context: dict[str, Any] = {"ip": ip, "host": urlsplit(beacon.url).hostname, "url": beacon.url}
    if user_agent:
        context["user_agent"] = user_agent
    if beacon.referrer:
        context["referrer"] = beacon.referrer
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "traffic.web_request",
        "schema_version": 1,
        "occurred_at": _timestamp(now),
        "source": source,
        "subject": subject,
        "context": context,
        # The page was served (it runs the script); its size is the web server's to know.
        "properties": {"method": "GET", "status": 200, "response_bytes": 0, "page_view": True},
    }


def gpc_withdrawal(view: dict[str, Any]) -> dict[str, Any] | None:
    """The withdrawal of ``partner_sharing`` a ``Sec-GPC: 1`` page view implies, if it names a
    user (consent is recorded per user); None for an anonymous page view."""
    subject = view["subject"]
    if "user_id" not in subject:
        return None
    return {
        "event_id": str(uuid.uuid5(GPC_NAMESPACE, view["event_id"])),
        "event_type": "consent.changed",
        "schema_version": 1,
        "occurred_at": view["occurred_at"],
        "source": view["source"],
        "subject": dict(subject),
        "properties": {
            "purpose": "partner_sharing",
            "status": "withdrawn",
            "source": "global_privacy_control",
            "effective_at": view["occurred_at"],
        },
    }


def _is_page_url(url: str) -> bool:
    if len(url) > MAX_URL_CHARS or _CONTROL.search(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _timestamp(now: dt.datetime) -> str:
    # isoformat of a UTC time ends in "+00:00"; several times cheaper than strftime.
    return now.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
