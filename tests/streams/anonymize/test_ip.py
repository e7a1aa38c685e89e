"""IP truncation: the network of the right prefix for every address form, never the address."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from usage_pipeline.streams.anonymize.ip import check_prefixes, is_ip, truncate_ip

ipv4 = st.ip_addresses(v=4)
ipv6 = st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None and a.sixtofour is None)
zones = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)


def network(address: IPv4Address | IPv6Address, prefix: int) -> str:
    return str(ip_network(f"{address}/{prefix}", strict=False).network_address)


def has_host_bits(address: IPv4Address | IPv6Address, prefix: int) -> bool:
    return int(address) & ((1 << (address.max_prefixlen - prefix)) - 1) != 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("192.0.2.7", "192.0.2.0"),
        ("198.51.100.255", "198.51.100.0"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1::"),
        ("2001:DB8:abcd:12::1", "2001:db8:abcd::"),
        ("::ffff:192.0.2.7", "192.0.2.0"),
        ("fe80::1%eth0", "fe80::"),
        ("2001:db8:1::7%25en0", "2001:db8:1::"),
        (" 192.0.2.7 ", "192.0.2.0"),
    ],
)
def test_addresses_are_truncated_to_their_default_network(value, expected):
    assert truncate_ip(value) == expected


@pytest.mark.parametrize(
    "value", ["010.1.1.1", "192.0.2.007", "::ffff:010.1.1.1", "300.1.1.1", "1.2.3", "", "host"]
)
def test_leading_zero_and_unparsable_addresses_give_none(value):
    assert truncate_ip(value) is None


@pytest.mark.parametrize("value", [None, 3232235777, b"192.0.2.7", ["192.0.2.7"]])
def test_values_that_are_not_strings_give_none(value):
    assert truncate_ip(value) is None


def test_sixtofour_addresses_keep_no_more_of_the_embedded_ipv4_than_the_ipv4_prefix():
    # 2002:c000:0207::/48 embeds 192.0.2.7 whole; /24 of it is 2002:c000:02xx::/40.
    assert truncate_ip("2002:c000:0207::1") == "2002:c000:200::"
    assert truncate_ip("2002:c000:0207::1", ipv4_prefix=32, ipv6_prefix=48) == "2002:c000:207::"


@pytest.mark.parametrize(
    ("ipv4_prefix", "ipv6_prefix", "name"),
    [(33, 48, "ipv4_prefix"), (-1, 48, "ipv4_prefix"), (24, 129, "ipv6_prefix"),
     (24, -8, "ipv6_prefix"), (True, 48, "ipv4_prefix"), (24, "48", "ipv6_prefix")],
)  # fmt: skip
def test_prefixes_out_of_range_are_refused_naming_the_parameter(ipv4_prefix, ipv6_prefix, name):
    with pytest.raises(ValueError, match=name):
        check_prefixes(ipv4_prefix, ipv6_prefix)


def test_prefixes_in_range_are_accepted():
    for ipv4_prefix, ipv6_prefix in [(0, 0), (24, 48), (32, 128)]:
        check_prefixes(ipv4_prefix, ipv6_prefix)


def test_truncation_with_a_bad_prefix_raises_instead_of_keeping_the_address():
    with pytest.raises(ValueError, match="ipv4_prefix"):
        truncate_ip("192.0.2.7", ipv4_prefix=40)


@pytest.mark.parametrize(
    "text", ["192.0.2.7", "2001:db8::1", "::ffff:192.0.2.7", "fe80::1%eth0", "010.1.1.1",
             "::ffff:010.001.1.1"],
)  # fmt: skip
def test_is_ip_accepts_every_address_form(text):
    assert is_ip(text)


@pytest.mark.parametrize("text", ["", "example.com", "300.1.1.1", "1.2.3", "10:30:00", None, 7])
def test_is_ip_rejects_what_is_not_an_address(text):
    assert not is_ip(text)


@given(ipv4, st.integers(0, 32))
def test_ipv4_is_truncated_to_its_network_under_any_prefix(address, prefix):
    assert truncate_ip(str(address), ipv4_prefix=prefix) == network(address, prefix)


@given(ipv4)
def test_ipv4_default_prefix_is_24(address):
    assert truncate_ip(str(address)) == network(address, 24)


@given(ipv6, st.integers(0, 128))
def test_ipv6_is_truncated_to_its_network_under_any_prefix(address, prefix):
    assert truncate_ip(str(address), ipv6_prefix=prefix) == network(address, prefix)


@given(ipv6)
def test_ipv6_default_prefix_is_48(address):
    assert truncate_ip(str(address)) == network(address, 48)
    assert truncate_ip(address.exploded) == network(address, 48)


@given(ipv4, st.integers(0, 32))
def test_ipv4_mapped_address_is_truncated_as_ipv4(address, prefix):
    mapped = f"::ffff:{address}"
    assert truncate_ip(mapped, ipv4_prefix=prefix) == network(address, prefix)
    assert truncate_ip(str(IPv6Address(mapped)), ipv4_prefix=prefix) == network(address, prefix)


@given(ipv6, zones)
def test_zone_id_is_removed_before_truncation(address, zone):
    result = truncate_ip(f"{address}%{zone}")
    assert result == network(address, 48)
    assert "%" not in result


@given(st.ip_addresses(), st.integers(0, 32), st.integers(0, 128))
def test_truncation_is_idempotent(address, ipv4_prefix, ipv6_prefix):
    once = truncate_ip(str(address), ipv4_prefix, ipv6_prefix)
    assert truncate_ip(once, ipv4_prefix, ipv6_prefix) == once


@given(st.ip_addresses(), st.integers(0, 31), st.integers(0, 127))
def test_output_is_never_the_full_input_address_when_the_prefix_is_shorter(
    address, ipv4_prefix, ipv6_prefix
):
    effective = getattr(address, "ipv4_mapped", None) or address
    prefix = ipv4_prefix if effective.version == 4 else ipv6_prefix
    if getattr(effective, "sixtofour", None):
        prefix = min(ipv6_prefix, 16 + ipv4_prefix)
    assume(has_host_bits(effective, prefix))
    result = truncate_ip(str(address), ipv4_prefix, ipv6_prefix)
    assert result not in {str(address), address.exploded, str(effective)}
    assert ip_address(result) != effective


@given(ipv4, st.integers(0, 3), st.integers(1, 2))
def test_ipv4_with_a_leading_zero_octet_gives_none(address, position, zeros):
    octets = str(address).split(".")
    octets[position] = "0" * zeros + octets[position]
    assert truncate_ip(".".join(octets)) is None
    assert is_ip(".".join(octets))
