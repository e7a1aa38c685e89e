"""Deterministic, fast synthetic events: a customer population, seasonality, consent and e-mail.

``simulate(SimulationConfig(events=..., days=..., seed=..., until=...))`` yields exactly
``events`` event dicts that meet the contracts in ``schemas/json``, sorted by ``occurred_at``,
inside ``[until - days, until)`` (UTC). The same configuration gives the same events, byte for
byte: every random draw comes from numpy ``PCG64`` generators seeded from ``seed``, never from
the wall clock or the global random state.

How it works: ``population`` draws accounts, users, devices (IP and user agent) and consent
answers once. The period is then cut into chunks of a few hours; each chunk draws user
sessions (bursts of web requests, feature uses, media plays, license checks, tickets) in
vectorized numpy, adds the rows scheduled earlier that fall in it (session tails, e-mail
funnels, ticket closes, consent changes), inserts each new user's initial consent just before
their first event, sorts, and only then builds the dicts. Rows are small integer columns until
that last step, so memory stays flat however many events are asked for. Chunk budgets follow
the hour-of-day, weekday and growth curve and are corrected as the run goes, so the total is
exact.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

__all__ = ["Population", "SimulationConfig", "population", "simulate"]

SECOND_MS: Final = 1_000
MINUTE_MS: Final = 60 * SECOND_MS
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS
_EPOCH: Final = dt.date(1970, 1, 1)
_NEVER: Final = np.iinfo(np.int64).max

COMPANY_DOMAIN: Final = "shantaesoft.example"
WWW: Final = f"www.{COMPANY_DOMAIN}"
PORTAL: Final = f"portal.{COMPANY_DOMAIN}"
MEDIA: Final = f"media.{COMPANY_DOMAIN}"
SUPPORT: Final = f"support.{COMPANY_DOMAIN}"
HOSTS: Final = (WWW, PORTAL, MEDIA, SUPPORT)
ANONYMOUS_ACCOUNT: Final = "anonymous"
"""``subject.account_id`` of requests made by crawlers, which belong to no customer."""

# --------------------------------------------------------------------------------------------
# Configuration


def _today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate: how many events, over how many days before ``until``, from which seed."""

    events: int = 1_000_000
    days: int = 30
    seed: int = 42
    until: dt.date = field(default_factory=_today_utc)
    """Exclusive end day (UTC): events cover ``[until - days, until)``. Default: today (UTC)."""

    def __post_init__(self) -> None:
        if isinstance(self.until, dt.datetime):
            object.__setattr__(self, "until", self.until.date())
        if self.events < 0:
            raise ValueError("events must be >= 0")
        if self.days < 1:
            raise ValueError("days must be >= 1")

    @property
    def start_ms(self) -> int:
        """First millisecond of the period (Unix epoch milliseconds, UTC)."""
        return self.until_ms - self.days * DAY_MS

    @property
    def until_ms(self) -> int:
        """First millisecond after the period (Unix epoch milliseconds, UTC)."""
        return (self.until - _EPOCH).days * DAY_MS


# --------------------------------------------------------------------------------------------
# Reference data

# (domain, bounce rate, share of bounces that are hard, complaint rate per delivered message)
_DOMAINS: Final = (
    ("inbox.example", 0.020, 0.5, 0.0005),
    ("mailhost.example", 0.030, 0.5, 0.0008),
    ("example.com", 0.020, 0.5, 0.0005),
    ("example.net", 0.030, 0.5, 0.0006),
    ("example.org", 0.040, 0.6, 0.0010),
    ("webmail.example", 0.050, 0.4, 0.0080),  # free mail, complaint-prone audience
    ("oldmail.example", 0.300, 0.8, 0.0030),  # abandoned mailboxes: many hard bounces
    ("isp-north.example", 0.040, 0.3, 0.0050),
    ("isp-south.example", 0.140, 0.15, 0.0020),  # throttling: soft bounces
    ("corp-acme.example", 0.010, 0.5, 0.0001),
    ("corp-globex.example", 0.015, 0.5, 0.0001),
    ("corp-initech.example", 0.090, 0.7, 0.0002),  # strict mail gateway
)
_CONSUMER_DOMAINS: Final = np.arange(9)
_CONSUMER_DOMAIN_P: Final = np.array([0.25, 0.15, 0.12, 0.10, 0.06, 0.10, 0.05, 0.10, 0.07])
_CORP_DOMAINS: Final = np.array([9, 10, 11])
_ISP_DOMAINS: Final = np.array([7, 8])

