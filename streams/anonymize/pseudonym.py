"""Keyed pseudonyms: HMAC-SHA-256 of a normalised value, namespaced by kind, tagged by key id."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache

from usage_pipeline.streams.anonymize.email import normalize_domain

MIN_KEY_BYTES = 32
HEX_CHARS = 32  # 128 bits: collisions stay negligible far beyond any subject count.
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
SEPARATOR = "\x00"


def key_id_for(key: bytes) -> str:
    """The default key id of ``key``: short, stable, and useless for recovering the key."""
    return "k" + hashlib.sha256(b"usage-pipeline key id" + bytes(key)).hexdigest()[:8]


def is_email_kind(kind: str) -> bool:
    """True for "email" and namespaced e-mail kinds such as "analytics/email"."""
    return kind.rpartition("/")[2] == "email"


def normalize(value: str, kind: str) -> str:
    """``value`` as compared for ``kind``: trimmed; e-mails also lower-cased, IDNA and NFC."""
    value = value.strip()
    if not is_email_kind(kind):
        return value
    value = unicodedata.normalize("NFC", value.lower())
    local, at, domain = value.rpartition("@")
    if not at:
        return value
    return f"{local}@{normalize_domain(domain)}"


class Pseudonymizer:
    """Stable pseudonyms under one secret key; the key never appears in any output or repr.

    ``previous`` holds the pseudonymizers of keys this one replaced: they never make a
    pseudonym of an output, only the old side of a link (``previous_pseudonyms``).
    """

    __slots__ = ("_previous", "_pseudonym", "key_id")

    def __init__(
        self,
        key: bytes,
        key_id: str | None = None,
        *,
        previous: Sequence[Pseudonymizer] = (),
        cache_size: int = 8192,
    ) -> None:
        if not isinstance(key, bytes | bytearray | memoryview):
            raise TypeError("pseudonymization key must be bytes")
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"pseudonymization key must be at least {MIN_KEY_BYTES} bytes")
        key = bytes(key)
        if key_id is None:
            key_id = key_id_for(key)
        # The rejected value is not echoed: a key passed here by mistake must not reach a log.
        if not isinstance(key_id, str) or KEY_ID_PATTERN.fullmatch(key_id) is None:
            raise ValueError("key_id must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'")
        ids = [key_id, *(p.key_id for p in previous)]
        if len(set(ids)) != len(ids):
            raise ValueError("every key needs its own key id: pseudonyms must tell keys apart")
        self.key_id = key_id
        self._pseudonym = _make_pseudonym(key, key_id, cache_size)
        self._previous = tuple(previous)

    def pseudonymize(self, value: str, kind: str) -> str:
        """``key_id:hex`` for ``value`` in namespace ``kind``: equal inputs, equal outputs."""
        if not isinstance(value, str) or not isinstance(kind, str):
            raise TypeError("value and kind must be str")
        return self._pseudonym(value, kind)

    @property
    def previous_key_ids(self) -> tuple[str, ...]:
        """Key ids of the previous keys, in the configured order."""
        return tuple(p.key_id for p in self._previous)

    def previous_pseudonyms(self, value: str, kind: str) -> tuple[str, ...]:
        """What ``value`` was under each previous key, for link records only."""
        return tuple(p.pseudonymize(value, kind) for p in self._previous)

    def __repr__(self) -> str:
        previous = f", previous={self.previous_key_ids!r}" if self._previous else ""
        return f"Pseudonymizer(key_id={self.key_id!r}{previous})"


def _hmac_sha256(key: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA-256 under ``key`` (RFC 2104), with the key's two padded blocks hashed once.

    ``hmac.digest`` sets the key up again on every call, and with OpenSSL 3 also looks the
    digest up by name: 1.5 us a call here, against 0.6 us for copying the two states kept.
    """
    if len(key) > _BLOCK_BYTES:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK_BYTES, b"\0")
    inner = hashlib.sha256(key.translate(_INNER_PAD))
    outer = hashlib.sha256(key.translate(_OUTER_PAD))

    def digest(message: bytes) -> bytes:
        inner_hash = inner.copy()
        inner_hash.update(message)
        outer_hash = outer.copy()
        outer_hash.update(inner_hash.digest())
        return outer_hash.digest()

    return digest


_BLOCK_BYTES = 64  # SHA-256's block
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))  # ipad and opad, as byte tables
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


def _make_pseudonym(key: bytes, key_id: str, cache_size: int) -> Callable[[str, str], str]:
    prefix = key_id + ":"
    digest = _hmac_sha256(key)

    # Subjects repeat across events; the cache is per key, so keys never share entries. The
    # stream's Anonymizer keeps its own per kind in front of it (this one met 264 hits in
    # 98,342 calls behind them, 300k events): it serves key links and the subject commands.
    @lru_cache(maxsize=cache_size)
    def pseudonym(value: str, kind: str) -> str:
        if not kind or SEPARATOR in kind:
            raise ValueError("kind must be non-empty and free of NUL characters")
        message = (kind + SEPARATOR + normalize(value, kind)).encode("utf-8", "surrogatepass")
        return prefix + digest(message).hex()[:HEX_CHARS]

    return pseudonym
