"""Free-text redaction: every e-mail and IP address becomes a placeholder; over-redaction wins."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from streams.anonymize.email import DOMAIN, LOCAL_CHARS

EMAIL_PLACEHOLDER = "[email]"
IP_PLACEHOLDER = "[ip]"
KINDS = ("email", "ip")
MAX_RUN = 256  # longest local part or IPv6 run looked at before an "@" or a "::"

# E-mails are found from their "@" (or "%40"): a plain search, then the local part backwards.
_AT = re.compile(r"@|%40")
_DOMAIN = re.compile(DOMAIN)
_LOCAL_REVERSED = re.compile(rf"[{LOCAL_CHARS}]*+")
# IPv6: a run of hex digits, dots and colons (maybe URL-encoded as %3A) around "::" or six
# colons with 1-4 hex digits between them; every IPv6 address has one or the other, times and
# MAC addresses have neither.
_COLON = r"(?::|%3[Aa])"
_HINT = re.compile(rf"{_COLON}{_COLON}|{_COLON}(?:[0-9A-Fa-f]{{1,4}}{_COLON}){{5}}")
_RUN = re.compile(r"(?:[0-9A-Fa-f.:]|%3[Aa])*+(?:%[\w.~-]+)?")
_RUN_REVERSED = re.compile(r"(?:[Aa]3%|[0-9A-Fa-f.:])*+")  # "%3A" before its hex "A"
_HAS_HEX = re.compile(r"(?:[:.]|%3[Aa])*+[0-9A-Fa-f]")  # "::" alone names nobody
# Octets of any length ("0100.075.0100.0"), version strings too; the first digit comes first so
# that the engine skips ahead to digits, and digit runs are read from their start only.
_IPV4 = re.compile(r"[0-9](?<![0-9]{2})[0-9]*+(?:\.[0-9]++){3}")


def scrub_text(text: str) -> str:
    """``text`` with every e-mail address replaced by [email] and every IP address by [ip]."""
    return _scrub(text, set())


def find_personal_data(text: str) -> list[str]:
    """The kinds of personal data in ``text`` ("email", "ip"), never the values themselves;
    also when disguised by compatibility forms (a fullwidth at sign) or invisible characters."""
    found: set[str] = set()
    _scrub(visible_form(text), found)
    return [kind for kind in KINDS if kind in found]


def visible_form(text: str) -> str:
    """NFKC form (U+FF20, the fullwidth at sign, is "@"), without invisible characters."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    if text.isprintable():
        return text
    # ASCII controls stay: JSON escapes them, and callers escape them where they must.
    return "".join(c for c in text if c.isprintable() or c.isascii())


def _scrub(text: str, found: set[str]) -> str:
    # E-mails first: their local parts and domains may hold what looks like an IP address.
    if "@" in text or "%40" in text:
        text = _replace(text, _email_spans(text), EMAIL_PLACEHOLDER, "email", found)
    if ":" in text or "%3" in text:
        text = _replace(text, _ipv6_spans(text), IP_PLACEHOLDER, "ip", found)
    if "." in text:
        text, count = _IPV4.subn(IP_PLACEHOLDER, text)
        if count:
            found.add("ip")
    return text


def _email_spans(text: str) -> Iterator[tuple[int, int]]:
    for at in _AT.finditer(text):
        domain = _DOMAIN.match(text, at.end())
        if domain is None:
            continue
        start = at.start()
        local = _LOCAL_REVERSED.match(text[max(0, start - MAX_RUN) : start][::-1]).end()
        if local:
            yield start - local, domain.end()


def _ipv6_spans(text: str) -> Iterator[tuple[int, int]]:
    run_end = 0
    for hint in _HINT.finditer(text):
        middle = hint.start()
        if middle < run_end:
            continue  # a further "::" of a run already redacted
        start = middle - _RUN_REVERSED.match(text[max(0, middle - MAX_RUN) : middle][::-1]).end()
        run_end = _RUN.match(text, middle).end()
        run = text[start:run_end]
        if _HAS_HEX.match(run):
            # A full stop after an address ends a sentence: it stays.
            yield start, run_end if "%" in run else start + len(run.rstrip("."))


def _replace(
    text: str, spans: Iterator[tuple[int, int]], placeholder: str, kind: str, found: set[str]
) -> str:
    parts: list[str] = []
    done = 0
    for start, end in spans:
        if end <= done:
            continue
        parts.append(text[done : max(start, done)])
        parts.append(placeholder)
        done = end
    if not parts:
        return text
    found.add(kind)
    parts.append(text[done:])
    return "".join(parts)
