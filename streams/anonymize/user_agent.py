"""User-Agent generalisation: browser and OS family, browser major version and a device class."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import Result, parse

from usage_pipeline.streams.anonymize.scrub import find_personal_data

OTHER = "Other"
MAX_LENGTH = 1024  # real UAs are far shorter; longer strings are cut before parsing and caching
MAX_FAMILY_LENGTH = 64
DEVICE_CLASSES = ("desktop", "mobile", "tablet", "bot", "other")

# Non-browser HTTP clients are automated traffic, like crawlers.
AUTOMATED_FAMILIES = frozenset(
    {"curl", "wget", "python requests", "python-urllib", "go-http-client", "okhttp",
     "apache-httpclient", "java", "headlesschrome", "phantomjs", "axios", "node-fetch"}
)  # fmt: skip
BOT_WORDS = ("bot", "spider", "crawl", "slurp", "scraper")
TABLET_DEVICES = frozenset({"ipad", "kindle", "generic tablet"})
TABLET_BRANDS = frozenset({"generic_android_tablet"})
MOBILE_OS = frozenset(
    {"ios", "android", "windows phone", "windows mobile", "blackberry os", "kaios",
     "firefox os", "symbian os", "symbian^3", "harmonyos", "tizen mobile", "ubuntu touch"}
)  # fmt: skip
DESKTOP_OS = frozenset(
    {"windows", "mac os x", "linux", "ubuntu", "chrome os", "fedora", "debian", "freebsd",
     "openbsd", "netbsd", "red hat", "suse", "mint", "arch linux", "solaris", "gentoo"}
)  # fmt: skip
NOT_DESKTOP_WINDOWS = ("windows phone", "windows mobile", "windows ce", "windows rt")


def generalize_user_agent(value: str) -> dict[str, str | None]:
    """browser_family, browser_major, os_family and device_class of a User-Agent string."""
    text = value[:MAX_LENGTH] if isinstance(value, str) else ""
    browser_family, browser_major, os_family, device_class = _generalize(text)
    return {
        "browser_family": browser_family,
        "browser_major": browser_major,
        "os_family": os_family,
        "device_class": device_class,
    }


@lru_cache(maxsize=4096)
def _generalize(text: str) -> tuple[str, str | None, str, str]:
    result = parse(text)
    agent, os = result.user_agent, result.os
    major = agent.major if agent and agent.major and agent.major.isascii() else None
    return (
        _family(agent.family if agent else None),
        major if major and major.isdigit() else None,
        _family(os.family if os else None),
        _device_class(result),
    )


def _family(name: str | None) -> str:
    # Generic bot rules copy tokens of the UA itself; such a token must not carry an address.
    if not name or len(name) > MAX_FAMILY_LENGTH or find_personal_data(name):
        return OTHER
    return name


def _device_class(result: Result) -> str:
    agent = (result.user_agent.family if result.user_agent else "").lower()
    os = (result.os.family if result.os else "").lower()
    device = result.device
    family = (device.family or "").lower() if device else ""
    brand = (device.brand or "").lower() if device else ""
    if family == "spider" or agent in AUTOMATED_FAMILIES or any(w in agent for w in BOT_WORDS):
        return "bot"
    if family in TABLET_DEVICES or brand in TABLET_BRANDS or "tablet" in family:
        return "tablet"
    if os in MOBILE_OS or "mobile" in agent or brand in {"generic_android", "generic_smartphone"}:
        return "mobile"
    if os in DESKTOP_OS or (os.startswith("windows") and not os.startswith(NOT_DESKTOP_WINDOWS)):
        return "desktop"
    return "other"
