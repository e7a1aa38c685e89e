"""Bearer tokens per service, read from a file and compared in constant time.

Tokens are kept as SHA-256 digests only, and a presented token is compared with every
digest (``hmac.compare_digest``), so neither the time taken nor any log line tells which
token, or how much of one, was right. Errors about the file name a line number, never its text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

SERVICE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MIN_TOKEN_CHARS = 16
BEARER = "bearer "


class TokenFileError(ValueError):
    """The tokens file is malformed; names the line, never the token."""


class TokenBook:
    """Which service a bearer token belongs to."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self._digests = [(_digest(token), service) for token, service in tokens.items()]

    @classmethod
    def read(cls, path: Path | None) -> TokenBook:
        """Load ``<service> <token>`` lines (blank lines and ``#`` comments skipped)."""
        if path is None:
            return cls({})
        return cls(parse_tokens(path.read_text(encoding="utf-8")))

    def __len__(self) -> int:
        return len(self._digests)

    def service(self, authorization: str | None) -> str | None:
        """The service whose token the ``Authorization: Bearer`` header carries, else None."""
        if not authorization or authorization[: len(BEARER)].lower() != BEARER:
            return None
        presented = _digest(authorization[len(BEARER) :].strip())
        found = None
        for digest, service in self._digests:  # no early exit: every digest is compared
            if hmac.compare_digest(presented, digest):
                found = service
        return found


def parse_tokens(text: str) -> dict[str, str]:
    """Token -> service from the file's text; raises TokenFileError naming the line."""
    tokens: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise TokenFileError(f"tokens file line {number}: expected '<service> <token>'")
        service, token = parts
        if not SERVICE.fullmatch(service):
            raise TokenFileError(
                f"tokens file line {number}: the service name must be 1 to 64 characters of "
                "a-z 0-9 . _ -"
            )
        if len(token) < MIN_TOKEN_CHARS:
            raise TokenFileError(
                f"tokens file line {number}: the token is shorter than {MIN_TOKEN_CHARS} characters"
            )
        if token in tokens:
            raise TokenFileError(f"tokens file line {number}: this token is already used")
        tokens[token] = service
    return tokens


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