_FIRST_NAMES: Final = (
    "jane alex sam maria li wei noah emma lucas olivia mateo amara kenji yuki omar fatima "
    "ivan sofia liam mia aarav priya chen hana jonas lena pablo lucia david sarah tom anna "
    "felix nora ahmed leila marco giulia erik ingrid kwame ama diego camila ravi meera "
    "oscar elif tariq zoe"
).split()
_LAST_NAMES: Final = (
    "doe smith martin taylor garcia nguyen kim mueller rossi dubois silva kowalski "
    "johansson okafor mensah patel sharma tanaka sato ivanova petrov haddad nasser "
    "fernandez lopez brown wilson moore clark lewis walker hall young king wright scott "
    "green baker adams nelson hill campbell mitchell roberts carter phillips evans turner "
    "torres parker collins"
).split()

# Real user-agent strings, with how often a device of that kind uses them.
_DESKTOP_UAS: Final = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        0.30,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/129.0.0.0 Safari/537.36",
        0.06,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        0.13,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 0.06),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        0.16,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        0.12,
    ),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0", 0.04),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        0.03,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        0.06,
    ),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 0.04),
)
_MOBILE_UAS: Final = (
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        0.30,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        0.10,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
        0.06,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        0.32,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        0.10,
    ),
    ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", 0.03),
    (
        "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        0.06,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        0.03,
    ),
)
_TV_UA: Final = (
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "94.0.4606.31/7.0 TV Safari/537.36"
)
_BOT_UA: Final = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
USER_AGENTS: Final = (
    *(ua for ua, _ in _DESKTOP_UAS),
    *(ua for ua, _ in _MOBILE_UAS),
    _TV_UA,
    _BOT_UA,
)
_N_DESKTOP: Final = len(_DESKTOP_UAS)
_N_MOBILE: Final = len(_MOBILE_UAS)
_TV_UA_INDEX: Final = _N_DESKTOP + _N_MOBILE
_BOT_UA_INDEX: Final = _TV_UA_INDEX + 1
_N_BOT_DEVICES: Final = 8

# Account segments: (name, share of accounts)
_SEGMENTS: Final = (("individual", 0.50), ("small_business", 0.35), ("enterprise", 0.12), ("isp", 0.03))
_PRODUCTS: Final = (
    ("media-library-personal", "broadcast-studio-starter"),
    ("campaign-manager-team", "broadcast-studio-pro", "media-library-team"),
    ("broadcast-studio-enterprise", "analytics-pro", "media-library-enterprise"),
    ("isp-broadcast-suite", "isp-ad-insertion"),
)
_SEGMENT_ACTIVITY: Final = np.array([0.8, 1.0, 1.3, 1.5])

# (service, feature, typical duration in ms, relative frequency)
_FEATURES: Final = (
    ("broadcast-studio", "stream.start", 2_400, 5.0),
    ("broadcast-studio", "stream.stop", 900, 4.5),
    ("broadcast-studio", "schedule.create", 700, 3.0),
    ("broadcast-studio", "schedule.edit", 500, 2.5),
    ("broadcast-studio", "overlay.add", 300, 2.0),
    ("broadcast-studio", "recording.export", 45_000, 1.5),
    ("broadcast-studio", "encoder.configure", 1_200, 1.0),
    ("broadcast-studio", "multistream.enable", 800, 0.6),
    ("campaign-manager", "campaign.create", 1_500, 3.0),
    ("campaign-manager", "campaign.edit", 600, 4.0),
    ("campaign-manager", "campaign.schedule", 400, 2.5),
    ("campaign-manager", "audience.segment_create", 3_500, 1.5),
    ("campaign-manager", "creative.upload", 8_000, 2.0),
    ("campaign-manager", "ab_test.create", 900, 0.8),
    ("campaign-manager", "report.export_csv", 6_000, 1.2),
    ("campaign-manager", "budget.update", 300, 0.9),
    ("media-library", "asset.upload", 25_000, 4.0),
    ("media-library", "asset.search", 180, 8.0),
    ("media-library", "asset.transcode", 90_000, 2.0),
    ("media-library", "asset.share_link", 150, 2.5),
    ("media-library", "playlist.create", 400, 1.2),
    ("media-library", "asset.tag", 120, 3.0),
    ("media-library", "asset.delete", 200, 0.8),
    ("media-library", "caption.generate", 60_000, 0.7),
    ("analytics-dashboard", "dashboard.view", 850, 9.0),
    ("analytics-dashboard", "report.run", 4_200, 4.0),
    ("analytics-dashboard", "report.export_csv", 5_500, 1.5),
    ("analytics-dashboard", "report.schedule", 350, 0.6),
    ("analytics-dashboard", "filter.apply", 400, 5.0),
    ("analytics-dashboard", "cohort.compare", 2_800, 0.8),
    ("analytics-dashboard", "alert.create", 300, 0.5),
    ("account-portal", "login", 250, 7.0),
    ("account-portal", "logout", 80, 2.0),
    ("account-portal", "password.change", 400, 0.4),
    ("account-portal", "mfa.enable", 600, 0.2),
    ("account-portal", "billing.view_invoice", 500, 0.8),
    ("account-portal", "seat.invite", 700, 0.5),
    ("account-portal", "api_key.create", 300, 0.3),
    ("account-portal", "profile.update", 350, 0.6),
    ("account-portal", "privacy.preferences_view", 300, 0.3),
)
# Services whose events name the user's e-mail in the subject (they act on the account).
_SERVICES_WITH_EMAIL: Final = frozenset({"account-portal", "campaign-manager"})

