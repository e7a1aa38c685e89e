"""``traffic.web_request`` events: requests to the web front ends, by people and crawlers."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from usage_pipeline.producers.simulator.campaigns import _PROMO_THEMES, _Campaigns
from usage_pipeline.producers.simulator.catalog import HOSTS
from usage_pipeline.producers.simulator.draws import _pick, _pick_cum, _pick_rows
from usage_pipeline.producers.simulator.events.columns import _Columns, _Prepared
from usage_pipeline.producers.simulator.events.links import _link_url
from usage_pipeline.producers.simulator.pages import P_API, P_FORM
from usage_pipeline.producers.simulator.rows import _Rows
from usage_pipeline.producers.simulator.run import _Run

_METHODS: Final = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")
_METHOD_NAMES: Final = np.array(_METHODS, dtype=object)
# Per page kind: method distribution over _METHODS
_METHOD_P: Final = np.array(
    [
        [0.997, 0.0, 0.0, 0.0, 0.003, 0.0, 0.0],  # html
        [0.99, 0.0, 0.0, 0.0, 0.01, 0.0, 0.0],  # asset
        [0.65, 0.20, 0.06, 0.03, 0.0, 0.03, 0.03],  # api
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # media
        [0.70, 0.30, 0.0, 0.0, 0.0, 0.0, 0.0],  # form
    ]
)
# Status tables: (codes, probabilities) per table; table = page kind, or 5 for a form POST
_STATUS_CODES: Final = np.array(
    [
        [200, 304, 301, 302, 404, 403, 500, 503],
        [200, 304, 404, 200, 200, 200, 200, 200],
        [200, 201, 204, 400, 401, 404, 429, 500],
        [200, 206, 404, 403, 200, 200, 200, 200],
        [200, 304, 302, 404, 500, 200, 200, 200],
        [302, 200, 400, 401, 422, 500, 200, 200],
    ]
)
_STATUS_P: Final = np.array(
    [
        [0.915, 0.020, 0.010, 0.010, 0.030, 0.005, 0.005, 0.005],
        [0.800, 0.180, 0.020, 0, 0, 0, 0, 0],
        [0.870, 0.050, 0.020, 0.020, 0.015, 0.015, 0.005, 0.005],
        [0.960, 0.025, 0.010, 0.005, 0, 0, 0, 0],
        [0.940, 0.020, 0.010, 0.020, 0.010, 0, 0, 0],
        [0.600, 0.250, 0.050, 0.070, 0.020, 0.010, 0, 0],
    ]
)

# Query kinds, with probabilities among requests that carry a query string.
_QUERY_P: Final = np.array(
    [0.20, 0.14, 0.10, 0.16, 0.15, 0.10, 0.05, 0.05, 0.025, 0.01, 0.015]
)  # utm ad, utm email, utm social, search, page, sort, lang, ref, email, email %40, ip

_DYNAMIC: Final = np.array([True, False, True, False, True])  # per page kind: html, api, form
_HTML: Final = np.array([True, False, False, False, True])
_BASE_MS: Final = np.array([70.0, 9.0, 45.0, 22.0, 90.0])  # typical service time per page kind

# Referrers of page views: none, search engines, social networks, or a page of the same site.
_REFERRER_WEIGHTS: Final = (
    (None, 0.45),
    ("https://www.google.com/", 0.17),
    ("https://www.bing.com/", 0.04),
    ("https://duckduckgo.com/", 0.025),
    ("https://www.ecosia.org/", 0.015),
    ("https://t.co/", 0.025),
    ("https://www.linkedin.com/", 0.025),
    ("https://www.facebook.com/", 0.015),
    ("https://www.youtube.com/", 0.01),
    ("https://www.reddit.com/", 0.005),
    (None, 0.22),  # internal: filled in with a page of the same site
)
_REFERRERS: Final = np.array([r for r, _ in _REFERRER_WEIGHTS], dtype=object)
_REFERRER_CUM: Final = np.cumsum([w for _, w in _REFERRER_WEIGHTS])
_INTERNAL_REFERRER: Final = len(_REFERRER_WEIGHTS) - 1

_SEARCH_TERMS: Final = (
    "broadcast+scheduling",
    "live+stream+encoder",
    "pricing",
    "media+library+upload",
    "campaign+analytics",
    "ad+insertion",
    "hls+latency",
    "captions",
    "api+rate+limit",
    "gdpr",
)

_HOST_NAMES: Final = np.array(HOSTS, dtype=object)


def _prepare_traffic(run: _Run, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
    """Traffic rows: pages, methods, statuses, sizes, query strings, referrers."""
    rng, pages = run.rng, run.pages
    n = hi - lo
    bot = r.a == -2
    landing = r.a >= 0
    human = r.a == -1
    page = _pick_cum(rng, pages.cum_human, n)
    if bot.any():
        page[bot] = _pick_cum(rng, pages.cum_bot, int(bot.sum()))
    if landing.any():
        page[landing] = pages.landing
    kind = pages.kind[page]
    method = _pick_rows(rng, _METHOD_P, kind)
    method[~human] = 0
    table = np.where((kind == P_FORM) & (method == 1), 5, kind)
    status = _STATUS_CODES[table, _pick_rows(rng, _STATUS_P, table)]
    status[landing] = 200
    dynamic = _DYNAMIC[kind]
    noise = rng.standard_normal(n)
    size = pages.size[page] * np.exp(noise * np.where(dynamic, 0.25, 0.03))
    small = rng.random(n)
    size = np.where(status == 206, size * (0.05 + 0.85 * small), size)
    size = np.where((status == 301) | (status == 302), 150 + 270 * small, size)
    size = np.where(status >= 400, np.where(kind == P_API, 90, 3_800) * (1 + small), size)
    empty = (status == 204) | (status == 304) | (method >= 4)
    response = np.where(empty, 0, np.rint(size)).astype(np.int64)
    base = _BASE_MS[kind] * np.where(method == 1, 2.5, 1.0)
    service_ms = base * np.exp(0.7 * rng.standard_normal(n))
    duration = np.rint(service_ms + response / 1_500.0 + 1).astype(np.int64)
    duration[small < 0.03] = -1
    html = _HTML[kind]
    page_view = html & (method == 0) & (status < 400) & ~bot

    urls = pages.urls[page]
    emails = c.email[lo:hi]
    ips = c.ip[lo:hi]
    # Query strings: utm tags, searches, paging ... and, rarely, personal data.
    query = np.flatnonzero(human & dynamic & (rng.random(n) < pages.query_rate)).tolist()
    if query:
        kinds = _pick(rng, _QUERY_P, len(query)).tolist()
        picks = rng.integers(0, 1 << 30, size=len(query)).tolist()
        for i, qk, x in zip(query, kinds, picks, strict=True):
            urls[i] = f"{urls[i]}?{_query(run.campaigns, qk, x, emails[i], ips[i])}"
    host = pages.host[page]
    hosts = _HOST_NAMES[host]
    if landing.any():
        for i in np.flatnonzero(landing).tolist():
            urls[i] = _link_url(run, int(r.a[i]), int(r.user[i]), int(r.b[i]))
        hosts[landing] = run.campaigns.hosts[r.a[landing]]

    # Referrers: where page views came from; the including page for everything else.
    pick = rng.integers(0, 1 << 30, n) % pages.html_count[host]
    site = pages.urls[pages.html_pages[pages.html_start[host] + pick]]
    origin = _pick_cum(rng, _REFERRER_CUM, n)
    referrer = np.where(
        html,
        np.where(origin == _INTERNAL_REFERRER, site, _REFERRERS[origin]),
        np.where(small < 0.9, site, None),
    )
    referrer[~human] = None
    leaky = np.flatnonzero(human & html & (origin == _INTERNAL_REFERRER) & (noise > 2.75))
    for i in leaky.tolist():
        referrer[i] = f"{referrer[i]}?email={emails[i]}"
    return _traffic_loop, [
        c.slot[lo:hi],
        c.ids[lo:hi],
        c.ts[lo:hi],
        c.account[lo:hi],
        c.user[lo:hi],
        ips,
        c.ua[lo:hi],
        hosts.tolist(),
        urls.tolist(),
        referrer.tolist(),
        c.session[lo:hi],
        _METHOD_NAMES[method].tolist(),
        status.tolist(),
        response.tolist(),
        duration.tolist(),
        page_view.tolist(),
    ]


def _query(campaigns: _Campaigns, kind: int, x: int, email: str | None, ip: str) -> str:
    """One query string of the given kind (see _QUERY_P)."""
    terms = _SEARCH_TERMS
    if kind == 0:
        return f"utm_source=google&utm_medium=cpc&utm_campaign=brand-{terms[x % len(terms)]}"
    if kind == 1:
        camp = campaigns.ids[x % max(1, campaigns.blasts)]
        return f"utm_source=newsletter&utm_medium=email&utm_campaign={camp}"
    if kind == 2:
        network = ("linkedin", "facebook", "twitter", "youtube")[x % 4]
        theme = _PROMO_THEMES[x % len(_PROMO_THEMES)]
        return f"utm_source={network}&utm_medium=social&utm_campaign={theme}"
    if kind == 3:
        return f"q={terms[x % len(terms)]}"
    if kind == 4:
        return f"page={2 + x % 9}"
    if kind == 5:
        return ("sort=date&order=desc", "status=active", "filter=live", "view=grid")[x % 4]
    if kind == 6:
        return f"lang={('de', 'fr', 'es', 'nl', 'ja')[x % 5]}"
    if kind == 7:
        return f"ref=partner-{x % 40:03d}"
    if kind == 8 and email is not None:
        return f"{('email', 'user', 'contact')[x % 3]}={email}"
    if kind == 9 and email is not None:
        return f"email={email.replace('@', '%40')}"
    return f"{('ip', 'client_ip')[x % 2]}={ip}"


def _traffic_loop(out: list[Any], *columns: list[Any]) -> None:
    for i, eid, t, acc, uid, ip, ua, host, url, ref, sid, m, st, size, ms, pv in zip(
        *columns, strict=True
    ):
        # One dict display per shape: growing a dict after creating it costs a resize.
        if sid is None:
            context = {"ip": ip, "user_agent": ua, "host": host, "url": url}
        elif ref is None:
            context = {"ip": ip, "user_agent": ua, "host": host, "url": url, "session_id": sid}
        else:
            context = {
                "ip": ip,
                "user_agent": ua,
                "host": host,
                "url": url,
                "referrer": ref,
                "session_id": sid,
            }
        props = (
            {
                "method": m,
                "status": st,
                "response_bytes": size,
                "duration_ms": ms,
                "page_view": pv,
            }
            if ms >= 0
            else {"method": m, "status": st, "response_bytes": size, "page_view": pv}
        )
        out[i] = {
            "event_id": eid,
            "event_type": "traffic.web_request",
            "schema_version": 1,
            "occurred_at": t,
            "source": "edge-nginx",
            "subject": {"account_id": acc, "user_id": uid}
            if uid is not None
            else {"account_id": acc},
            "context": context,
            "properties": props,
        }
