"""Deterministic, fast, realistic synthetic events for the usage pipeline (the simulator)."""

# ``simulate(SimulationConfig(events=..., days=..., seed=..., until=...))`` yields exactly
# ``events`` event dicts that meet the contracts in ``schemas/json``, sorted by ``occurred_at``,
# inside ``[until - days, until)`` (UTC). The same configuration gives the same events, byte for
# byte: every random draw comes from numpy ``PCG64`` generators seeded from ``seed``, never from
# the wall clock or the global random state.
#
# How it works: ``population`` draws accounts, users, devices (IP and user agent) and consent
# answers once. The period is then cut into chunks of a few hours; each chunk draws user
# sessions (bursts of web requests, feature uses, media plays, license checks, tickets) in
# vectorized numpy, adds the rows scheduled earlier that fall in it (session tails, e-mail
# funnels, ticket closes, consent changes), inserts each new user's initial consent just before
# their first event, sorts, and only then builds the dicts, a small batch at a time. Rows are
# integer columns until that last step, so memory stays flat however many events are asked
# for. Chunk budgets follow the hour-of-day, weekday and growth curves and are corrected as the
# run goes, so the total is exact.

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
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
    "jane", "alex", "sam", "maria", "li", "wei", "noah", "emma", "lucas", "olivia", "mateo",
    "amara", "kenji", "yuki", "omar", "fatima", "ivan", "sofia", "liam", "mia", "aarav",
    "priya", "chen", "hana", "jonas", "lena", "pablo", "lucia", "david", "sarah", "tom", "anna",
    "felix", "nora", "ahmed", "leila", "marco", "giulia", "erik", "ingrid", "kwame", "ama",
    "diego", "camila", "ravi", "meera", "oscar", "elif", "tariq", "zoe",
)  # fmt: skip
_LAST_NAMES: Final = (
    "doe", "smith", "martin", "taylor", "garcia", "nguyen", "kim", "mueller", "rossi", "dubois",
    "silva", "kowalski", "johansson", "okafor", "mensah", "patel", "sharma", "tanaka", "sato",
    "ivanova", "petrov", "haddad", "nasser", "fernandez", "lopez", "brown", "wilson", "moore",
    "clark", "lewis", "walker", "hall", "young", "king", "wright", "scott", "green", "baker",
    "adams", "nelson", "hill", "campbell", "mitchell", "roberts", "carter", "phillips", "evans",
    "turner", "torres", "parker", "collins",
)  # fmt: skip

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
_SEGMENTS: Final = (
    ("individual", 0.50),
    ("small_business", 0.35),
    ("enterprise", 0.12),
    ("isp", 0.03),
)
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
_LATER_MARKETING_WITHDRAWAL: Final = 0.017  # of all users, via the preference center
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
_UNSUB_P: Final = np.array([0.0085, 0.0095, 0.0045, 0.0])
_ROWS_PER_RECIPIENT: Final = 2.4  # sent + delivered/bounced + opens + clicks (+ landing) + ...
_BLAST_SHARE: Final = 0.10  # of all events: e-mail of bulk campaigns (transactional adds ~3%)

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
# Kinds built by the same code: traffic, feature, media, license, tickets, consent, e-mail.
_GROUPS: Final = (
    (K_TRAFFIC,),
    (K_FEATURE,),
    (K_MEDIA,),
    (K_LICENSE,),
    (K_TICKET_OPEN, K_TICKET_CLOSE),
    (K_CONSENT,),
    tuple(range(K_MAIL_SENT, K_MAIL_UNSUBSCRIBED + 1)),
)
_GROUP_OF_KIND: Final = np.array([g for g, kinds in enumerate(_GROUPS) for _ in kinds])
# Kinds of the events inside a user session (after its first request), with their weights.
_SESSION_KINDS: Final = np.array([K_TRAFFIC, K_FEATURE, K_MEDIA, K_LICENSE, K_TICKET_OPEN])
# Weights of the rows after a session's first request (which is always a web request), so
# that all events come out at about 45% traffic, 25% feature use, 10% media, 5% license.
_SESSION_KIND_P: Final = np.array([0.43, 0.355, 0.142, 0.071, 0.0072])
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


_DOMAIN_BOUNCE: Final = np.array([d[1] for d in _DOMAINS])
_DOMAIN_HARD: Final = np.array([d[2] for d in _DOMAINS])
_DOMAIN_COMPLAINT: Final = np.array([d[3] for d in _DOMAINS])
_FEATURE_SERVICE: Final = np.array([f[0] for f in _FEATURES], dtype=object)
_FEATURE_NAME: Final = np.array([f[1] for f in _FEATURES], dtype=object)
_FEATURE_SOURCE: Final = np.array([f"{f[0]}-api" for f in _FEATURES], dtype=object)
_FEATURE_MEDIAN: Final = np.array([float(f[2]) for f in _FEATURES])
_FEATURE_CUM: Final = np.cumsum([f[3] for f in _FEATURES])
_FEATURE_EMAIL: Final = np.array([f[0] in _SERVICES_WITH_EMAIL for f in _FEATURES])
_RES_P: Final = np.array([0.40, 0.35, 0.08, 0.04, 0.06, 0.07, 0.0])
_MAIL_ACTION_NAMES: Final = np.array(_EMAIL_ACTIONS, dtype=object)
_HARD_BOUNCE: Final = ("bounce_type", "hard")
_SOFT_BOUNCE: Final = ("bounce_type", "soft")
_QUOTA_SCALE: Final = np.array([q[1] for q in _QUOTAS])
_QUOTA_WHOLE: Final = np.array([q[2] for q in _QUOTAS])
_METHOD_NAMES: Final = np.array(_METHODS, dtype=object)
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


# --------------------------------------------------------------------------------------------
# Small vectorized helpers

_HEX_DIGITS: Final = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Lookup tables from numbers to their ASCII digits, one uint16/uint32 per number: np.take on
# a flat table is the fastest numpy gather.
_HEX_PAIRS: Final = np.frombuffer("".join(f"{b:02x}" for b in range(256)).encode(), "<u2")
_DIGIT_PAIRS: Final = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), "<u2")
_DIGIT_TRIPLES: Final = np.frombuffer("".join(f"{i:03d}." for i in range(1000)).encode(), "<u4")


