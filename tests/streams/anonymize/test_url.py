"""URL cleaning: no userinfo, fragment or unlisted parameter, and no address left anywhere."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import domains

from streams.anonymize.scrub import find_personal_data
from streams.anonymize.url import clean_url

KEEP = frozenset({"utm_source", "q", "page"})
PARAM_NAMES = ["utm_source", "q", "page", "email", "ip", "ref"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:secret@Example.com/a/b?utm_source=news&token=abc#section",
         "https://example.com/a/b?utm_source=news"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com/users/john@example.com/edit", "https://example.com/users/[redacted]/edit"),
        ("https://example.com/u/john%40example.com", "https://example.com/u/[redacted]"),
        ("https://example.com/u/john%2540example.com", "https://example.com/u/[redacted]"),
        ("https://example.com/from/192.0.2.7/to", "https://example.com/from/[redacted]/to"),
        ("https://example.com/h/2001%3Adb8%3A%3A1", "https://example.com/h/[redacted]"),
        ("https://example.com/s?q=john%40example.com&page=2", "https://example.com/s?q=[redacted]&page=2"),
        ("https://example.com/s?q=a+b&q=1.2.3.4&page=3", "https://example.com/s?q=a+b&q=[redacted]&page=3"),
        ("https://example.com/?page=1&utm_source=x", "https://example.com/?page=1&utm_source=x"),
        ("http://192.0.2.7/admin", "http://[ip]/admin"),
        ("http://[2001:db8::1]:8080/", "http://[ip]:8080/"),
        ("http://[fe80::1%25eth0]/", "http://[ip]/"),
        ("http://3232235777/", "http://[ip]/"),
        ("http://0x7f.1/", "http://[ip]/"),
        ("http://john%40example.com/", "http://[redacted]/"),
        ("/relative/path?q=x&secret=1#top", "/relative/path?q=x"),
        ("//cdn.example.com/lib.js", "//cdn.example.com/lib.js"),
        ("mailto:john@example.com", "mailto:[redacted]"),
        ("?q=john&page=@example.com", "?q=john&page=[redacted]"),
        ("", ""),
    ],
)  # fmt: skip
def test_urls_are_cleaned(url, expected):
    assert clean_url(url, KEEP) == expected


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://example.com:99999/", "http://h:port/", None, 7]
)
def test_unparsable_urls_give_none(url):
    assert clean_url(url) is None


def test_no_query_parameter_is_kept_by_default():
    assert clean_url("https://example.com/p?utm_source=x&q=y") == "https://example.com/p"


def test_parts_that_form_an_address_only_together_drop_the_whole_url():
    assert clean_url("dd::f/x") is None


ipv6_text = st.ip_addresses(v=6).filter(lambda a: str(a) != "::").map(str)
personal = st.one_of(
    st.emails(),
    st.ip_addresses(v=4).map(str),
    ipv6_text,
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.builds("{}%{}".format, ipv6_text, st.sampled_from(["eth0", "25en0", "1"])),
)
encodings = st.sampled_from([lambda v: v, lambda v: quote(v, safe=""), quote_plus,
                             lambda v: quote(quote(v, safe=""), safe="")])  # fmt: skip
parts = st.one_of(personal, st.text(max_size=12))
hosts = st.one_of(
    domains(),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map("[{}]".format),
    st.emails().map(lambda e: quote(e, safe="")),
)


@st.composite
def urls(draw: st.DrawFn) -> tuple[str, list[str]]:
    injected: list[str] = []

    def part() -> str:
        value = draw(parts)
        injected.append(value)
        return draw(encodings)(value)

    url = draw(st.sampled_from(["http://", "https://", "ftp://", "//"]))
    if draw(st.booleans()):
        url += quote(draw(parts), safe="") + (":" + part() if draw(st.booleans()) else "") + "@"
    url += draw(hosts)
    if draw(st.booleans()):
        url += f":{draw(st.integers(0, 65535))}"
    url += "".join("/" + part() for _ in range(draw(st.integers(0, 4))))
    params = [f"{quote_plus(draw(st.sampled_from(PARAM_NAMES)))}={part()}"
              for _ in range(draw(st.integers(0, 4)))]  # fmt: skip
    if params:
        url += "?" + "&".join(params)
    if draw(st.booleans()):
        url += "#" + part()
    return url, injected


@given(urls(), st.frozensets(st.sampled_from(PARAM_NAMES)))
def test_cleaned_urls_never_hold_an_email_or_ip_address(url_and_parts, keep):
    url, injected = url_and_parts
    cleaned = clean_url(url, keep)
    if cleaned is None:
        return
    assert find_personal_data(cleaned) == []
    for value in injected:
        if find_personal_data(value):
            assert value not in cleaned


@given(st.sampled_from(["http", "https"]), domains(), personal, personal, personal, personal)
def test_addresses_in_userinfo_path_query_and_fragment_leave_scheme_and_host(
    scheme, host, userinfo, segment, value, fragment
):
    url = (
        f"{scheme}://{quote(userinfo, safe='')}@{host}/a/{quote(segment, safe='')}"
        f"?q={quote_plus(value)}&drop={quote_plus(value)}#{quote(fragment, safe='')}"
    )
    assert clean_url(url, KEEP) == f"{scheme}://{host.lower()}/a/[redacted]?q=[redacted]"


@given(st.sampled_from(["http", "https"]), st.ip_addresses())
def test_an_ip_host_becomes_a_placeholder(scheme, address):
    host = f"[{address}]" if address.version == 6 else str(address)
    assert clean_url(f"{scheme}://{host}/p?q=1", KEEP) == f"{scheme}://[ip]/p?q=1"
