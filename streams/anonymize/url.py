"""URL cleaning: no userinfo, fragment or unlisted parameter, no address, no identifier.

``UrlCleaner.clean`` keeps the scheme, the host (an IP host becomes [ip]), the path and the
query parameters the policy lists. A part holding an e-mail or IP address, even a partial one
(``jane.roe%40corp``), becomes [redacted]. A path segment or kept value that looks like an
identifier (the policy's ``url.id_segments``) becomes the placeholder, so a URL turns into
its route: ``/accounts/acct_20031/billing`` is ``/accounts/:id/billing``. The event's own
identifiers (its user, account and session ids) become the placeholder wherever they stand
in a path segment or a kept parameter, whatever they look like.

What depends on the URL alone is cached per URL; what depends on the event is a substring
test on the cached result, and more work only when it finds one of the event's ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, unquote_plus, urlsplit

from usage_pipeline.streams.anonymize.email import AT_SIGN, DOMAIN
from usage_pipeline.streams.anonymize.ip import is_ip
from usage_pipeline.streams.anonymize.scrub import find_personal_data

REDACTED = "[redacted]"
IP_HOST = "[ip]"
ID_PLACEHOLDER = ":id"
MAX_DECODINGS = 3  # double and triple percent-encoding still hide nothing
# "@domain" alone is redacted too: next to a neighbouring part it would form an address again.
_AT_DOMAIN = re.compile(rf"(?:{AT_SIGN}){DOMAIN}", re.IGNORECASE)
# Hosts that resolvers read as IPv4: dotted decimal, octal, hex and plain numbers ("3232235777").
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?", re.I)
# A file extension stays after the placeholder: /invoices/:id.pdf is a route of its own.
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}\Z")


def own_tokens(ids: Iterable[str | None]) -> tuple[str, ...]:
    """An event's own ids as ``UrlCleaner.clean`` looks for them: lower-cased, empty ones and
    None left out (made once per event, for all its URLs)."""
    tokens = []
    for own in ids:  # a loop, not a generator: it runs for every event
        if own:
            tokens.append(own.lower())
    return tuple(tokens)


def id_segment_problem(pattern: object) -> str | None:
    """Why ``pattern`` cannot be an ``id_segments`` rule, or None when it can."""
    if not isinstance(pattern, str) or not pattern:
        return "must be a regular expression (a non-empty string)"
    try:
        # Rules are joined into one alternation, so each must stand inside (?:...).
        compiled = re.compile(f"(?:{pattern})")
    except re.error as exc:
        return f"is not a valid regular expression: {exc}"
    if compiled.groups:
        return "has a capturing group: group with (?:...) instead"
    if compiled.fullmatch(""):
        return "matches an empty segment: every '//' and trailing '/' would become an id"
    return None


@dataclass(frozen=True, slots=True)
class _Cleaned:
    """A URL cleaned of everything that does not depend on the event."""

    head: str  # scheme, host and port
    segments: tuple[str, ...]
    params: tuple[tuple[str, str], ...]  # (name with its "=", value) of each kept parameter
    text: str
    probe: str  # ``text`` and its decodings, lower-cased: where the event's ids are looked for


class UrlCleaner:
    """Cleans URLs under one policy's parameters: kept query parameters, identifier segments."""

    def __init__(
        self,
        keep_params: Collection[str] = frozenset(),
        id_segments: Iterable[str] = (),
        placeholder: str = ID_PLACEHOLDER,
        cache_size: int = 65536,
    ) -> None:
        self.keep_params = frozenset(keep_params)
        self.placeholder = placeholder
        patterns = [f"(?:{pattern})" for pattern in id_segments]
        # One alternation, compiled once: a segment is an id if any pattern matches all of it.
        self._id_segment = re.compile("|".join(patterns)) if patterns else None
        self._cleaned = lru_cache(maxsize=cache_size)(self._clean)

    def clean(self, value: str, own: tuple[str, ...] = ()) -> str | None:
        """``value`` less userinfo, fragment, unlisted parameters, addresses and identifiers,
        the event's own ids included (``own``, made by ``own_tokens``); None if unusable."""
        if not isinstance(value, str):
            return None
        cleaned = self._cleaned(value)
        if cleaned is None:
            return None
        probe = cleaned.probe
        for token in own:
            if token in probe:
                return self._without(cleaned, own)
        return cleaned.text

    def _clean(self, value: str) -> _Cleaned | None:
        try:
            parts = urlsplit(value.strip())
            host = parts.hostname
            port = parts.port
        except ValueError:
            return None
        head = f"{parts.scheme}:" if parts.scheme else ""
        if parts.netloc:
            head += "//" + _clean_host(host or "")
            if port is not None:
                head += f":{port}"
        segments = tuple(self._part(segment, unquote) for segment in parts.path.split("/"))
        params = tuple(self._kept_params(parts.query))
        return _checked(head, segments, params)

    def _kept_params(self, query: str) -> Iterator[tuple[str, str]]:
        for pair in query.split("&"):
            name, equals, value = pair.partition("=")
            if unquote_plus(name) in self.keep_params:
                yield name + equals, self._part(value, unquote_plus)

    def _part(self, part: str, decode: Callable[[str], str]) -> str:
        """A path segment or kept parameter value: [redacted], the placeholder, or itself."""
        if _has_personal_data(part, decode):
            return REDACTED
        if self._id_segment is None or not part:
            return part
        decoded = decode(part)
        extension = _EXTENSION.search(decoded)
        stem = decoded[: extension.start()] if extension else decoded
        if stem and self._id_segment.fullmatch(stem):
            return self.placeholder + (extension.group() if extension else "")
        return part

    def _without(self, cleaned: _Cleaned, own: tuple[str, ...]) -> str | None:
        """``cleaned`` with every segment and kept value that holds one of ``own`` replaced."""
        placeholder = self.placeholder
        segments = tuple(placeholder if _holds(s, own, unquote) else s for s in cleaned.segments)
        params = tuple(
            (name, placeholder if _holds(value, own, unquote_plus) else value)
            for name, value in cleaned.params
        )
        result = _checked(cleaned.head, segments, params)
        return None if result is None else result.text


