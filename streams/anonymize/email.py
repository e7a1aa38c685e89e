"""E-mail addresses: recognition, domain extraction and domain normalisation."""

from __future__ import annotations

import re
import unicodedata

# Combining marks start at U+0300 and, past the first two planes, only the variation
# selectors supplement holds any: scanning just these keeps the import fast (~50 ms).
COMBINING_FROM = 0x0300
PLANES_WITH_MARKS_END = 0x20000
VARIATION_SELECTORS_SUPPLEMENT = (0xE0100, 0xE01EF)


def _mark_ranges() -> str:
    """Every combining mark (Mn, Mc, Me) as character-class ranges: ``\\w`` leaves them out,
    yet Indic, Thai or Arabic addresses (RFC 6531) and any NFD text are full of them."""
    ranges: list[tuple[int, int]] = []
    for code in range(COMBINING_FROM, PLANES_WITH_MARKS_END):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    ranges.append(VARIATION_SELECTORS_SUPPLEMENT)
    return "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


MARKS = _mark_ranges()
# RFC 5322 atext and dots, any Unicode letter or digit (EAI), and combining marks.
LOCAL_CHARS = rf"\w{MARKS}.!#$%&'*+/=?^`{{|}}~\-"
DOMAIN_CHARS = rf"\w{MARKS}\-"
DOMAIN = rf"[{DOMAIN_CHARS}]+(?:\.[{DOMAIN_CHARS}]+)+"
_ADDRESS = re.compile(rf"[{LOCAL_CHARS}]+@{DOMAIN}")


def looks_like_email(text: str) -> bool:
    """True if ``text``, trimmed, is one e-mail address (local@domain.tld)."""
    return isinstance(text, str) and _ADDRESS.fullmatch(text.strip()) is not None


def normalize_domain(domain: str) -> str:
    """The IDNA (punycode) form of ``domain``, lower-cased; just lower-cased if IDNA refuses it."""
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return domain.lower()


def email_domain(value: str) -> str | None:
    """The normalised domain of the e-mail address ``value``, or None if it is not one."""
    if not looks_like_email(value):
        return None
    return normalize_domain(value.strip().rpartition("@")[2])