# (show, genre, min length s, max length s, episodes, live share)
_SHOWS: Final = (
    ("Evening News", "news", 1_500, 1_800, 24, 0.3),
    ("Morning Market Brief", "news", 600, 900, 22, 0.2),
    ("Tech Briefing", "tech", 900, 1_500, 14, 0.0),
    ("Studio Sessions", "music", 2_400, 3_600, 12, 0.1),
    ("Campaign Masterclass", "webinar", 2_700, 3_600, 10, 0.4),
    ("Broadcasting 101", "webinar", 1_800, 2_700, 10, 0.0),
    ("Brand Spotlight", "promo", 60, 180, 20, 0.0),
    ("Ad Creative Showcase", "ad", 15, 60, 25, 0.0),
    ("Customer Stories", "promo", 180, 420, 12, 0.0),
    ("Live: City Council", "live", 5_400, 10_800, 8, 0.9),
    ("Weekend Sports Roundup", "sports", 3_600, 5_400, 8, 0.6),
    ("Kids' Science Lab", "kids", 1_200, 1_500, 10, 0.0),
    ("Product Launch Live", "live", 1_800, 3_600, 5, 0.9),
    ("Night Jazz Stream", "live", 7_200, 10_800, 8, 0.95),
    ("Documentary: Signal & Noise", "doc", 3_000, 4_200, 6, 0.0),
    ("Partner Showcase", "promo", 300, 900, 6, 0.2),
)

_LICENSE_ACTIONS: Final = ("seat_assigned", "seat_released", "license_checked", "quota_used")
_LICENSE_ACTION_P: Final = np.array([0.05, 0.03, 0.52, 0.40])
_LICENSE_RESULTS: Final = ("valid", "expired", "over_limit", "invalid")
_LICENSE_RESULT_P: Final = np.array([0.965, 0.015, 0.014, 0.006])
# (quota, unit scale, integer units)
_QUOTAS: Final = (
    ("api_calls", 120.0, True),
    ("broadcast_minutes", 35.0, False),
    ("storage_gb", 1.8, False),
    ("transcode_minutes", 12.0, False),
    ("ad_impressions", 2_500.0, True),
)