def _checked(
    head: str, segments: tuple[str, ...], params: tuple[tuple[str, str], ...]
) -> _Cleaned | None:
    """The cleaned URL of these parts, or None when together they still hold an address."""
    text = head + "/".join(segments)
    if params:
        text += "?" + "&".join(name + value for name, value in params)
    # Parts clean one by one can still form an address together ("dd:" + ":f"): drop the field.
    if _looks_personal(text):
        return None
    levels = dict.fromkeys([*_decodings(text, unquote), *_decodings(text, unquote_plus)])
    return _Cleaned(head, segments, params, text, "\n".join(levels).lower())


def _clean_host(host: str) -> str:
    if is_ip(host) or _NUMERIC_HOST.fullmatch(host):
        return IP_HOST
    return REDACTED if _has_personal_data(host, unquote) else host


def _holds(part: str, tokens: tuple[str, ...], decode: Callable[[str], str]) -> bool:
    """True if ``part``, lower-cased, as it is or at any step of its decoding, holds one of
    ``tokens`` between non-alphanumeric characters (an account id "42" is not in "v42")."""
    return any(
        _holds_token(level.lower(), token) for level in _decodings(part, decode) for token in tokens
    )


def _holds_token(text: str, token: str) -> bool:
    start = text.find(token)
    while start >= 0:
        end = start + len(token)
        if (start == 0 or not text[start - 1].isalnum()) and (
            end == len(text) or not text[end].isalnum()
        ):
            return True
        start = text.find(token, start + 1)
    return False


def _decodings(part: str, decode: Callable[[str], str]) -> Iterator[str]:
    """``part`` and each decoding of it that changes it (%2540 -> %40 -> @), at most
    MAX_DECODINGS of them."""
    yield part
    for _ in range(MAX_DECODINGS):
        decoded = decode(part)
        if decoded == part:
            return
        yield decoded
        part = decoded


def _has_personal_data(part: str, decode: Callable[[str], str]) -> bool:
    level = part
    for level in _decodings(part, decode):
        if _looks_personal(level):
            return True
    # Still encoded after several decodings: nothing tells that it is harmless.
    return decode(level) != level


def _looks_personal(text: str) -> bool:
    return _AT_DOMAIN.search(text) is not None or bool(find_personal_data(text))
