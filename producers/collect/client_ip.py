"""The client's IP address: the connection's peer, or X-Forwarded-For behind trusted proxies.

A proxy appends the address it received the request from, so the right end of the header is
what our own proxies wrote and the left end is whatever the client claimed. Starting from the
peer, we walk the header right to left while the hop is one of our trusted proxies; the first
address that is not is the client. Anything else would let a client plant any address.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Parse ``collect.trusted_proxies`` entries (addresses or CIDR networks)."""
    return tuple(ip_network(entry, strict=False) for entry in entries)


def client_ip(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address as text; ``forwarded_for`` holds every X-Forwarded-For value."""
    current = _parse(peer)
    if current is None:
        return "0.0.0.0"  # no peer (a Unix socket): an address that names nobody
    if not trusted or not forwarded_for:
        return str(current)
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        if not _is_trusted(current, trusted):
            break
        parsed = _parse(hop)
        if parsed is None:  # a malformed hop: believe nothing further left
            break
        current = parsed
    return str(current)


def _is_trusted(address: Address, trusted: Sequence[Network]) -> bool:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in trusted)


# Parsing with ipaddress is a few dozen Python calls; the same peers and proxies come back.
@functools.lru_cache(maxsize=4096)
def _parse(text: str | None) -> Address | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.partition(":")[0]
    try:
        return ip_address(text)
    except ValueError:
        return None
