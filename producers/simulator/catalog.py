"""Reference data several parts share: hosts, mail domains, names, devices, plans, tickets."""

from __future__ import annotations

from typing import Final

import numpy as np

COMPANY_DOMAIN: Final = "shantaesoft.example"
WWW: Final = f"www.{COMPANY_DOMAIN}"
PORTAL: Final = f"portal.{COMPANY_DOMAIN}"
MEDIA: Final = f"media.{COMPANY_DOMAIN}"
SUPPORT: Final = f"support.{COMPANY_DOMAIN}"
HOSTS: Final = (WWW, PORTAL, MEDIA, SUPPORT)
ANONYMOUS_ACCOUNT: Final = "anonymous"
"""``subject.account_id`` of requests made by crawlers, which belong to no customer."""

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

# Support tickets: drawn when a session opens one, spelled out when its events are built.
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
# Resolutions of ordinary tickets; ``data_deleted`` closes only privacy requests.
_RES_P: Final = np.array([0.40, 0.35, 0.08, 0.04, 0.06, 0.07, 0.0])