_TICKET_CATEGORIES: Final = (
    "billing",
    "account_access",
    "broadcast_quality",
    "media_upload",
    "email_delivery",
    "privacy_request",
    "feature_request",
    "technical",
)
_TICKET_CATEGORY_P: Final = np.array([0.18, 0.16, 0.15, 0.10, 0.10, 0.06, 0.07, 0.18])
_CHANNELS: Final = ("web", "email", "chat", "phone")
_CHANNEL_P: Final = np.array([0.40, 0.30, 0.20, 0.10])
_PRIORITIES: Final = ("low", "normal", "high", "urgent")
_PRIORITY_P: Final = np.array([0.25, 0.55, 0.15, 0.05])
_RESOLUTIONS: Final = (
    "answered",
    "resolved",
    "fixed_in_release",
    "refunded",
    "duplicate",
    "no_response",
    "data_deleted",
)
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
_CONSENT_PUBLISHER: Final = (
    "signup-service",
    "preference-center",
    "mail-relay",
    "helpdesk-sync",
    "admin-console",
    "crm-import",
)
# Initial answers per purpose: P(granted), P(withdrawn); the rest never answered.
_INITIAL_CONSENT: Final = ((0.70, 0.10), (0.45, 0.25), (0.25, 0.35))
_LATER_MARKETING_WITHDRAWAL: Final = 0.015  # of all users, via the preference center
_LATER_PARTNER_WITHDRAWAL: Final = 0.01
_LATER_ANALYTICS_GRANT: Final = 0.01

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
_CAMPAIGN_KINDS: Final = ("newsletter", "promotional", "broadcast", "transactional")
# Per campaign kind: P(open | delivered), P(click | opened), P(unsubscribe | delivered)
_OPEN_P: Final = np.array([0.30, 0.24, 0.34, 0.45])
_CLICK_P: Final = np.array([0.16, 0.22, 0.10, 0.25])
_UNSUB_P: Final = np.array([0.0075, 0.0085, 0.004, 0.0])
_ROWS_PER_RECIPIENT: Final = 2.4  # sent + delivered/bounced + opens + clicks (+ landing) + ...
_BLAST_SHARE: Final = 0.09  # of all events: e-mail of bulk campaigns (transactional adds ~3%)

# Blast campaigns: a kind pattern and themes (landing pages live on www).
_BLAST_KINDS: Final = (0, 1, 1, 2, 0, 1, 1, 0, 1, 2, 0, 1, 1, 0, 1, 2)
_PROMO_THEMES: Final = (
    "studio-pro-upgrade",
    "spring-webinar-series",
    "isp-ad-insertion",
    "media-library-storage",
    "analytics-pro-trial",
    "black-friday",
    "year-end-bundle",
    "partner-program",
    "campaign-ai-assist",
    "4k-broadcast-launch",
)
_BROADCAST_TOPICS: Final = (
    "maintenance-window",
    "new-data-centre",
    "pricing-update",
    "security-advisory",
    "feature-release",
)
_TRANSACTIONAL: Final = (
    ("txn-welcome", f"https://{WWW}/docs/getting-started"),
    ("txn-password-reset", f"https://{PORTAL}/reset-password"),
    ("txn-invoice", f"https://{PORTAL}/billing/invoices"),
    ("txn-ticket-update", f"https://{SUPPORT}/tickets"),
)
_TXN_WELCOME, _TXN_PASSWORD, _TXN_INVOICE, _TXN_TICKET = range(4)

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
_SEARCH_REFERRERS: Final = (
    "https://www.google.com/",
    "https://www.google.com/",
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://duckduckgo.com/",
    "https://www.ecosia.org/",
)
_SOCIAL_REFERRERS: Final = (
    "https://t.co/",
    "https://www.linkedin.com/",
    "https://www.facebook.com/",
    "https://www.youtube.com/",
    "https://www.reddit.com/",
)

# Hour-of-day curve (UTC; customers mostly in Europe and the Americas), weekday curve (Mon..Sun)
_HOUR_CURVE: Final = np.array(
    [0.32, 0.26, 0.22, 0.21, 0.24, 0.33, 0.50, 0.72, 0.92, 1.02, 1.08, 1.12,
     1.16, 1.22, 1.24, 1.20, 1.12, 1.02, 0.92, 0.82, 0.70, 0.58, 0.47, 0.38]
)  # fmt: skip
_WEEKDAY_CURVE: Final = np.array([1.00, 1.06, 1.06, 1.02, 0.93, 0.50, 0.44])
_GROWTH: Final = 0.20  # end of period vs start