def _mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer: a fast, well-spread 64-bit hash of each value."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _ascii_rows(chars: np.ndarray) -> list[str]:
    """Rows of a (n, width) uint8 array of ASCII codes, as Python strings."""
    n, width = chars.shape
    lines = np.empty((n, width + 1), dtype=np.uint8)
    lines[:, :width] = chars
    return _lines(lines)


def _hex_strings(values: np.ndarray, width: int, prefix: str = "") -> list[str]:
    """``prefix`` + the low ``width`` hex digits of each uint64, as Python strings."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = (values.astype(np.uint64)[:, None] >> shifts) & np.uint64(15)
    chars = np.empty((len(values), len(prefix) + width), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    chars[:, len(prefix) :] = _HEX_DIGITS[nibbles]
    return _ascii_rows(chars)


def _lines(buffer: np.ndarray) -> list[str]:
    """The rows of a (n, width + 1) uint8 array of ASCII codes whose last column is free."""
    n = len(buffer)
    buffer[:, -1] = 10
    return buffer.tobytes().decode("ascii").split("\n", n)[:n]


def _uuid4_strings(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random version-4 UUIDs drawn from ``rng``, in canonical text form."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.take(_HEX_PAIRS, raw).view(np.uint8)
    buffer = np.empty((n, 37), dtype=np.uint8)
    for dash in (8, 13, 18, 23):
        buffer[:, dash] = ord("-")
    buffer[:, 0:8] = hexed[:, 0:8]
    buffer[:, 9:13] = hexed[:, 8:12]
    buffer[:, 14:18] = hexed[:, 12:16]
    buffer[:, 19:23] = hexed[:, 16:20]
    buffer[:, 24:36] = hexed[:, 20:32]
    return _lines(buffer)


def _timestamps(t_ms: np.ndarray) -> list[str]:
    """RFC 3339 UTC strings with milliseconds (``2026-11-03T14:22:05.123Z``) for epoch ms."""
    n = len(t_ms)
    if n == 0:
        return []
    days = t_ms // DAY_MS
    rest = t_ms - days * DAY_MS
    first = int(days.min())
    span = int(days.max()) - first + 1
    dates = np.frombuffer(
        "".join(
            (_EPOCH + dt.timedelta(days=first + d)).isoformat() + "T" for d in range(span)
        ).encode(),
        dtype=np.uint8,
    ).reshape(span, 11)
    seconds = rest // SECOND_MS
    buffer = np.empty((n, 25), dtype=np.uint8)
    buffer[:, 0:11] = dates[days - first]
    buffer[:, 11:13] = np.take(_DIGIT_PAIRS, seconds // 3600)[:, None].view(np.uint8)
    buffer[:, 13] = ord(":")
    buffer[:, 14:16] = np.take(_DIGIT_PAIRS, seconds // 60 % 60)[:, None].view(np.uint8)
    buffer[:, 16] = ord(":")
    buffer[:, 17:19] = np.take(_DIGIT_PAIRS, seconds % 60)[:, None].view(np.uint8)
    buffer[:, 19] = ord(".")
    millis = np.take(_DIGIT_TRIPLES, rest - seconds * SECOND_MS)[:, None].view(np.uint8)
    buffer[:, 20:23] = millis[:, :3]
    buffer[:, 23] = ord("Z")
    return _lines(buffer)


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


def _pick_cum(rng: np.random.Generator, cum: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the weights whose running total is ``cum``."""
    u = rng.random(size) * cum[-1]
    return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)


def _lognormal(
    rng: np.random.Generator, median: np.ndarray | float, sigma: float, size: int
) -> np.ndarray:
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
    """Draw the accounts, users (about events/50), devices and consent answers of a run."""
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
    user_domain[personal] = _CONSUMER_DOMAINS[_pick(rng, _CONSUMER_DOMAIN_P, int(personal.sum()))]
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
    network = np.where(rng.random(devices) < 0.12, 3, network)
    ips = _device_ips(rng, devices, network)
    # Desktop devices of company users leave through the account's office address.
    office = _device_ips(rng, accounts, np.where(rng.random(accounts) < 0.10, 3, 0))
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


# --------------------------------------------------------------------------------------------
# Catalogues: web pages, media programs, e-mail campaigns


@dataclass(frozen=True, eq=False)
class _Pages:
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


def _zipf(n: int, total: float, s: float = 1.0) -> list[float]:
    w = 1.0 / np.arange(1, n + 1) ** s
    return (w * total / w.sum()).tolist()


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


@dataclass(frozen=True, eq=False)
class _Programs:
    ids: np.ndarray  # object
    titles: np.ndarray  # object
    length_s: np.ndarray
    kbps: np.ndarray
    live_share: np.ndarray
    cum: np.ndarray


def _programs(rng: np.random.Generator, until: dt.date) -> _Programs:
    """About 200 programs: news, webinars, live shows, ad spots; popularity is Zipf-like."""
    ids: list[str] = []
    titles: list[str] = []
    length: list[float] = []
    live: list[float] = []
    numbers = _unique_ints(rng, sum(s[4] for s in _SHOWS), 1, 10_000).tolist()
    for show, genre, low, high, episodes, live_share in _SHOWS:
        for k in range(episodes):
            number = numbers[len(ids)]
            aired = until - dt.timedelta(days=int(rng.integers(1, 120)))
            ids.append(f"prg-{aired.year}-{number:04d}")
            if genre == "news":
                titles.append(f"{show}, {aired.day} {aired:%B %Y}")
            elif genre in ("ad", "promo"):
                titles.append(f"{show} #{k + 1}")
            else:
                titles.append(f"{show}, episode {k + 1}")
            length.append(float(rng.uniform(low, high)))
            live.append(live_share)
    n = len(ids)
    weight = rng.permutation(np.array(_zipf(n, 1.0, 0.9)))
    return _Programs(
        ids=np.array(ids, dtype=object),
        titles=np.array(titles, dtype=object),
        length_s=np.array(length),
        kbps=rng.choice(np.array([800.0, 1_800.0, 3_000.0, 4_500.0, 6_000.0]), size=n),
        live_share=np.array(live),
        cum=np.cumsum(weight),
    )


