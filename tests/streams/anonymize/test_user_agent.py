"""User agents: only browser family, major version, OS family and device class survive."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usage_pipeline.streams.anonymize.scrub import find_personal_data
from usage_pipeline.streams.anonymize.user_agent import DEVICE_CLASSES, generalize_user_agent

KEYS = {"browser_family", "browser_major", "os_family", "device_class"}

REAL_USER_AGENTS = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", "Chrome", "124", "Windows", "desktop"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "Mobile Safari", "17", "iOS", "mobile"),
    ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/16.6 Mobile/15E148 Safari/604.1", "Mobile Safari", "16", "iOS", "tablet"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Mobile Safari/537.36", "Chrome Mobile", "124", "Android", "mobile"),
    ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", "Chrome", "124", "Android", "tablet"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
     "Firefox", "125", "Linux", "desktop"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Safari/605.1.15", "Safari", "17", "Mac OS X", "desktop"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51", "Edge", "124", "Windows", "desktop"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     "Googlebot", "2", "Other", "bot"),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
     "bingbot", "2", "Other", "bot"),
    ("curl/8.5.0", "curl", "8", "Other", "bot"),
    ("python-requests/2.31.0", "Python Requests", "2", "Other", "bot"),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", "Chrome", "124", "Chrome OS", "desktop"),
    ("Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
     "Samsung Internet", "4", "Tizen", "other"),
    ("", "Other", None, "Other", "other"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "browser", "major", "os", "device_class"),
    REAL_USER_AGENTS,
    ids=["chrome-windows", "safari-iphone", "ipad", "android-chrome", "android-tablet",
         "firefox-linux", "safari-mac", "edge", "googlebot", "bingbot", "curl", "python-requests",
         "chromeos", "smart-tv", "empty"],
)  # fmt: skip
def test_real_user_agents_give_the_expected_families_and_device_class(
    value, browser, major, os, device_class
):
    assert generalize_user_agent(value) == {
        "browser_family": browser,
        "browser_major": major,
        "os_family": os,
        "device_class": device_class,
    }


@pytest.mark.parametrize("value", [None, 42, b"curl/8.5.0"])
def test_values_that_are_not_strings_are_generalised_like_an_empty_user_agent(value):
    assert generalize_user_agent(value) == generalize_user_agent("")


def test_addresses_in_user_agent_tokens_do_not_survive():
    result = generalize_user_agent(
        "Mozilla/5.0 (Linux; Android 14; john@example.com Build/X) AppleWebKit/537.36 "
        "Chrome/1.0 Mobile Safari/537.36 bot-192.0.2.7/1.0"
    )
    assert not any(find_personal_data(str(v)) for v in result.values())
    assert "john" not in str(result)


def test_callers_get_their_own_dict_so_the_cached_result_cannot_be_changed():
    first = generalize_user_agent("curl/8.5.0")
    first["browser_family"] = "changed"
    assert generalize_user_agent("curl/8.5.0")["browser_family"] == "curl"


@settings(deadline=None)  # the parser loads its rules on first use
@given(st.text(max_size=300))
def test_any_string_gives_the_four_keys_and_a_known_device_class(value):
    result = generalize_user_agent(value)
    assert set(result) == KEYS
    assert result["device_class"] in DEVICE_CLASSES
    assert result["browser_major"] is None or result["browser_major"].isdigit()
    assert not any(find_personal_data(str(v)) for v in result.values())
