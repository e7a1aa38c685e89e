"""IP addresses: truncation to a network prefix, prefix checks and a tolerant address test.

The forms follow the contract (``$defs/ip_address`` in ``schemas/json/envelope.v1.json``):
an IPv4-mapped IPv6 address (``::ffff:192.0.2.7``) is truncated as the IPv4 address it
carries; a zone id (``fe80::1%eth0``) is accepted and dropped, since it names an interface of
the host that logged the address, not a network; an IPv4 octet with a leading zero
(``010.1.1.1``, octal or decimal?) is refused, so the event is dead-lettered by the contract
and ``truncate_ip`` gives None rather than guess.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address

IPV4_BITS = 32
IPV6_BITS = 128
# 6to4 (2002::/16) carries the site's IPv4 address in the next 32 bits.
SIXTOFOUR_BITS = 16


def check_prefixes(ipv4_prefix: int, ipv6_prefix: int) -> None:
    """Raise ValueError, naming the parameter, unless both prefix lengths are in range."""
    checks = (("ipv4_prefix", ipv4_prefix, IPV4_BITS), ("ipv6_prefix", ipv6_prefix, IPV6_BITS))
    for name, prefix, bits in checks:
        if isinstance(prefix, bool) or not isinstance(prefix, int) or not 0 <= prefix <= bits:
            raise ValueError(f"{name} must be an integer from 0 to {bits}, got {prefix!r}")


def truncate_ip(value: str, ipv4_prefix: int = 24, ipv6_prefix: int = 48) -> str | None:
    """The network address of ``value`` under the prefix of its family, or None if unparsable."""
    if not isinstance(value, str):
        return None
    return _truncate(value, ipv4_prefix, ipv6_prefix)


@lru_cache(maxsize=65536)
def _truncate(value: str, ipv4_prefix: int, ipv6_prefix: int) -> str | None:
    # Checked here, on cache misses only: a bad prefix is a bug, never a reason to keep an address.
    check_prefixes(ipv4_prefix, ipv6_prefix)
    address = _parse(value)
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None:
            return str(IPv6Address(_mask(address, min(ipv6_prefix, SIXTOFOUR_BITS + ipv4_prefix))))
        else:
            return str(IPv6Address(_mask(address, ipv6_prefix)))
    if address is None:
        return None
    network = _mask(address, ipv4_prefix)
    # Formatted by hand: str(IPv4Address) costs as much as the rest of the truncation.
    return f"{network >> 24}.{network >> 16 & 255}.{network >> 8 & 255}.{network & 255}"


def _mask(address: IPv4Address | IPv6Address, prefix: int) -> int:
    host_bits = address.max_prefixlen - prefix
    return int(address) >> host_bits << host_bits


def _parse(value: str) -> IPv4Address | IPv6Address | None:
    text = value.strip()
    try:
        # The family is known from the text: ip_address() would try IPv4 first, then IPv6.
        if ":" in text:
            return IPv6Address(text.partition("%")[0])
        return IPv4Address(text)
    except ValueError:
        return None


def is_ip(text: str) -> bool:
    """True if ``text`` is an IPv4 or IPv6 address, zone ids and leading-zero octets included."""
    if not isinstance(text, str):
        return False
    return _is_ip(text)


@lru_cache(maxsize=4096)
def _is_ip(text: str) -> bool:
    if _parse(text) is not None:
        return True
    # ipaddress refuses leading zeros (octal or decimal?), yet such text still names a host.
    head, colon, tail = text.strip().partition("%")[0].rpartition(":")
    octets = tail.split(".")
    if len(octets) != 4 or not all(o.isascii() and o.isdigit() for o in octets):
        return False
    return _parse(head + colon + ".".join(str(int(o)) for o in octets)) is not None