# Event kinds of the internal row table
(
    K_TRAFFIC,
    K_FEATURE,
    K_MEDIA,
    K_LICENSE,
    K_TICKET_OPEN,
    K_TICKET_CLOSE,
    K_CONSENT,
    K_MAIL_SENT,
    K_MAIL_DELIVERED,
    K_MAIL_BOUNCED_HARD,
    K_MAIL_BOUNCED_SOFT,
    K_MAIL_COMPLAINED,
    K_MAIL_OPENED,
    K_MAIL_CLICKED,
    K_MAIL_UNSUBSCRIBED,
) = range(15)
_MAIL_KINDS: Final = range(K_MAIL_SENT, K_MAIL_UNSUBSCRIBED + 1)
# Kinds of the events inside a user session (after its first request), with their weights.
_SESSION_KINDS: Final = np.array([K_TRAFFIC, K_FEATURE, K_MEDIA, K_LICENSE, K_TICKET_OPEN])
_SESSION_KIND_P: Final = np.array([0.45, 0.25, 0.10, 0.05, 0.005])
_BOT_SHARE: Final = 0.004  # crawler requests, of the session budget
_PASSWORD_RESET_P: Final = 0.015  # of sessions
_MEAN_SESSION_LENGTH: Final = 6.0

# Traffic: page kinds
P_HTML, P_ASSET, P_API, P_MEDIA, P_FORM = range(5)
_METHODS: Final = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")
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
_QUERY_SHARE: Final = 0.10  # of all web requests
# Query kinds, with probabilities among requests that carry a query string.
_QUERY_P: Final = np.array(
    [0.20, 0.14, 0.10, 0.16, 0.15, 0.10, 0.05, 0.05, 0.025, 0.01, 0.015]
)  # utm ad, utm email, utm social, search, page, sort, lang, ref, email, email %40, ip


# --------------------------------------------------------------------------------------------
# Small vectorized helpers

_HEX_DIGITS: Final = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DIGITS: Final = np.frombuffer(b"0123456789", dtype=np.uint8)


def _mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer: a fast, well-spread 64-bit hash of each value."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _ascii_rows(chars: np.ndarray) -> list[str]:
    """Rows of a (n, width) uint8 array of ASCII codes, as Python strings."""
    n, width = chars.shape
    if n == 0:
        return []
    return np.ascontiguousarray(chars).view(f"S{width}").ravel().astype(f"U{width}").tolist()


def _hex_strings(values: np.ndarray, width: int, prefix: str = "") -> list[str]:
    """``prefix`` + the low ``width`` hex digits of each uint64, as Python strings."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = (values.astype(np.uint64)[:, None] >> shifts) & np.uint64(15)
    chars = np.empty((len(values), len(prefix) + width), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars[:, len(prefix) :] = _HEX_DIGITS[nibbles]
    return _ascii_rows(chars)


def _uuid4_strings(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random version-4 UUIDs drawn from ``rng``, in canonical text form."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2] = _HEX_DIGITS[raw >> 4]
    hexed[:, 1::2] = _HEX_DIGITS[raw & 15]
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    chars[:, 0:8] = hexed[:, 0:8]
    chars[:, 9:13] = hexed[:, 8:12]
    chars[:, 14:18] = hexed[:, 12:16]
    chars[:, 19:23] = hexed[:, 16:20]
    chars[:, 24:36] = hexed[:, 20:32]
    return _ascii_rows(chars)


def _put_digits(chars: np.ndarray, column: int, values: np.ndarray, width: int) -> None:
    for k in range(width - 1, -1, -1):
        chars[:, column + k] = _DIGITS[values % 10]
        values = values // 10


def _timestamps(t_ms: np.ndarray) -> list[str]:
    """RFC 3339 UTC strings with milliseconds (``2026-11-03T14:22:05.123Z``) for epoch ms."""
    n = len(t_ms)
    days = t_ms // DAY_MS
    rest = t_ms - days * DAY_MS
    chars = np.empty((n, 24), dtype=np.uint8)
    if n == 0:
        return []
    first = int(days.min())
    span = int(days.max()) - first + 1
    table = np.frombuffer(
        "".join(
            (_EPOCH + dt.timedelta(days=first + d)).isoformat() + "T" for d in range(span)
        ).encode(),
        dtype=np.uint8,
    ).reshape(span, 11)
    chars[:, 0:11] = table[days - first]
    _put_digits(chars, 11, rest // HOUR_MS, 2)
    chars[:, 13] = ord(":")
    _put_digits(chars, 14, rest // MINUTE_MS % 60, 2)
    chars[:, 16] = ord(":")
    _put_digits(chars, 17, rest // SECOND_MS % 60, 2)
    chars[:, 19] = ord(".")
    _put_digits(chars, 20, rest % SECOND_MS, 3)
    chars[:, 23] = ord("Z")
    return _ascii_rows(chars)


def _pick(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probabilities ``p`` (need not sum to exactly 1)."""
    cum = np.cumsum(p)
    return np.minimum(np.searchsorted(cum, rng.random(size) * cum[-1], side="right"), len(p) - 1)


