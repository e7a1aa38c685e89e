"""The collector's pure parts: client IP, tokens, rate limit, gzip limits, acknowledgements."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from usage_pipeline.producers.collect.acks import Acknowledgements
from usage_pipeline.producers.collect.body import BodyError, gunzip
from usage_pipeline.producers.collect.client_ip import client_ip, networks
from usage_pipeline.producers.collect.ratelimit import RateLimiter
from usage_pipeline.producers.collect.tokens import TokenBook, TokenFileError, parse_tokens

PROXIES = networks(["10.0.0.0/8", "2001:db8:ffff::/48"])


@given(st.lists(st.ip_addresses().map(str), max_size=5), st.ip_addresses().map(str))
def test_forwarded_for_from_an_untrusted_peer_is_ignored(claimed, peer):
    if any(
        ipaddress.ip_address(peer) in net
        for net in PROXIES
        if net.version == ipaddress.ip_address(peer).version
    ):
        return
    assert client_ip(peer, [", ".join(claimed)], PROXIES) == str(ipaddress.ip_address(peer))


def test_the_client_is_the_right_most_untrusted_hop():
    header = ["198.51.100.7, 203.0.113.5", "10.1.1.1"]
    assert client_ip("10.2.2.2", header, PROXIES) == "203.0.113.5"
    assert client_ip("10.2.2.2", ["garbage, 10.1.1.1"], PROXIES) == "10.1.1.1"
    assert client_ip("10.2.2.2", [], PROXIES) == "10.2.2.2"


def test_tokens_name_their_service_and_errors_name_only_the_line():
    book = TokenBook(parse_tokens("# c\nbilling-api aaaaaaaaaaaaaaaa1\nweb bbbbbbbbbbbbbbbb2\n"))
    assert book.service("Bearer aaaaaaaaaaaaaaaa1") == "billing-api"
    assert book.service("bearer bbbbbbbbbbbbbbbb2") == "web"
    assert book.service("Bearer aaaaaaaaaaaaaaaa") is None
    assert book.service(None) is None
    with pytest.raises(TokenFileError) as error:
        parse_tokens("web short-secret")
    assert "line 1" in str(error.value) and "short-secret" not in str(error.value)


def test_a_rate_limit_refills_and_stays_bounded():
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=2, max_ips=10, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    now[0] = 1.0
    assert limiter.allow("a")
    for number in range(100):
        limiter.allow(f"ip{number}")
    assert len(limiter) <= 11


def test_gunzip_stops_at_the_limit():
    assert gunzip(gzip.compress(b"x" * 100), 100) == b"x" * 100
    with pytest.raises(BodyError) as error:
        gunzip(gzip.compress(b"\0" * 10_000_000), 1000)
    assert error.value.status == 413


def test_acknowledgements_resolve_only_after_the_seal_and_every_report():
    async def scenario() -> tuple[bool, bool]:
        acks = Acknowledgements(asyncio.get_running_loop())
        acks.expect(3)
        acks(None, None)  # reports may arrive while the batch is still being produced
        acks(None, None)
        acks.forget(1)  # one of the three was rejected, never produced
        early = acks._future.done()
        return early, await acks.wait(timeout_s=5)

    early, ok = asyncio.run(scenario())
    assert not early
    assert ok


def test_a_failed_report_or_a_missing_one_is_not_acknowledged():
    async def scenario() -> tuple[bool, bool, int]:
        loop = asyncio.get_running_loop()
        failed = Acknowledgements(loop)
        failed.expect(2)
        failed(None, None)
        failed(object(), None)  # type: ignore[arg-type]  # an error report
        missing = Acknowledgements(loop)
        missing.expect(1)
        answered = await missing.wait(timeout_s=0.01)
        missing(None, None)  # a report after the request gave up changes nothing
        return await failed.wait(timeout_s=5), answered, missing.published

    failed_ok, missing_ok, published = asyncio.run(scenario())
    assert not failed_ok
    assert not missing_ok
    assert published == 1
