"""URL cleaning: no userinfo, fragment or unlisted parameter, no address, no identifier."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.provisional import domains

from usage_pipeline.streams.anonymize.scrub import find_personal_data
from usage_pipeline.streams.anonymize.url import (
    REDACTED,
    UrlCleaner,
    id_segment_problem,
    own_tokens,
)
from usage_pipeline.streams.policy.loader import load_policy

KEEP = frozenset({"utm_source", "q", "page"})
PARAM_NAMES = ["utm_source", "q", "page", "email", "ip", "ref"]
PARAMETERS = load_policy(Path(__file__).parents[3] / "config" / "anonymization.yaml").parameters
# The rules that ship: config/anonymization.yaml's kept parameters and url section.
ROUTES = UrlCleaner(
    PARAMETERS.keep_query_params,
    [pattern for _, pattern in PARAMETERS.url.id_segments],
    PARAMETERS.url.placeholder,
)
ID = PARAMETERS.url.placeholder


def clean_url(url: object, keep: frozenset[str] = frozenset()) -> str | None:
    """Cleaning without identifier rules, as a policy without a url section does."""
    return UrlCleaner(keep).clean(url)


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
        ("https://example.com/users/jane.roe@intranet/settings", "https://example.com/users/[redacted]/settings"),
        ("https://example.com/u/jane.roe%40corp/x", "https://example.com/u/[redacted]/x"),
        ("https://example.com/u/jane.roe%EF%BC%A0corp", "https://example.com/u/[redacted]"),
        ("https://example.com/u/jane.roe%26%2364%3Bcorp", "https://example.com/u/[redacted]"),
        ("https://example.com/s?q=jane.roe%40", "https://example.com/s?q=[redacted]"),
        ("https://example.com/u/jane.roe%4", "https://example.com/u/[redacted]"),
        ("https://example.com/u/jane.roe%", "https://example.com/u/[redacted]"),
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


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://portal.example/users/usr_1em2bdv8/settings", "https://portal.example/users/:id/settings"),
        ("https://portal.example/accounts/acct_20031/billing", "https://portal.example/accounts/:id/billing"),
        ("/o/4c1f7d0e-3a2b-4c5d-8e9f-0a1b2c3d4e5f/items/48213/edit", "/o/:id/items/:id/edit"),
        ("/media/1f3a5b7c", "/media/:id"),
        ("/invoices/2026-0042/INV123456789.pdf", "/invoices/2026-0042/INV123456789.pdf"),
        ("/invoices/123456789.pdf", "/invoices/:id.pdf"),
        ("/t/dGhpcyBpcyBhIHRva2VuIQ1", "/t/:id"),
        ("/t/k2m9q7f3x8y1z0w4", "/t/:id"),
        ("/t/4f9a2c8e1b7d3a6f0c5e9b2d7a1f4c8e", "/t/:id"),
        ("/s/web_5e0a7b2d?utm_campaign=48213&utm_source=a", "/s/:id?utm_campaign=:id&utm_source=a"),
        ("/u/usr_1em2bdv8%2Fx", "/u/usr_1em2bdv8%2Fx"),
        # Words, slugs, versions and file names with hashes are routes, not identifiers.
        ("/blog/release-notes-2024/deadbeef", "/blog/release-notes-2024/deadbeef"),
        ("/api/v2/usage", "/api/v2/usage"),
        ("/static/js/site.1a2b3c4d.js", "/static/js/site.1a2b3c4d.js"),
        ("/vod/1a2b3c4d/720p/seg-00012.ts", "/vod/:id/720p/seg-00012.ts"),
        ("/docs/analytics_dashboard_2024", "/docs/analytics_dashboard_2024"),
        ("/utm?utm_campaign=nl-2026-11-01", "/utm?utm_campaign=nl-2026-11-01"),
    ],
)  # fmt: skip
def test_identifier_segments_become_the_placeholder_under_the_shipped_rules(url, expected):
    assert ROUTES.clean(url) == expected


@pytest.mark.parametrize(
    ("url", "own", "expected"),
    [
        ("https://portal.example/people/JROE/x?utm_source=bigcorp", ("jroe", "bigcorp"),
         "https://portal.example/people/:id/x?utm_source=:id"),
        ("/team/bigcorp-admins/v42", ("bigcorp", "42"), "/team/:id/v42"),
        ("/p/a%3Ab%3Ac", ("a:b:c",), "/p/:id"),
        ("/p/s%2Bx%3D%3D?utm_source=s%252Bx%253D%253D", ("s+x==",), "/p/:id?utm_source=:id"),
        ("/settings/notsettings", ("settings",), "/:id/notsettings"),
        ("/p/jroe", (None, ""), "/p/jroe"),
    ],
)  # fmt: skip
def test_the_events_own_ids_become_the_placeholder_wherever_they_stand(url, own, expected):
    assert ROUTES.clean(url, own_tokens(own)) == expected


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [("[0-9", "not a valid regular expression"), ("(a|b)", "capturing group"),
     ("[0-9]*", "matches an empty segment"), ("", "non-empty"), (None, "non-empty"),
     ("(?i)abc", "not a valid regular expression")],
)  # fmt: skip
def test_an_id_segment_rule_that_cannot_work_says_why(pattern, problem):
    assert problem in id_segment_problem(pattern)


# Routes: literal words (lower-case, no digit: no rule matches them) and slots. An "id" slot
# holds an identifier (one of the event's own, or one the rules know); an "address" slot an
# address, dotted or not, partial or not, encoded or not.
words = st.from_regex(r"[a-z]{1,10}(?:[-_][a-z]{1,8})?", fullmatch=True)
own_ids = st.one_of(
    st.from_regex(r"usr_[0-9a-z]{8}", fullmatch=True),
    st.integers(1, 10**7).map("acct_{}".format),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True),  # any subject id
)
known_ids = st.one_of(
    st.uuids().map(str),
    st.integers(0, 10**18).map(str),
    st.binary(min_size=4, max_size=20).map(bytes.hex),
    st.from_regex(r"[A-Za-z0-9_-]{16,40}", fullmatch=True).filter(
        lambda t: re.search("[0-9]", t) and re.search("[A-Z]", t)
    ),
    st.from_regex(r"(?:usr|acct|web)_[A-Za-z0-9]{4,12}", fullmatch=True),
)
locals_ = st.from_regex(r"[a-z][a-z0-9._+-]{1,20}", fullmatch=True)
addresses = st.one_of(
    st.emails(),
    st.builds("{}@{}".format, locals_, words),  # no dot in the domain: an intranet
    st.builds("{}@".format, locals_),
    st.builds("{}\uff20{}".format, locals_, domains()),
)


def as_typed(value: str) -> str:
    """``value`` as a person would type it into a URL: encoded only where it would end a part."""
    return quote(value, safe="@\uff20") if set(value) & set("/?#&%=+ \\") else value


encodings = st.sampled_from(
    [as_typed, lambda v: quote(v, safe=""), lambda v: quote(quote(v, safe=""), safe="")]
)
KEPT = sorted(PARAMETERS.keep_query_params)


@st.composite
def routes(draw: st.DrawFn) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """A route: path slots and kept-parameter slots as (kind, literal word or ""), a fragment
    slot kind; kinds are "word", "id" and "address"."""
    slot = st.tuples(st.sampled_from(["word", "id", "address"]), words)
    path = draw(st.lists(slot, min_size=1, max_size=5))
    query = draw(st.lists(slot, max_size=3))
    return path, query, draw(st.sampled_from(["word", "id", "address"]))


@st.composite
def filled(draw: st.DrawFn, route, own: tuple[str, ...]) -> str:
    def fill(kind: str, word: str) -> str:
        if kind == "word":
            return word
        value = draw(st.sampled_from(own) | known_ids if kind == "id" else addresses)
        return draw(encodings)(value)

    path, query, fragment = route
    url = "https://portal.example/" + "/".join(fill(*s) for s in path)
    params = [f"{name}={fill(*s)}" for name, s in zip(KEPT * 3, query, strict=False)]
    params.insert(draw(st.integers(0, len(params))), f"email={fill('address', '')}")
    return url + "?" + "&".join(params) + "#" + fill(fragment, "x")


def template(route) -> str:
    shown = {"id": ID, "address": REDACTED}
    path, query, _ = route
    url = "https://portal.example/" + "/".join(shown.get(k, w) for k, w in path)
    params = [f"{name}={shown.get(k, w)}" for name, (k, w) in zip(KEPT * 3, query, strict=False)]
    return url + ("?" + "&".join(params) if params else "")


def boundary_hit(text: str, token: str) -> bool:
    return re.search(rf"(?<![^\W_]){re.escape(token)}(?![^\W_])", text, re.I) is not None


@given(routes(), st.lists(own_ids, min_size=1, max_size=3), st.data())
def test_a_route_yields_its_template_whatever_ids_and_addresses_fill_it(route, own, data):
    # An own id that is also a word of the route, or that looks like an address, is another route.
    assume(not any(boundary_hit(w, i) for _, w in route[0] + route[1] for i in own))
    assume(not any(find_personal_data(i) for i in own))
    own = tuple(own)
    first, second = data.draw(filled(route, own)), data.draw(filled(route, own))
    assert ROUTES.clean(first, own_tokens(own)) == template(route)
    assert ROUTES.clean(second, own_tokens(own)) == template(route)