def _pick_rows(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of ``rows``, a column index drawn from that row of probability ``table``."""
    cum = np.cumsum(table, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(rows))
    return np.minimum((u[:, None] >= cum[rows]).sum(axis=1), table.shape[1] - 1)


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: float, size: int) -> np.ndarray:
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(size))


# --------------------------------------------------------------------------------------------
# Population


@dataclass(frozen=True, eq=False)
class Population:
    """The simulated customers: accounts, their users, devices, e-mail and consent answers."""

    account_ids: np.ndarray  # object: "acct_12345"
    account_segment: np.ndarray  # index into _SEGMENTS
    account_license_ids: np.ndarray  # object
    account_products: np.ndarray  # object
    account_seats: np.ndarray  # licensed seats
    account_first_user: np.ndarray  # users of an account are contiguous; the first is its owner
    user_account: np.ndarray
    user_ids: np.ndarray  # object: "usr_k2m9q7f3"
    user_emails: np.ndarray  # object
    user_domain: np.ndarray  # index into _DOMAINS
    user_weight: np.ndarray  # relative activity
    user_activation_ms: np.ndarray  # signup time; the start of the period for existing users
    user_device_start: np.ndarray  # first device of the user in the device arrays
    user_device_count: np.ndarray
    device_ips: np.ndarray  # object; crawler devices come last
    device_ua: np.ndarray  # index into USER_AGENTS
    consent_initial: np.ndarray  # (users, 3 purposes): -1 never answered, 0 withdrawn, 1 granted
    later_marketing_withdrawal: np.ndarray  # bool, through the preference center
    later_partner_withdrawal: np.ndarray
    later_analytics_grant: np.ndarray

    @property
    def users(self) -> int:
        """Number of users."""
        return len(self.user_ids)

    @property
    def accounts(self) -> int:
        """Number of accounts."""
        return len(self.account_ids)


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(stream,))))


def _unique_ints(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """``n`` distinct integers in [low, high), in random order."""
    if high - low < 4 * n:
        return rng.permutation(np.arange(low, high))[:n]
    values = rng.integers(low, high, size=n)
    while True:
        _, first = np.unique(values, return_index=True)
        duplicate = np.ones(n, dtype=bool)
        duplicate[first] = False
        if not duplicate.any():
            return values
        values[duplicate] = rng.integers(low, high, size=int(duplicate.sum()))


def _account_sizes(rng: np.random.Generator, users: int) -> tuple[np.ndarray, np.ndarray]:
    """Heavy-tailed account sizes summing to ``users``, and each account's segment."""
    sizes: list[np.ndarray] = []
    segments: list[np.ndarray] = []
    total = 0
    while total < users:
        batch = max(64, (users - total) // 8)
        seg = _pick(rng, np.array([p for _, p in _SEGMENTS]), batch)
        size = np.ones(batch, dtype=np.int64)
        small = seg == 1
        size[small] = np.minimum(1 + rng.geometric(0.35, int(small.sum())), 12)
        big = seg == 2
        size[big] = np.clip(np.rint(rng.lognormal(3.2, 1.0, int(big.sum()))), 10, 900)
        isp = seg == 3
        size[isp] = np.clip(np.rint(rng.lognormal(3.8, 0.8, int(isp.sum()))), 15, 600)
        sizes.append(size)
        segments.append(seg)
        total += int(size.sum())
    size = np.concatenate(sizes)
    seg = np.concatenate(segments)
    cut = int(np.searchsorted(np.cumsum(size), users)) + 1
    size, seg = size[:cut].copy(), seg[:cut]
    size[-1] -= int(size.sum()) - users
    return size, seg


def _ipv4(a: np.ndarray) -> list[str]:
    return [f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}" for x in a.tolist()]


def _device_ips(rng: np.random.Generator, n: int, network: np.ndarray) -> list[str]:
    """IP addresses: network 0 = 10.0.0.0/8, 1 = 100.64.0.0/10, 2 = 198.51.100.0/24, 3 = v6."""
    raw = rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.int64)
    base = np.array([10 << 24, (100 << 24) | (64 << 16), (198 << 24) | (51 << 16) | (100 << 8), 0])
    size = np.array([1 << 24, 1 << 22, 1 << 8, 1])
    v4 = base[network] + raw % size[network]
    host = v4 & 255
    v4 = np.where((host == 0) | (host == 255), v4 - host + 1 + raw % 250, v4)
    ips = _ipv4(v4)
    v6 = np.flatnonzero(network == 3)
    words = rng.integers(0, 2**16, size=(len(v6), 6)).tolist()
    for i, w in zip(v6.tolist(), words, strict=True):
        # 2001:db8:<site>:<subnet>::<host>, sometimes a full SLAAC-like interface id
        if w[5] % 3:
            ips[i] = str(ipaddress.IPv6Address(f"2001:db8:{w[0]:x}:{w[1]:x}::{w[2]:x}"))
        else:
            ips[i] = str(
                ipaddress.IPv6Address(
                    f"2001:db8:{w[0]:x}:{w[1]:x}:{w[2]:x}:{w[3]:x}:{w[4]:x}:{w[5]:x}"
                )
            )
    return ips


def population(config: SimulationConfig) -> Population:
    """Draw the accounts, users, devices and consent answers of a simulation (about events/50 users)."""
    rng = _rng(config.seed, 0)
    users = max(8, config.events // 50)
    size, segment = _account_sizes(rng, users)
    accounts = len(size)
    user_account = np.repeat(np.arange(accounts), size)
    account_first_user = np.concatenate([[0], np.cumsum(size)[:-1]])

    account_numbers = _unique_ints(rng, accounts, 10_000, max(100_000, 20 * accounts))
    account_ids = np.array([f"acct_{x}" for x in account_numbers.tolist()], dtype=object)
    year = config.until.year
    account_license_ids = np.array(
        [f"lic_{year}_{x:05d}" for x in _unique_ints(rng, accounts, 1, 100_000).tolist()],
        dtype=object,
    )
    products = [
        _PRODUCTS[s][p]
        for s, p in zip(segment.tolist(), rng.integers(0, 6, size=accounts).tolist(), strict=True)
        for _ in [None]
    ]
    products = [
        _PRODUCTS[s][p % len(_PRODUCTS[s])]
        for s, p in zip(segment.tolist(), rng.integers(0, 6, size=accounts).tolist(), strict=True)
    ]
    account_products = np.array(products, dtype=object)
    account_seats = size + np.rint(size * rng.uniform(0.0, 0.3, size=accounts)).astype(np.int64)

    # Users: ids, e-mail addresses on ~12 domains (company accounts share a corporate domain).
    alphabet = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    id_numbers = _unique_ints(rng, users, 0, 36**8)
    digits = np.empty((users, 12), dtype=np.uint8)
    digits[:, :4] = np.frombuffer(b"usr_", dtype=np.uint8)
    rest = id_numbers.copy()
    for k in range(11, 3, -1):
        digits[:, k] = alphabet[rest % 36]
        rest //= 36
    user_ids = np.array(_ascii_rows(digits), dtype=object)

    account_domain = np.where(
        segment == 2,
        _CORP_DOMAINS[rng.integers(0, 3, size=accounts)],
        np.where(segment == 3, _ISP_DOMAINS[rng.integers(0, 2, size=accounts)], -1),
    )
    user_domain = account_domain[user_account]
    personal = user_domain < 0
    user_domain[personal] = _CONSUMER_DOMAINS[
        _pick(rng, _CONSUMER_DOMAIN_P, int(personal.sum()))
    ]
    first = rng.integers(0, len(_FIRST_NAMES), size=users).tolist()
    last = rng.integers(0, len(_LAST_NAMES), size=users).tolist()
    style = rng.integers(0, 6, size=users).tolist()
    number = rng.integers(1, 100, size=users).tolist()
    emails: list[str] = []
    taken: set[str] = set()
    for i in range(users):
        f, la = _FIRST_NAMES[first[i]], _LAST_NAMES[last[i]]
        local = (
            f"{f}.{la}",
            f"{f}.{la}",
            f"{f[0]}{la}",
            f"{f}_{la}{number[i]}",
            f"{f}{number[i]}",
            f"{la}.{f}",
        )[style[i]]
        address = f"{local}@{_DOMAINS[int(user_domain[i])][0]}"
        extra = 1
        while address in taken:
            extra += 1
            address = f"{local}{extra}@{_DOMAINS[int(user_domain[i])][0]}"
        taken.add(address)
        emails.append(address)
    user_emails = np.array(emails, dtype=object)

    # Activity: heavy-tailed per user; company users a bit busier.
    user_weight = rng.lognormal(0.0, 1.1, size=users) * _SEGMENT_ACTIVITY[segment[user_account]]
    # 75% of the users exist when the period starts; the rest sign up during it, more later on.
    start, span = config.start_ms, config.days * DAY_MS
    new = rng.random(users) < 0.25
    new[account_first_user] &= rng.random(accounts) < 0.25  # most owners predate the period
    u = rng.random(users)
    a = _GROWTH * 2
    frac = (np.sqrt(1 + 2 * a * u * (1 + a / 2)) - 1) / a
    user_activation_ms = np.where(new, start + (frac * span).astype(np.int64), start)

    # Devices: 1-3 per user, each an IP and a user agent.
    count = 1 + _pick(rng, np.array([0.50, 0.35, 0.15]), users)
    device_start = np.concatenate([[0], np.cumsum(count)[:-1]])
    devices = int(count.sum())
    device_user = np.repeat(np.arange(users), count)
    device_rank = np.arange(devices) - device_start[device_user]
    kind = _pick(rng, np.array([0.62, 0.35, 0.03]), devices)  # desktop, mobile, tv
    kind[device_rank == 0] = np.where(rng.random(users) < 0.8, 0, 1)
    ua = np.where(
        kind == 0,
        _pick(rng, np.array([p for _, p in _DESKTOP_UAS]), devices),
        np.where(
            kind == 1,
            _N_DESKTOP + _pick(rng, np.array([p for _, p in _MOBILE_UAS]), devices),
            _TV_UA_INDEX,
        ),
    )
    dev_segment = segment[user_account[device_user]]
    network = np.where(kind == 1, 1, np.where(rng.random(devices) < 0.5, 2, 1))
    network = np.where((dev_segment >= 2) & (kind == 0), 0, network)
    network = np.where(rng.random(devices) < 0.15, 3, network)
    ips = _device_ips(rng, devices, network)
    # Desktop devices of company users leave through the account's office address.
    office = _device_ips(rng, accounts, np.where(rng.random(accounts) < 0.15, 3, 0))
    shared = np.flatnonzero((dev_segment >= 2) & (kind == 0) & (network == 0))
    for i in shared.tolist():
        ips[i] = office[int(user_account[device_user[i]])]
    bots = [f"203.0.113.{x}" for x in rng.integers(1, 255, size=_N_BOT_DEVICES).tolist()]
    device_ips = np.array(ips + bots, dtype=object)
    device_ua = np.concatenate([ua, np.full(_N_BOT_DEVICES, _BOT_UA_INDEX)])

    # Consent answers given at signup, and the changes some users make later.
    consent = np.full((users, 3), -1, dtype=np.int8)
    for purpose, (granted, withdrawn) in enumerate(_INITIAL_CONSENT):
        r = rng.random(users)
        consent[r < granted + withdrawn, purpose] = 0
        consent[r < granted, purpose] = 1
    r = rng.random((users, 3))
    later_marketing = (consent[:, 1] == 1) & (r[:, 0] < _LATER_MARKETING_WITHDRAWAL / 0.45)
    later_partner = (consent[:, 2] == 1) & (r[:, 1] < _LATER_PARTNER_WITHDRAWAL / 0.25)
    later_analytics = (consent[:, 0] != 1) & (r[:, 2] < _LATER_ANALYTICS_GRANT / 0.30)

    return Population(
        account_ids=account_ids,
        account_segment=segment,
        account_license_ids=account_license_ids,
        account_products=account_products,
        account_seats=account_seats,
        account_first_user=account_first_user,
        user_account=user_account,
        user_ids=user_ids,
        user_emails=user_emails,
        user_domain=user_domain,
        user_weight=user_weight,
        user_activation_ms=user_activation_ms,
        user_device_start=device_start,
        user_device_count=count,
        device_ips=device_ips,
        device_ua=device_ua,
        consent_initial=consent,
        later_marketing_withdrawal=later_marketing,
        later_partner_withdrawal=later_partner,
        later_analytics_grant=later_analytics,
    )
