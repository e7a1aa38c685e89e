"""Free-text redaction: every e-mail and IP address becomes a placeholder; over-redaction wins.

An e-mail address need not be complete to be redacted: its local part followed by any
spelling of "@" (``email.AT_SIGN``), with or without a domain, is one; so is a local part
followed, at the very end of the text, by the beginning of such a spelling (``jane.roe%4``),
since a text that was cut there held an address. The local part identifies a person as well
as the whole address does.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from usage_pipeline.streams.anonymize.email import AT_SIGN, AT_SPELLINGS, DOMAIN_CHARS, LOCAL_CHARS

EMAIL_PLACEHOLDER = "[email]"
IP_PLACEHOLDER = "[ip]"
KINDS = ("email", "ip")
MAX_RUN = 256  # longest local part or IPv6 run looked at before an "@" or a "::"

# E-mails are found from their "@" (any spelling), then the local part backwards; the domain,
# dotted or not, goes too when there is one. Every spelling starts with one of _AT_START's
# characters: scanning for those first is several times faster than trying the alternation
# at every position.
_AT_START = re.compile(r"[@\uff20\ufe6b%\\&]")
_AT = re.compile(AT_SIGN, re.IGNORECASE)
_DOMAIN_AFTER = re.compile(rf"(?:[{DOMAIN_CHARS}]++(?:\.[{DOMAIN_CHARS}]++)*+)?")
_LOCAL_REVERSED = re.compile(rf"[{LOCAL_CHARS}]*+")
_LETTER = re.compile(r"[^\W\d_]")
# The beginnings of the spellings of "@", longest first, at the end of a text.
_CUT_AT = sorted({s[:n] for s in AT_SPELLINGS for n in range(1, len(s))}, key=len, reverse=True)
_TAIL = re.compile(rf"(?:{'|'.join(map(re.escape, _CUT_AT))})\Z", re.IGNORECASE)
_TAIL_CHARS = max(map(len, _CUT_AT))
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
    """``text`` in its visible form with every e-mail address replaced by [email] and every IP
    address by [ip]: nothing ``find_personal_data`` would find is left."""
    return _scrub(visible_form(text), set())


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


def email_spans(text: str) -> Iterator[tuple[int, int]]:
    """Start and end of each e-mail address in ``text``, complete or not, in order."""
    done = 0
    for start in _AT_START.finditer(text):
        at = _AT.match(text, start.start()) if start.start() >= done else None
        if at is None:
            continue
        done = at.end()
        local = _local_length(text, at.start())
        if local:
            yield at.start() - local, _DOMAIN_AFTER.match(text, done).end()
    tail = _TAIL.search(text, max(0, len(text) - _TAIL_CHARS))
    if tail is not None:
        # A letter is needed here: "100%" ends many texts that held no address.
        start = tail.start() - _local_length(text, tail.start())
        if _LETTER.search(text, start, tail.start()):
            yield start, len(text)


def _local_length(text: str, at: int) -> int:
    return _LOCAL_REVERSED.match(text[max(0, at - MAX_RUN) : at][::-1]).end()


def _scrub(text: str, found: set[str]) -> str:
    # E-mails first: their local parts and domains may hold what looks like an IP address.
    if _AT_START.search(text):
        text = _replace(text, email_spans(text), EMAIL_PLACEHOLDER, "email", found)
    if ":" in text or "%3" in text:
        text = _replace(text, _ipv6_spans(text), IP_PLACEHOLDER, "ip", found)
    if "." in text:
        text, count = _IPV4.subn(IP_PLACEHOLDER, text)
        if count:
            found.add("ip")
    return text


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