@dataclass(frozen=True, eq=False)
class _Campaigns:
    ids: list[str]
    kinds: np.ndarray  # index into _CAMPAIGN_KINDS
    links: list[str]  # landing page without query
    hosts: list[str]
    kind_names: list[str]
    starts_ms: np.ndarray  # send start of bulk campaigns; _NEVER for transactional ones
    recipients: np.ndarray  # planned audience of bulk campaigns

    @property
    def blasts(self) -> int:
        return len(self.ids) - len(_TRANSACTIONAL)


def _campaigns(rng: np.random.Generator, config: SimulationConfig) -> _Campaigns:
    """About 16 bulk campaigns a month on weekday office hours, plus 4 transactional templates."""
    days = config.days
    blasts = max(1, round(len(_BLAST_KINDS) * days / 30))
    first_day = 1 if days >= 3 else 0
    start_day = (config.until - _EPOCH).days - days
    ids: list[str] = []
    kinds: list[int] = []
    links: list[str] = []
    starts: list[int] = []
    used_days: set[int] = set()
    for k in range(blasts):
        day = int((k + rng.uniform(0.2, 0.8)) * days / blasts)
        day = min(max(day, first_day), days - 1)
        weekday = (start_day + day + 3) % 7
        if weekday >= 5:  # move weekend sends to the closest weekday inside the period
            day = day - (weekday - 4) if day - (weekday - 4) >= first_day else day + (7 - weekday)
            day = min(day, days - 1)
        while day in used_days and day + 1 < days:
            day += 1
        used_days.add(day)
        hour_ms = int(rng.uniform(7.5, 15.5) * HOUR_MS)
        start = config.start_ms + day * DAY_MS + hour_ms
        date = _EPOCH + dt.timedelta(days=start // DAY_MS)
        kind = _BLAST_KINDS[k % len(_BLAST_KINDS)]
        if kind == 0:
            ids.append(f"nl-{date:%Y-%m-%d}")
            links.append(f"https://{WWW}/blog/{date:%Y-%m}-roundup")
        elif kind == 1:
            theme = _PROMO_THEMES[kinds.count(1) % len(_PROMO_THEMES)]
            ids.append(f"promo-{theme}-{date:%Y%m}")
            links.append(f"https://{WWW}/offers/{theme}")
        else:
            topic = _BROADCAST_TOPICS[kinds.count(2) % len(_BROADCAST_TOPICS)]
            ids.append(f"bc-{topic}-{date:%Y%m%d}")
            links.append(f"https://{WWW}/news/{topic}")
        if ids[-1] in ids[:-1]:
            ids[-1] += f"-{k + 1}"
        kinds.append(kind)
        starts.append(start)
    # In send order (moving weekend sends may have swapped two neighbours).
    order = sorted(range(blasts), key=starts.__getitem__)
    ids, kinds, links, starts = (
        [column[i] for i in order] for column in (ids, kinds, links, starts)
    )
    hosts = [WWW] * blasts
    for name, link in _TRANSACTIONAL:
        ids.append(name)
        kinds.append(3)
        links.append(link)
        hosts.append(link.split("/")[2])
        starts.append(_NEVER)
    per_blast = _BLAST_SHARE * config.events / (blasts * _ROWS_PER_RECIPIENT)
    return _Campaigns(
        ids=ids,
        kinds=np.array(kinds),
        kind_names=[_CAMPAIGN_KINDS[k] for k in kinds],
        links=links,
        hosts=hosts,
        starts_ms=np.array(starts, dtype=np.int64),
        recipients=np.full(blasts, max(1, round(per_blast)), dtype=np.int64),
    )


# --------------------------------------------------------------------------------------------
# The row table: one integer row per event until the event dicts are built


@dataclass(eq=False)
class _Rows:
    """Columns of events not yet built: time, kind, user, device, session and two parameters.

    ``a`` and ``b`` depend on the kind: traffic ``a`` = -1 (a person browsing), -2 (a crawler)
    or the campaign of a landing page (``b`` = its send time); tickets ``a`` = ticket number,
    ``b`` = packed attributes; e-mail ``a`` = campaign, ``b`` = send time; consent ``a`` =
    purpose * 100 + status * 10 + source.
    """

    t: np.ndarray
    kind: np.ndarray
    user: np.ndarray
    dev: np.ndarray
    sess: np.ndarray
    a: np.ndarray
    b: np.ndarray

    @classmethod
    def make(
        cls,
        t: np.ndarray,
        kind: np.ndarray | int,
        user: np.ndarray | int,
        dev: np.ndarray | int = -1,
        sess: np.ndarray | int = -1,
        a: np.ndarray | int = -1,
        b: np.ndarray | int = 0,
    ) -> _Rows:
        n = len(t)

        def col(x: np.ndarray | int) -> np.ndarray:
            if isinstance(x, np.ndarray):
                return x if x.dtype == np.int64 else x.astype(np.int64)
            return np.full(n, x, dtype=np.int64)

        return cls(col(t), col(kind), col(user), col(dev), col(sess), col(a), col(b))

    @classmethod
    def empty(cls) -> _Rows:
        return cls.make(np.empty(0, np.int64), 0, 0)

    @classmethod
    def concat(cls, parts: list[_Rows]) -> _Rows:
        parts = [p for p in parts if len(p.t)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(
            np.concatenate([p.t for p in parts]),
            np.concatenate([p.kind for p in parts]),
            np.concatenate([p.user for p in parts]),
            np.concatenate([p.dev for p in parts]),
            np.concatenate([p.sess for p in parts]),
            np.concatenate([p.a for p in parts]),
            np.concatenate([p.b for p in parts]),
        )

    def __len__(self) -> int:
        return len(self.t)

    def take(self, index: np.ndarray | slice) -> _Rows:
        return _Rows(
            self.t[index],
            self.kind[index],
            self.user[index],
            self.dev[index],
            self.sess[index],
            self.a[index],
            self.b[index],
        )

    def split(self, t_ms: int) -> tuple[_Rows, _Rows]:
        """(rows before ``t_ms``, the rest)."""
        before = self.t < t_ms
        if before.all():
            return self, _Rows.empty()
        return self.take(before), self.take(~before)

    def sorted(self) -> _Rows:
        """By time; at equal times consent first, then in creation order."""
        key = self.t * 2 + (self.kind != K_CONSENT)
        return self.take(np.argsort(key, kind="stable"))


# --------------------------------------------------------------------------------------------
# The simulation


def _mix_int(x: int) -> int:
    """SplitMix64 finalizer on a Python int (same as ``_mix64``)."""
    z = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


_CHUNK_CHOICES_MS: Final = (
    60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    HOUR_MS, 2 * HOUR_MS, 3 * HOUR_MS, 4 * HOUR_MS, 6 * HOUR_MS, 8 * HOUR_MS, 12 * HOUR_MS,
    DAY_MS,
)  # fmt: skip
_ROWS_PER_CHUNK: Final = 15_000


class _Simulation:
    """The state of one run: who has appeared, who opted out, what is scheduled."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.events = config.events
        self.pop = pop = population(config)
        self.rng = _rng(config.seed, 1)
        self.pages = _pages(_rng(config.seed, 2))
        self.programs = _programs(_rng(config.seed, 3), config.until)
        self.campaigns = _campaigns(_rng(config.seed, 4), config)
        self.salt = int(_rng(config.seed, 5).integers(0, 2**62))
        self.start, self.until = config.start_ms, config.until_ms
        users = pop.users
        self.seen = np.zeros(users, dtype=bool)
        self.marketing_off_ms = np.full(users, _NEVER, dtype=np.int64)
        self.suppressed = np.zeros(users, dtype=bool)
        self.consent_rows = (pop.consent_initial >= 0).sum(axis=1)
        self.is_new = pop.user_activation_ms > self.start
        self.sessions = 0
        self.tickets = 0
        self.emitted = 0
        self.pending = _Rows.empty()
        self.blasts_done = 0
        # Rows that follow from sessions and first appearances, per session row (with a prior)
        self.fresh_rows = 0.02 * self.events + 1
        self.follow_ups = 0.03 * self.fresh_rows
        self.human_devices = len(pop.device_ips) - _N_BOT_DEVICES

        # Users in signup order, for sampling among those who exist at a given time.
        self.by_activation = np.argsort(pop.user_activation_ms, kind="stable")
        self.activation_sorted = pop.user_activation_ms[self.by_activation]
        self.weight_cum = np.cumsum(pop.user_weight[self.by_activation])

        # Lookup arrays indexed by user; index -1 (crawlers) hits the sentinel at the end.
        self.u_account = np.append(pop.account_ids[pop.user_account], ANONYMOUS_ACCOUNT)
        self.u_user = np.append(pop.user_ids, None)
        self.u_email = np.append(pop.user_emails, None)
        self.ua = np.array(USER_AGENTS, dtype=object)[pop.device_ua]
        self.hosts = np.array(HOSTS, dtype=object)
        self.campaign_hosts = np.array(self.campaigns.hosts, dtype=object)
        self.campaign_ids = np.array(self.campaigns.ids, dtype=object)
        self.campaign_kind_names = np.array(self.campaigns.kind_names, dtype=object)

        # Seasonality: one weight per hour of the period, then per chunk.
        hours = config.days * 24
        hour_index = np.arange(hours)
        weekday = ((self.start // DAY_MS + hour_index // 24) + 3) % 7  # 1970-01-01: Thursday
        self.hour_weight = (
            _HOUR_CURVE[hour_index % 24]
            * _WEEKDAY_CURVE[weekday]
            * (1 + _GROWTH * (hour_index + 0.5) / hours)
        )
        span = config.days * DAY_MS
        chunk = _CHUNK_CHOICES_MS[0]
        for choice in _CHUNK_CHOICES_MS:
            if self.events * choice / span <= _ROWS_PER_CHUNK:
                chunk = choice
        # Chunk boundaries: a regular grid, but the last long chunk is cut into hours and the
        # last hour into 10 minutes, so that the exact total costs at most a few minutes of
        # the period's end (the last chunk is filled to the count, then cut).
        bounds = list(range(self.start, self.until - chunk + 1, chunk))
        if chunk > 10 * MINUTE_MS:
            tail = bounds.pop()
            step = HOUR_MS if chunk > HOUR_MS else 10 * MINUTE_MS
            bounds += range(tail, self.until - HOUR_MS, step)
            bounds += range(max(tail, self.until - HOUR_MS), self.until, 10 * MINUTE_MS)
        self.bounds = [*bounds, self.until]
        self.chunk_count = len(bounds)
        cumulative = np.concatenate([[0.0], np.cumsum(self.hour_weight)])
        at = (np.array(self.bounds) - self.start) / HOUR_MS
        whole = np.minimum(at.astype(np.int64), hours - 1)
        weight_until = cumulative[whole] + (at - whole) * self.hour_weight[whole]
        self.chunk_weight = np.diff(weight_until)
        self.weight_left = np.cumsum(self.chunk_weight[::-1])[::-1]

        # Monthly invoices: the 1st of each month at 06:00 UTC.
        self.invoice_times: list[int] = []
        day = config.until - dt.timedelta(days=config.days)
        while day < config.until:
            if day.day == 1:
                self.invoice_times.append((day - _EPOCH).days * DAY_MS + 6 * HOUR_MS)
            day += dt.timedelta(days=1)
        expected = self.campaigns.recipients * _ROWS_PER_RECIPIENT
        self.blast_rows_left = [*np.cumsum(expected[::-1])[::-1].tolist(), 0.0]

    # -- the chunk loop --------------------------------------------------------------------

    def batches(self) -> Iterator[list[dict[str, Any]]]:
        """Yield the events in small batches, in time order."""
        for c in range(self.chunk_count):
            if self.emitted >= self.events:
                return
            rows = self._chunk(c)
            self.emitted += len(rows)
            yield from self._build(rows)

    def _chunk(self, c: int) -> _Rows:
        s, e = self.bounds[c], self.bounds[c + 1]
        last = c == self.chunk_count - 1
        remaining = self.events - self.emitted
        due, self.pending = self.pending.split(e)
        scheduled = len(due) + len(self.pending)
        camp = self.campaigns
        if last:
            fresh = remaining - scheduled
        else:
            # What is left once the rows already scheduled and the bulk campaigns still to
            # come are set aside, shared by weight; the follow-ups (ticket closes, e-mails,
            # consent changes) that future sessions will bring are set aside too, at the rate
            # seen so far, so that sessions follow the seasonality to the end.
            budget = remaining - scheduled - self.blast_rows_left[self.blasts_done]
            share = self.chunk_weight[c] / self.weight_left[c]
            fresh = round(budget * share / (1 + self.follow_ups / self.fresh_rows))
        fresh = max(fresh, 0)
        parts = [due]
        while self.blasts_done < camp.blasts and camp.starts_ms[self.blasts_done] < e:
            parts.append(self._blast(self.blasts_done))
            self.blasts_done += 1
        for t in self.invoice_times:
            if s <= t < e:
                parts.append(self._invoices(t))
                self.follow_ups += len(parts[-1])
        sessions, consent_estimate = self._sessions(s, e, fresh)
        parts.append(sessions)
        self.fresh_rows += fresh
        self.follow_ups += max(0, len(sessions) - (fresh - consent_estimate))
        now, later = _Rows.concat(parts).split(e)
        self.pending = _Rows.concat([self.pending, later])
        now = now.sorted()
        extra, initial_consent = self._first_appearances(now, s)
        self.follow_ups += len(extra) - initial_consent
        if len(extra):
            extra_now, extra_later = extra.split(e)
            self.pending = _Rows.concat([self.pending, extra_later])
            now = _Rows.concat([now, extra_now]).sorted()
        if len(now) > remaining:
            now = now.take(slice(0, remaining))
        return now

    # -- row generators ------------------------------------------------------------------

    def _session_starts(self, s: int, e: int, n: int) -> np.ndarray:
        """Session start times in [s, e), following the hour-of-day curve."""
        if e - s <= HOUR_MS:
            return s + self.rng.integers(0, e - s, size=n)
        first = (s - self.start) // HOUR_MS  # chunks longer than an hour are whole hours
        hour = _pick(self.rng, self.hour_weight[first : first + (e - s) // HOUR_MS], n)
        return s + hour * HOUR_MS + self.rng.integers(0, HOUR_MS, size=n)

    def _sessions(self, s: int, e: int, fresh: int) -> tuple[_Rows, int]:
        """Sessions starting in [s, e) worth ``fresh`` rows, with new users' consent.

        Returns the rows (and their follow-ups) and how many of the ``fresh`` rows are left
        for the consent of the users who appear for the first time.
        """
        rng, pop = self.rng, self.pop
        n_bot = round(fresh * _BOT_SHARE)
        target = fresh - n_bot
        lo = int(np.searchsorted(self.activation_sorted, max(s, self.start + 1), side="left"))
        hi = int(np.searchsorted(self.activation_sorted, e, side="left"))
        act_users = self.by_activation[lo:hi]
        act_starts = self.activation_sorted[lo:hi]
        n_act = len(act_users)
        if target <= 0 and n_act == 0:
            return self._crawler(s, e, n_bot), 0
        existing = int(np.searchsorted(self.activation_sorted, s, side="right"))
        guess = max(8, int(target / _MEAN_SESSION_LENGTH * 1.15) + 8)
        while True:
            regular = guess if existing else 0
            if regular:
                pick = np.searchsorted(
                    self.weight_cum[:existing],
                    rng.random(regular) * self.weight_cum[existing - 1],
                    side="right",
                )
                regular_users = self.by_activation[np.minimum(pick, existing - 1)]
            else:
                regular_users = np.empty(0, dtype=np.int64)
            users = np.concatenate([act_users, regular_users])
            starts = np.concatenate([act_starts, self._session_starts(s, e, regular)])
            count = len(users)
            if count == 0:  # nobody exists yet
                return self._crawler(s, e, n_bot), 0
            lengths = np.minimum(rng.geometric(1 / _MEAN_SESSION_LENGTH, size=count), 80)
            session = np.repeat(np.arange(count), lengths)
            first_row = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            gaps = np.rint(_lognormal(rng, 20_000.0, 1.1, len(session))).astype(np.int64) + 300
            gaps[first_row] = 0
            elapsed = np.cumsum(gaps)
            t = starts[session] + elapsed - elapsed[first_row][session]
            inside = t < self.until
            per_session = np.bincount(session[inside], minlength=count)
            _, first_of_user = np.unique(users, return_index=True)
            cost = np.zeros(count, dtype=np.int64)
            newcomers = first_of_user[~self.seen[users[first_of_user]]]
            cost[newcomers] = self.consent_rows[users[newcomers]]
            total = np.cumsum(per_session + cost)
            if total[-1] >= target or not regular or guess > 50 * max(target, 1):
                break
            guess *= 2
        cut = max(n_act - 1, int(np.searchsorted(total, target, side="left")))
        cut = min(cut, count - 1)
        allowed = per_session.copy()
        if cut >= n_act:
            before = int(total[cut - 1]) if cut > 0 else 0
            allowed[cut] = max(1, target - before - int(cost[cut]))
        rank = np.arange(len(session)) - first_row[session]
        keep = inside & (session <= cut) & (rank < allowed[session])
        session, t, rank = session[keep], t[keep], rank[keep]
        kept = cut + 1
        users, starts = users[:kept], starts[:kept]

        # Each session uses one of the user's devices, mostly the first.
        dev_count = pop.user_device_count[users]
        pick = np.where(rng.random(kept) < 0.6, 0, rng.integers(0, 3, size=kept) % dev_count)
        devices = pop.user_device_start[users] + pick
        ids = self.sessions + np.arange(kept)
        self.sessions += kept
        n = len(t)
        kind = _SESSION_KINDS[_pick(rng, _SESSION_KIND_P, n)]
        kind[rank == 0] = K_TRAFFIC  # a session starts with a request
        row_users = users[session]
        a = np.full(n, -1, dtype=np.int64)
        b = np.zeros(n, dtype=np.int64)
        parts = [_Rows.make(t, kind, row_users, devices[session], ids[session], a, b)]

        # Tickets: opened in a session, closed hours later; updates by e-mail for some.
        opened = np.flatnonzero(kind == K_TICKET_OPEN)
        if len(opened):
            k = len(opened)
            numbers = self.tickets + np.arange(k)
            self.tickets += k
            category = _pick(rng, _TICKET_CATEGORY_P, k)
            channel = _pick(rng, _CHANNEL_P, k)
            priority = _pick(rng, _PRIORITY_P, k)
            text = rng.integers(0, 16, size=k)
            resolution = np.where(
                category == 5, np.where(rng.random(k) < 0.7, 6, 0), _pick(rng, _RES_P, k)
            )
            packed = category | channel << 3 | priority << 5 | text << 7 | resolution << 11
            a[opened] = numbers
            b[opened] = packed
            parts[0] = _Rows.make(t, kind, row_users, devices[session], ids[session], a, b)
            hours = np.where(priority >= 2, 1.5, 6.0) * HOUR_MS
            closed_t = t[opened] + 10 * MINUTE_MS + _lognormal(rng, hours, 1.2, k).astype(np.int64)
            ok = closed_t < self.until
            closed_users = row_users[opened][ok]
            parts.append(
                _Rows.make(closed_t[ok], K_TICKET_CLOSE, closed_users, a=numbers[ok], b=packed[ok])
            )
            mailed = (channel[ok] <= 1) & (rng.random(int(ok.sum())) < 0.8)
            sent = closed_t[ok][mailed] + rng.integers(5_000, 60_000, size=int(mailed.sum()))
            parts.append(self._funnel(closed_users[mailed], sent, self._txn(_TXN_TICKET)))

        # Password resets requested at the start of a few sessions.
        reset = rng.random(kept) < _PASSWORD_RESET_P
        if reset.any():
            sent = starts[reset] + rng.integers(3_000, 30_000, size=int(reset.sum()))
            parts.append(self._funnel(users[reset], sent, self._txn(_TXN_PASSWORD)))
        parts.append(self._crawler(s, e, n_bot))
        return _Rows.concat(parts), int(cost[:kept].sum())

    def _crawler(self, s: int, e: int, n: int) -> _Rows:
        """Crawler requests: spread evenly over the day, no session, no customer."""
        if n <= 0:
            return _Rows.empty()
        t = np.sort(s + self.rng.integers(0, e - s, size=n))
        t = t[t < self.until]
        dev = self.human_devices + self.rng.integers(0, _N_BOT_DEVICES, size=len(t))
        return _Rows.make(t, K_TRAFFIC, -1, dev, -1, -2, 0)

    def _funnel(self, users: np.ndarray, sent: np.ndarray, campaign: int) -> _Rows:
        """Every e-mail event of one message per user: sent, delivered or bounced, opened..."""
        n = len(users)
        if n == 0:
            return _Rows.empty()
        rng, pop = self.rng, self.pop
        kind = int(self.campaigns.kinds[campaign])
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
        sessions = self.sessions + np.arange(n)
        self.sessions += n

        until = self.until
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
        self.suppressed[users[hard | complained]] = True
        quit_ = unsub & (t_unsub < until)
        np.minimum.at(self.marketing_off_ms, users[quit_], t_unsub[quit_])
        return _Rows.concat(parts)

    def _blast(self, campaign: int) -> _Rows:
        """A bulk campaign: sent over ~45 minutes to part of the users who may receive it."""
        t0 = int(self.campaigns.starts_ms[campaign])
        eligible = np.flatnonzero(self.seen & ~self.suppressed & (self.marketing_off_ms > t0))
        size = min(int(self.campaigns.recipients[campaign]), len(eligible))
        if size == 0:
            return _Rows.empty()
        users = self.rng.choice(eligible, size=size, replace=False)
        sent = t0 + np.sort(self.rng.integers(0, 45 * MINUTE_MS, size=size))
        return self._funnel(users, sent, campaign)

    def _invoices(self, t0: int) -> _Rows:
        """Monthly invoice mails to the owner of every account that existed at the time.

        For an owner not seen before, the invoice is their first event: their initial
        consent is then recorded just before it, like for anyone else.
        """
        owners = self.pop.account_first_user
        owners = owners[self.pop.user_activation_ms[owners] <= t0]
        sent = t0 + np.sort(self.rng.integers(0, 30 * MINUTE_MS, size=len(owners)))
        return self._funnel(owners, sent, self._txn(_TXN_INVOICE))

    def _first_appearances(self, rows: _Rows, s: int) -> tuple[_Rows, int]:
        """Consent rows just before each new user's first event; their later changes; welcome.

        Returns the rows and how many of them are initial consent.
        """
        users = rows.user
        candidates = np.flatnonzero((users >= 0) & ~self.seen[np.maximum(users, 0)])
        if len(candidates) == 0:
            return _Rows.empty(), 0
        _, first = np.unique(users[candidates], return_index=True)
        pos = candidates[first]
        rng, pop = self.rng, self.pop
        u, t1, dev, sess = users[pos], rows.t[pos], rows.dev[pos], rows.sess[pos]
        self.seen[u] = True
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
        self.marketing_off_ms[u[off]] = np.minimum(self.marketing_off_ms[u[off]], t_consent[off])

        # Later changes, somewhere between the first appearance and the end of the period.
        room = self.until - t1 - 2 * MINUTE_MS
        later = t1 + MINUTE_MS + (rng.random(n) * np.maximum(room, 0)).astype(np.int64)
        device = pop.user_device_start[u] + rng.integers(0, 3, size=n) % pop.user_device_count[u]
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
                np.minimum.at(self.marketing_off_ms, u[m], later[m])
        welcome = self.is_new[u]
        sent = t1[welcome] + rng.integers(2_000, 20_000, size=int(welcome.sum()))
        parts.append(self._funnel(u[welcome], sent, self._txn(_TXN_WELCOME)))
        return _Rows.concat(parts), initial

    def _txn(self, template: int) -> int:
        return self.campaigns.blasts + template

    # -- building the event dicts --------------------------------------------------------
    #
    # Each kind's preparation turns its rows into per-event value lists (numpy first, then
    # .tolist()); a plain loop then assembles the dicts, a small batch at a time in time order,
    # so that the dicts being built and consumed stay in the CPU cache.

    def _build(self, rows: _Rows) -> Iterator[list[dict[str, Any]]]:
        """The event dicts of sorted rows, in batches of ``_BATCH`` consecutive events."""
        n = len(rows)
        if n == 0:
            return
        group = _GROUP_OF_KIND[rows.kind]
        order = np.argsort(group, kind="stable")  # by group, then in time order
        r = rows.take(order)
        bounds = np.searchsorted(group[order], np.arange(len(_GROUPS) + 1)).tolist()
        user, dev = r.user, r.dev
        cols = _Columns(
            slot=(order % _BATCH).tolist(),
            ids=_uuid4_strings(self.rng, n),
            ts=_timestamps(r.t),
            account=self.u_account[user].tolist(),
            user=self.u_user[user].tolist(),
            email=self.u_email[user].tolist(),
            ip=self.pop.device_ips[dev].tolist(),
            ua=self.ua[dev].tolist(),
            session=self._session_ids(r.sess),
        )
        batch_starts = np.arange(0, n + _BATCH, _BATCH)
        groups: list[tuple[Any, list[list[Any]], list[int]]] = []
        for g, prepare in enumerate(
            (
                self._traffic,
                self._feature,
                self._media,
                self._license,
                self._ticket,
                self._consent,
                self._mail,
            )
        ):
            lo, hi = bounds[g], bounds[g + 1]
            if hi > lo:
                loop, columns = prepare(r.take(slice(lo, hi)), cols, lo, hi)
                cuts = np.searchsorted(order[lo:hi], batch_starts).tolist()
                groups.append((loop, columns, cuts))
        for b in range(len(batch_starts) - 1):
            out: list[Any] = [None] * (min(n, (b + 1) * _BATCH) - b * _BATCH)
            for loop, columns, cuts in groups:
                j0, j1 = cuts[b], cuts[b + 1]
                if j1 > j0:
                    loop(out, *[column[j0:j1] for column in columns])
            yield out

    def _session_ids(self, sess: np.ndarray) -> list[str | None]:
        """``sess_`` + 12 hex digits per session number (None for rows without a session)."""
        unique, inverse = np.unique(sess, return_inverse=True)
        names = np.array(_hex_strings(_mix64(unique ^ self.salt), 12, "sess_"), dtype=object)
        names[unique < 0] = None
        return names[inverse].tolist()

    def _traffic(self, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
        rng, pages = self.rng, self.pages
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
        duration = np.rint(
            base * np.exp(0.7 * rng.standard_normal(n)) + response / 1_500.0 + 1
        ).astype(np.int64)
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
                urls[i] = f"{urls[i]}?{self._query(qk, x, emails[i], ips[i])}"
        host = pages.host[page]
        hosts = self.hosts[host]
        if landing.any():
            for i in np.flatnonzero(landing).tolist():
                urls[i] = self._link_url(int(r.a[i]), int(r.user[i]), int(r.b[i]))
            hosts[landing] = self.campaign_hosts[r.a[landing]]

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

    def _query(self, kind: int, x: int, email: str | None, ip: str) -> str:
        """One query string of the given kind (see _QUERY_P)."""
        terms = _SEARCH_TERMS
        if kind == 0:
            return f"utm_source=google&utm_medium=cpc&utm_campaign=brand-{terms[x % len(terms)]}"
        if kind == 1:
            camp = self.campaigns.ids[x % max(1, self.campaigns.blasts)]
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

    def _link_url(self, campaign: int, user: int, sent: int) -> str:
        """The tracked link of a message (the same for its click and its landing request)."""
        camp = self.campaigns
        link = camp.links[campaign]
        h = _mix_int(user * 1_000_003 + campaign * 7 + self.salt)
        if campaign == self._txn(_TXN_PASSWORD):
            return f"{link}?token={_mix_int(h ^ sent):016x}"
        if campaign == self._txn(_TXN_INVOICE):
            month = (_EPOCH + dt.timedelta(days=sent // DAY_MS)).strftime("%Y-%m")
            return f"{link}?period={month}"
        if campaign == self._txn(_TXN_TICKET):
            return f"{link}?utm_source=helpdesk&utm_medium=email"
        if campaign == self._txn(_TXN_WELCOME):
            return f"{link}?utm_source=welcome&utm_medium=email"
        kind = _CAMPAIGN_KINDS[int(camp.kinds[campaign])]
        url = f"{link}?utm_source={kind}&utm_medium=email&utm_campaign={camp.ids[campaign]}"
        if h % 20 == 0:  # some mailers put the subscriber's address in tracked links
            url += f"&subscriber={self.pop.user_emails[user]}"
        return url

    def _feature(self, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
        rng = self.rng
        n = hi - lo
        feature = _pick_cum(rng, _FEATURE_CUM, n)
        duration = np.rint(_FEATURE_MEDIAN[feature] * np.exp(0.9 * rng.standard_normal(n)))
        duration = np.where(rng.random(n) < 0.12, -1, duration).astype(np.int64)
        emails = np.where(_FEATURE_EMAIL[feature], np.array(c.email[lo:hi], dtype=object), None)
        return _feature_loop, [
            c.slot[lo:hi],
            c.ids[lo:hi],
            c.ts[lo:hi],
            _FEATURE_SOURCE[feature].tolist(),
            c.account[lo:hi],
            c.user[lo:hi],
            emails.tolist(),
            c.ip[lo:hi],
            c.ua[lo:hi],
            c.session[lo:hi],
            _FEATURE_SERVICE[feature].tolist(),
            _FEATURE_NAME[feature].tolist(),
            duration.tolist(),
        ]

    def _media(self, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
        rng, programs = self.rng, self.programs
        n = hi - lo
        program = _pick_cum(rng, programs.cum, n)
        live = rng.random(n) < np.maximum(programs.live_share[program], 0.05)
        fraction = np.where(live, rng.beta(1.0, 1.6, n), rng.beta(0.7, 0.6, n))
        seconds = np.maximum(np.round(programs.length_s[program] * fraction, 1), 1.0)
        volume = seconds * programs.kbps[program] * 125 * np.exp(0.08 * rng.standard_normal(n))
        titles = np.where(rng.random(n) < 0.9, programs.titles[program], None)
        return _media_loop, [
            c.slot[lo:hi],
            c.ids[lo:hi],
            c.ts[lo:hi],
            c.account[lo:hi],
            c.user[lo:hi],
            c.ip[lo:hi],
            c.ua[lo:hi],
            c.session[lo:hi],
            programs.ids[program].tolist(),
            titles.tolist(),
            live.tolist(),
            seconds.tolist(),
            np.rint(volume).astype(np.int64).tolist(),
        ]

    def _license(self, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
        rng, pop = self.rng, self.pop
        n = hi - lo
        account = pop.user_account[r.user]
        action = _pick(rng, _LICENSE_ACTION_P, n)
        seats = np.rint(pop.account_seats[account] * rng.uniform(0.7, 1.0, n)).astype(np.int64)
        seats = np.where((action <= 1) | ((action == 2) & (rng.random(n) < 0.5)), seats, -1)
        result = _pick(rng, _LICENSE_RESULT_P, n)
        quota = rng.integers(0, len(_QUOTAS), size=n)
        units = _QUOTA_SCALE[quota] * np.exp(0.8 * rng.standard_normal(n))
        whole = _QUOTA_WHOLE[quota]
        units = np.where(whole, np.maximum(1, np.rint(units)), np.round(units, 2))
        as_int = units.astype(np.int64).astype(object)
        quota_units = np.where(whole, as_int, units.astype(object))
        return _license_loop, [
            c.slot[lo:hi],
            c.ids[lo:hi],
            c.ts[lo:hi],
            c.account[lo:hi],
            c.user[lo:hi],
            c.ip[lo:hi],
            c.ua[lo:hi],
            c.session[lo:hi],
            action.tolist(),
            pop.account_license_ids[account].tolist(),
            pop.account_products[account].tolist(),
            seats.tolist(),
            result.tolist(),
            quota.tolist(),
            quota_units.tolist(),
        ]

    def _ticket(self, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
        kinds = r.kind.tolist()
        packed = r.b.tolist()
        texts = [
            self._ticket_text(_TICKET_CATEGORIES[p & 7], (p >> 7) & 15, u, d, t)
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

    def _ticket_text(self, category: str, choice: int, user: int, dev: int, t: str) -> str:
        """The customer's description: realistic free text, sometimes with an e-mail or IP."""
        pop = self.pop
        texts = _TICKET_TEXTS[category]
        account = int(pop.user_account[user])
        owner = int(pop.account_first_user[account])
        own = pop.user_emails[user]
        other = pop.user_emails[owner] if owner != user else f"billing@{own.split('@')[1]}"
        seats = int(pop.account_seats[account])
        program = self.programs.titles[(user * 31 + choice) % len(self.programs.titles)]
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

    def _consent(self, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
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

    def _mail(self, r: _Rows, c: _Columns, lo: int, hi: int) -> _Prepared:
        hashed = _mix64(r.user * 1_048_576 + r.a * 7 + self.salt) >> np.uint64(24)
        message_ids = [
            f"<{sent}.{h}@mail.{COMPANY_DOMAIN}>"
            for sent, h in zip(r.b.tolist(), _hex_strings(hashed, 10), strict=True)
        ]
        extra: list[tuple[str, str] | None] = [None] * (hi - lo)
        for j in np.flatnonzero(r.kind == K_MAIL_CLICKED).tolist():
            extra[j] = ("link_url", self._link_url(int(r.a[j]), int(r.user[j]), int(r.b[j])))
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
            self.campaign_ids[r.a].tolist(),
            self.campaign_kind_names[r.a].tolist(),
            message_ids,
            extra,
            (r.dev >= 0).tolist(),
        ]


@dataclass(frozen=True, eq=False)
class _Columns:
    """Per-row values shared by every kind of event in a chunk, as lists in kind order."""

    slot: list[int]  # index of the event in its batch
    ids: list[str]
    ts: list[str]
    account: list[str]
    user: list[str | None]
    email: list[str | None]
    ip: list[str]
    ua: list[str]
    session: list[str | None]


_Prepared = tuple[Any, list[list[Any]]]
_BATCH: Final = 512


# The loops that assemble event dicts from per-event value lists. They are the hot path:
# one dict display per nested object, no attribute look-ups, no calls.


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


def _feature_loop(out: list[Any], *columns: list[Any]) -> None:
    for i, eid, t, src, acc, uid, em, ip, ua, sid, service, feature, ms in zip(
        *columns, strict=True
    ):
        out[i] = {
            "event_id": eid,
            "event_type": "usage.feature_used",
            "schema_version": 1,
            "occurred_at": t,
            "source": src,
            "subject": {"account_id": acc, "user_id": uid, "email": em}
            if em is not None
            else {"account_id": acc, "user_id": uid},
            "context": {"ip": ip, "user_agent": ua, "session_id": sid},
            "properties": {"service": service, "feature": feature, "duration_ms": ms}
            if ms >= 0
            else {"service": service, "feature": feature},
        }


def _media_loop(out: list[Any], *columns: list[Any]) -> None:
    for i, eid, t, acc, uid, ip, ua, sid, program, title, live, seconds, size in zip(
        *columns, strict=True
    ):
        service, mode = ("broadcast-studio", "broadcast") if live else ("media-library", "played")
        out[i] = {
            "event_id": eid,
            "event_type": "usage.media_played",
            "schema_version": 1,
            "occurred_at": t,
            "source": "player-gateway",
            "subject": {"account_id": acc, "user_id": uid},
            "context": {"ip": ip, "user_agent": ua, "session_id": sid},
            "properties": {
                "service": service,
                "program_id": program,
                "program_title": title,
                "mode": mode,
                "duration_s": seconds,
                "bytes": size,
            }
            if title is not None
            else {
                "service": service,
                "program_id": program,
                "mode": mode,
                "duration_s": seconds,
                "bytes": size,
            },
        }


def _license_loop(out: list[Any], *columns: list[Any]) -> None:
    for i, eid, t, acc, uid, ip, ua, sid, act, lic, product, seats, res, quota, units in zip(
        *columns, strict=True
    ):
        props: dict[str, Any] = {
            "action": _LICENSE_ACTIONS[act],
            "license_id": lic,
            "product": product,
        }
        if seats >= 0:
            props["seats"] = seats
        if act == 2:
            props["result"] = _LICENSE_RESULTS[res]
        elif act == 3:
            props["quota_name"] = _QUOTAS[quota][0]
            props["quota_units"] = units
        props["billing_period"] = t[:7]
        event = {
            "event_id": eid,
            "event_type": "account.license",
            "schema_version": 1,
            "occurred_at": t,
            "source": "licensing",
            "subject": {"account_id": acc, "user_id": uid},
            "properties": props,
        }
        if act != 3:  # metering is reported by the backend, without a client
            event["context"] = {"ip": ip, "user_agent": ua, "session_id": sid}
        out[i] = event


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


def simulate(config: SimulationConfig) -> Iterator[dict[str, Any]]:
    """Yield exactly ``config.events`` valid events sorted by ``occurred_at``, lazily."""
    if config.events > 0:
        yield from itertools.chain.from_iterable(_Simulation(config).batches())
