"""The web pages of the four hosts, with how often people and crawlers request each of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from usage_pipeline.producers.simulator.campaigns import _BROADCAST_TOPICS, _PROMO_THEMES
from usage_pipeline.producers.simulator.catalog import HOSTS, WWW
from usage_pipeline.producers.simulator.draws import _zipf
from usage_pipeline.producers.simulator.hashing import _mix64

# Page kinds: they decide methods, statuses, sizes and whether a request is a page view.
P_HTML, P_ASSET, P_API, P_MEDIA, P_FORM = range(5)
_QUERY_SHARE: Final = 0.10  # of all web requests


@dataclass(frozen=True, eq=False)
class _Pages:
    """Every URL with its host, kind and size; popularity as running totals for picking."""

    urls: np.ndarray  # object: absolute URL without query
    host: np.ndarray  # index into HOSTS
    kind: np.ndarray  # P_*
    size: np.ndarray  # typical response bytes
    cum_human: np.ndarray
    cum_bot: np.ndarray
    html_pages: np.ndarray  # HTML pages grouped by the host whose requests they refer
    html_start: np.ndarray  # per host: first of its referring pages in html_pages
    html_count: np.ndarray
    query_rate: float  # P(query string) for an HTML or API request
    landing: int  # a www HTML page, for the size of campaign landing pages


def _pages(rng: np.random.Generator) -> _Pages:
    """Every URL the web front ends serve, with how often people and crawlers ask for it."""
    rows: list[tuple[int, str, int, int, float, float]] = []

    def add(host: int, path: str, kind: int, size: int, weight: float, bot: float = 0.0) -> None:
        rows.append((host, path, kind, size, weight, bot))

    def many(host: int, paths: list[str], kind: int, size: int, total: float, bot: float) -> None:
        for path, w in zip(paths, _zipf(len(paths), total), strict=True):
            add(host, path, kind, int(size * (0.6 + 0.8 * ((hash_of(path) % 1000) / 1000))), w, bot)

    def hash_of(text: str) -> int:
        return int(_mix64(np.frombuffer(text.encode().ljust(8, b"_")[:8], np.uint64))[0])

    www, portal, media, support = range(4)
    h = [f"{x:08x}"[:8] for x in rng.integers(0, 2**32, size=8).tolist()]
    # www: the public site
    add(www, "/", P_HTML, 48_000, 30, 3)
    add(www, "/pricing", P_HTML, 36_000, 18, 2)
    for product in ("broadcast-studio", "campaign-manager", "media-library", "analytics-dashboard"):
        add(www, f"/products/{product}", P_HTML, 41_000, 7, 1)
    for segment in ("small-business", "enterprise", "isp"):
        add(www, f"/solutions/{segment}", P_HTML, 39_000, 3.5, 1)
    for path, w in (("/customers", 3), ("/about", 2), ("/careers", 1.5), ("/privacy", 1.5)):
        add(www, path, P_HTML, 30_000, w, 1)
    add(www, "/terms", P_HTML, 52_000, 0.8, 1)
    add(www, "/contact", P_FORM, 22_000, 2, 1)
    add(www, "/signup", P_FORM, 26_000, 4, 0.5)
    add(www, "/login", P_FORM, 18_000, 10, 0.5)
    add(www, "/blog", P_HTML, 33_000, 4, 2)
    topics = [
        "live-streaming-checklist", "hls-vs-dash", "campaign-timing", "ad-insertion-basics",
        "gdpr-for-broadcasters", "encoder-settings", "low-latency-live", "audience-segments",
        "captions-accessibility", "media-storage-costs", "webinar-playbook", "isp-partnerships",
        "email-deliverability", "ab-testing-creatives", "4k-workflows", "analytics-kpis",
        "release-notes-q3", "release-notes-q4", "customer-story-northwind", "year-in-review",
    ]  # fmt: skip
    many(www, [f"/blog/{t}" for t in topics], P_HTML, 44_000, 22, 8)
    sections = ("getting-started", "broadcast-studio", "campaign-manager", "media-library", "api")
    doc_pages = ("overview", "quickstart", "configuration", "troubleshooting", "faq", "reference")
    docs = [f"/docs/{section}/{page}" for section in sections for page in doc_pages]
    many(www, ["/docs/getting-started", *docs], P_HTML, 28_000, 25, 10)
    for topic in _BROADCAST_TOPICS:
        add(www, f"/news/{topic}", P_HTML, 31_000, 0.5, 0.5)
    for theme in _PROMO_THEMES:
        add(www, f"/offers/{theme}", P_HTML, 37_000, 0.4, 0.3)
    add(www, "/status", P_HTML, 12_000, 1.2, 0.2)
    add(www, f"/static/css/site.{h[0]}.css", P_ASSET, 62_000, 25)
    add(www, f"/static/js/site.{h[1]}.js", P_ASSET, 180_000, 25)
    add(www, f"/static/js/vendor.{h[2]}.js", P_ASSET, 410_000, 20)
    images = [f"/images/{name}.webp" for name in (
        "hero", "studio-screenshot", "campaign-flow", "media-grid", "isp-map", "team",
        "logo-northwind", "logo-contoso", "logo-fabrikam", "chart-growth", "webinar-banner",
        "pricing-table", "docs-diagram", "og-default", "blog-cover-1", "blog-cover-2")]  # fmt: skip
    many(www, images, P_ASSET, 120_000, 40, 0.5)
    add(www, "/favicon.ico", P_ASSET, 15_086, 6, 0.5)
    add(www, "/robots.txt", P_ASSET, 312, 0.05, 6)
    add(www, "/sitemap.xml", P_ASSET, 48_000, 0.02, 4)
    # portal: the customer application
    add(portal, "/dashboard", P_HTML, 64_000, 30)
    add(portal, "/campaigns", P_HTML, 58_000, 12)
    ids = rng.choice(np.arange(1000, 99999), size=160, replace=False).tolist()
    many(portal, [f"/campaigns/{x}" for x in ids[:120]], P_HTML, 71_000, 25, 0)
    many(portal, [f"/campaigns/{x}/edit" for x in ids[:40]], P_FORM, 83_000, 6, 0)
    add(portal, "/broadcasts", P_HTML, 52_000, 8)
    many(portal, [f"/broadcasts/{x}" for x in ids[120:160]], P_HTML, 61_000, 10, 0)
    add(portal, "/media", P_HTML, 75_000, 10)
    assets = [f"/media/{x:x}" for x in rng.integers(2**28, 2**32, size=200).tolist()]
    many(portal, assets, P_HTML, 69_000, 15, 0)
    add(portal, "/analytics", P_HTML, 88_000, 10)
    many(portal, [f"/analytics/reports/{x}" for x in range(1, 31)], P_HTML, 95_000, 8, 0)
    add(portal, "/billing", P_HTML, 41_000, 3)
    add(portal, "/billing/invoices", P_HTML, 39_000, 1.5)
    add(portal, "/account/settings", P_FORM, 35_000, 3)
    add(portal, "/account/users", P_HTML, 42_000, 2)
    add(portal, "/account/privacy", P_FORM, 29_000, 0.8)
    add(portal, "/login", P_FORM, 18_000, 6)
    add(portal, "/logout", P_HTML, 0, 2)
    add(portal, f"/static/app.{h[3]}.js", P_ASSET, 520_000, 40)
    add(portal, f"/static/app.{h[4]}.css", P_ASSET, 95_000, 35)
    add(portal, f"/static/vendor.{h[5]}.js", P_ASSET, 760_000, 30)
    add(portal, "/static/icons.svg", P_ASSET, 28_000, 15)
    add(portal, "/api/v2/campaigns", P_API, 6_500, 15)
    many(portal, [f"/api/v2/campaigns/{x}/stats" for x in ids[:60]], P_API, 2_400, 20, 0)
    many(portal, [f"/api/v2/media/{x[7:]}" for x in assets[:100]], P_API, 1_800, 12, 0)
    add(portal, "/api/v2/usage", P_API, 3_200, 10)
    add(portal, "/api/v2/notifications", P_API, 900, 25)
    add(portal, "/api/v2/session/refresh", P_API, 350, 18)
    many(portal, [f"/api/v2/broadcasts/{x}/health" for x in ids[120:150]], P_API, 700, 10, 0)
    # media: streaming and the embeddable player
    for channel in ("news", "sports", "events", "music", "council", "launch"):
        add(media, f"/live/{channel}/playlist.m3u8", P_MEDIA, 1_200, 2.5)
        add(media, f"/live/{channel}/chunk.ts", P_MEDIA, 1_100_000, 5)
    programs = [f"{x:x}" for x in rng.integers(2**28, 2**32, size=120).tolist()]
    many(media, [f"/vod/{p}/master.m3u8" for p in programs], P_MEDIA, 1_800, 10, 0)
    segments = [f"/vod/{p}/720p/seg-{k:05d}.ts" for p in programs for k in range(0, 40, 4)]
    many(media, segments, P_MEDIA, 1_400_000, 40, 0)
    many(media, [f"/thumbs/{p}.jpg" for p in programs], P_ASSET, 38_000, 12, 0)
    add(media, f"/player/embed.{h[6]}.js", P_ASSET, 240_000, 8)
    # support: the help centre
    add(support, "/", P_HTML, 27_000, 3, 1)
    add(support, "/tickets/new", P_FORM, 24_000, 2)
    add(support, "/tickets", P_HTML, 31_000, 2)
    articles = ["reset-password", "invoice-explained", "stream-keys", "supported-encoders",
                "upload-limits", "spam-complaints", "delete-my-data", "seat-management",
                "api-quotas", "caption-languages", "mfa-setup", "ip-allowlist"]  # fmt: skip
    many(support, [f"/kb/{a}" for a in articles], P_HTML, 26_000, 6, 3)

    host = np.array([r[0] for r in rows])
    urls = np.array([f"https://{HOSTS[r[0]]}{r[1]}" for r in rows], dtype=object)
    kind = np.array([r[2] for r in rows])
    size = np.array([r[3] for r in rows], dtype=np.float64)
    weight = np.array([r[4] for r in rows])
    share = np.array([0.25, 0.45, 0.25, 0.05])  # of human requests, per host
    for k in range(4):
        weight[host == k] *= share[k] / weight[host == k].sum()
    bot = np.array([r[5] for r in rows])
    html = (kind == P_HTML) | (kind == P_FORM)
    queryable = html | (kind == P_API)
    # media is embedded in portal pages: its requests are referred by them
    referring = [np.flatnonzero(html & (host == (1 if k == 2 else k))) for k in range(4)]
    counts = np.array([len(x) for x in referring])
    return _Pages(
        urls=urls,
        host=host,
        kind=kind,
        size=size,
        cum_human=np.cumsum(weight),
        cum_bot=np.cumsum(bot),
        html_pages=np.concatenate(referring),
        html_start=np.concatenate([[0], np.cumsum(counts)[:-1]]),
        html_count=counts,
        query_rate=min(1.0, _QUERY_SHARE / float(weight[queryable].sum())),
        landing=int(np.flatnonzero(urls == f"https://{WWW}/blog")[0]),
    )
