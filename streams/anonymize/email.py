"""E-mail addresses: recognition, domain extraction and domain normalisation."""

from __future__ import annotations

import re

# RFC 5322 atext and dots, any Unicode letter or digit (EAI), and combining marks (NFD text).
LOCAL_CHARS = r"\w\u0300-\u036f.!#$%&'*+/=?^`{|}~\-"
DOMAIN_CHARS = r"\w\u0300-\u036f\-"
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
