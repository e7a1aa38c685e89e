"""What counts as a leak in one piece of text: e-mail addresses, full IP addresses, canaries.

E-mail addresses, partial ones too (``jane.roe@hidd``, ``jane.roe%4`` at the end of a text),
are found by the stream's own redactor (`streams.anonymize.scrub`), in the text's visible
form (NFKC, invisible characters dropped). IP addresses are checked precisely here, because
the redactor also flags what the policy makes on purpose: truncated networks (``x.y.z.0``,
IPv6 ``/48``) are not full addresses, and neither are loopback, unspecified, multicast or
broadcast addresses (infrastructure, never a person). Every other IPv4, IPv6 or IPv4-mapped
address is a full address.

Nothing here returns or keeps a value: a hit carries its kind and a reference, an HMAC of
the value under a key that lives only as long as the detector, so two hits of one value
share a reference within a scan and nothing can be looked up afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from urllib.parse import unquote

from usage_pipeline.streams.anonymize.email import AT_HINT
from usage_pipeline.streams.anonymize.scrub import email_spans, visible_form

EMAIL = "email"
IPV4 = "ipv4"
IPV6 = "ipv6"
IPV4_MAPPED = "ipv4-mapped"
CANARY = "canary"
KINDS = (EMAIL, IPV4, IPV6, IPV4_MAPPED, CANARY)

# Anything that might hold a hit, in a syntax both Python and RE2 (pyarrow.compute) accept:
# a spelling of "@" or its start, a URL-encoded colon, four dotted numbers, two colons around
# hex, or a fullwidth or small form (NFKC turns "\uff20" into "@" and "\uff11" into "1").
CANDIDATE = (
    rf"{AT_HINT}|%3[Aa]|[0-9]\.[0-9]+\.[0-9]+\.[0-9]|:[0-9A-Fa-f.]*:"
    "|[\uff01-\uff5e\ufe50-\ufe6b]"
)
_CANDIDATE = re.compile(CANDIDATE)
_IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,4}\.){3}[0-9]{1,4}(?![0-9]|\.[0-9])")
_IPV6_RUN = re.compile(
    r"(?<![0-9A-Za-z.])[0-9A-Fa-f:.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:%[0-9A-Za-z_.~-]+)?"
)
_HOST_BITS_48 = (1 << 80) - 1


@dataclass(frozen=True)
class Hit:
    """One leak in a text: its kind and a reference that is not the value."""

    kind: str
    ref: str


@dataclass
class Detector:
    """Finds leaks in texts; counts what it saw but did not report (truncated networks...)."""

    canaries: tuple[str, ...] = ()
    not_full: Counter[str] = field(default_factory=Counter)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def __post_init__(self) -> None:
        self.canaries = tuple(dict.fromkeys(c for c in self.canaries if c))
        self._lowered = tuple(c.lower() for c in self.canaries)

    def might_hit(self, text: str) -> bool:
        """A cheap test: False means ``detect`` would find nothing."""
        if _CANDIDATE.search(text):
            return True
        lowered = text.lower()
        return any(c in lowered for c in self._lowered)

    def detect(self, text: str) -> list[Hit]:
        """Every leak in ``text``, each distinct value once, in a stable order."""
        hits: dict[Hit, None] = {}
        form = visible_form(text)  # fullwidth "@" and digits read as ASCII, invisibles gone
        for start, end in email_spans(form):
            hits[Hit(EMAIL, self.ref(form[start:end].lower()))] = None
        texts = [form]
        if "%3" in form:
            texts.append(unquote(form))
        for each in texts:
            self._ipv4(self._ipv6(each, hits), hits)  # IPv4-mapped addresses once, as IPv6
        lowered = text.lower()
        for number, canary in enumerate(self._lowered, 1):
            if canary in lowered:
                hits[Hit(CANARY, f"canary #{number}")] = None
        return list(hits)

    def ref(self, value: str) -> str:
        """A short reference of a value, meaningless outside this detector."""
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:10]

    def _ipv4(self, text: str, hits: dict[Hit, None]) -> None:
        for match in _IPV4.finditer(text):
            octets = [int(o) for o in match.group().split(".")]
            if max(octets) > 255:
                continue
            kind = self._classify_v4(IPv4Address(".".join(map(str, octets))), IPV4)
            if kind:
                hits[Hit(kind, self.ref(match.group()))] = None

    def _ipv6(self, text: str, hits: dict[Hit, None]) -> str:
        """Finds IPv6 addresses; returns ``text`` with each blanked out."""
        parts, done = [], 0
        for match in _IPV6_RUN.finditer(text):
            run = match.group().partition("%")[0].rstrip(".")
            try:
                address = IPv6Address(run)
            except ValueError:
                continue
            parts += [text[done : match.start()], " " * (match.end() - match.start())]
            done = match.end()
            mapped = address.ipv4_mapped
            if mapped is not None:
                kind = self._classify_v4(mapped, IPV4_MAPPED)
            elif address.is_loopback or address.is_unspecified or address.is_multicast:
                self.not_full["IPv6 loopback, unspecified or multicast"] += 1
                kind = None
            elif int(address) & _HOST_BITS_48 == 0:
                self.not_full["IPv6 /48 network"] += 1
                kind = None
            else:
                kind = IPV6
            if kind:
                hits[Hit(kind, self.ref(str(address)))] = None
        return "".join([*parts, text[done:]])

    def _classify_v4(self, address: IPv4Address, kind: str) -> str | None:
        if address.is_loopback or address.is_unspecified or address.is_multicast:
            self.not_full["IPv4 loopback, unspecified or multicast"] += 1
            return None
        if int(address) == 0xFFFFFFFF:
            self.not_full["IPv4 broadcast"] += 1
            return None
        if int(address) & 0xFF == 0:
            self.not_full["IPv4 network x.y.z.0"] += 1
            return None
        return kind


def read_canaries(values: Iterable[str], files: Iterable[str]) -> tuple[str, ...]:
    """Canaries from the command line and from files (one a line; blank lines and # skipped)."""
    found = [v.strip() for v in values if v.strip()]
    for name in files:
        with Path(name).open(encoding="utf-8") as lines:
            found += [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]
    return tuple(dict.fromkeys(found))
