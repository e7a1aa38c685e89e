"""URL cleaning: no userinfo, query or fragment beyond allowed parameters, no addresses left."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from urllib.parse import unquote, unquote_plus, urlsplit

from streams.anonymize.email import DOMAIN
from streams.anonymize.ip import is_ip
from streams.anonymize.scrub import find_personal_data

REDACTED = "[redacted]"
IP_HOST = "[ip]"
MAX_DECODINGS = 3  # double and triple percent-encoding still hide nothing
# "@domain" alone is redacted too: next to a neighbouring part it would form an address again.
_AT_DOMAIN = re.compile(rf"(?:@|%40){DOMAIN}")
# Hosts that resolvers read as IPv4: dotted decimal, octal, hex and plain numbers ("3232235777").
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?", re.I)


def clean_url(value: str, keep_params: Collection[str] = frozenset()) -> str | None:
    """``value`` less userinfo, fragment, unlisted parameters and addresses; None if unusable."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    out = f"{parts.scheme}:" if parts.scheme else ""
    if parts.netloc:
        out += "//" + _clean_host(host or "")
        if port is not None:
            out += f":{port}"
    out += "/".join(_clean(segment, unquote) for segment in parts.path.split("/"))
    query = "&".join(_kept_params(parts.query, keep_params))
    if query:
        out += "?" + query
    # Parts clean one by one can still form an address together ("dd:" + ":f"): drop the field.
    if _looks_personal(out):
        return None
    return out


def _clean_host(host: str) -> str:
    if is_ip(host) or _NUMERIC_HOST.fullmatch(host):
        return IP_HOST
    return _clean(host, unquote)


def _kept_params(query: str, keep_params: Collection[str]) -> Iterator[str]:
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        if unquote_plus(name) in keep_params:
            yield name + equals + _clean(value, unquote_plus)


def _clean(part: str, decode: Callable[[str], str]) -> str:
    return REDACTED if _has_personal_data(part, decode) else part


def _has_personal_data(part: str, decode: Callable[[str], str]) -> bool:
    for _ in range(MAX_DECODINGS + 1):
        if _looks_personal(part):
            return True
        decoded = decode(part)
        if decoded == part:
            return False
        part = decoded
    return True  # still encoded after several decodings: nothing to tell it is harmless


def _looks_personal(text: str) -> bool:
    return _AT_DOMAIN.search(text) is not None or bool(find_personal_data(text))
