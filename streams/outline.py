"""The outline of a payload that does not parse: its structure, never its content.

A dead letter shows an operator why an event failed; it must not show what the event held.
Redacting the raw text of a payload that is not JSON cannot be trusted: a payload cut short
inside an address ends in a fragment (``"email": "jane.r``) that no redactor can tell from
any other word. So such a payload is described instead of quoted, and the description can
name nobody: its length; how far the JSON grammar could be followed and where it stopped; the
field names the event contracts define (any other key is shown as ``?``); the kind of each
value (string, number, boolean, null, object, array); and the shape of the few characters
where parsing stopped (letters become x or X, digits #, characters that could spell an
address ? ), which is often the whole explanation (``XxX`` for NaN, ``'xxxxxx'`` for single
quotes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum, auto
from functools import cache

import orjson

from usage_pipeline.schemas.contracts import load_contracts

INFINITY = float("inf")
# Events have a hundred tokens or so; a bound keeps a flood of odd payloads cheap (about 2 us
# a token) and the description short.
MAX_TOKENS = 2_048
MAX_OUTLINE_CHARS = 3_072
MAX_DEPTH = 16
MAX_ITEMS = 5  # array items shown; the rest are counted
SHAPE_CHARS = 24
OTHER_KEY = "?"
UNEXPECTED = "unexpected"
CUT_IN_STRING = "the payload ends inside a string"
# JSON tokens on bytes: a string, the opening quote of a string that runs to the end, a
# number, a literal, or a structural character (whitespace before any of them skipped).
_TOKEN = re.compile(
    rb'[ \t\r\n]*+(?:("(?:[^"\\]|\\.)*+")|(")|(-?(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?'
    rb"(?:[eE][+-]?[0-9]++)?)|(true|false|null)|([{}\[\]:,]))",
    re.DOTALL,
)
_WHITESPACE = re.compile(rb"[ \t\r\n]*+")
# Kept as they are in a shape: punctuation that tells formats apart and can spell no address.
_SHAPE_KEPT = frozenset("{}[]:,\"'.-_+()<>=/;!?*~ ")


class _Expect(Enum):
    VALUE = auto()
    VALUE_OR_CLOSE = auto()  # after "["
    KEY = auto()  # after "," in an object
    KEY_OR_CLOSE = auto()  # after "{"
    COLON = auto()
    COMMA_OR_CLOSE = auto()
    NOTHING = auto()  # the top-level value is complete


@dataclass
class _Container:
    bracket: bytes  # b"{" or b"["
    shown: bool  # whether its contents are written out
    items: int = 0


@dataclass
class _Outliner:
    names: frozenset[str]
    parts: list[str] = field(default_factory=list)
    stack: list[_Container] = field(default_factory=list)
    expect: _Expect = _Expect.VALUE
    length: int = 0
    truncated: bool = False

    def write(self, text: str, *, always: bool = False) -> None:
        if self.stack and not always and not self._showing():
            return
        if self.length + len(text) > MAX_OUTLINE_CHARS:
            self.truncated = True
            return
        self.parts.append(text)
        self.length += len(text)

    def _showing(self) -> bool:
        top = self.stack[-1]
        return top.shown and (top.bracket == b"{" or top.items <= MAX_ITEMS)

    def feed(self, kind: int, token: bytes) -> str | None:
        """Take one token (its group number in _TOKEN); None, or why it cannot come here."""
        expect = self.expect
        if kind == 1 and expect in (_Expect.KEY, _Expect.KEY_OR_CLOSE):
            self.write(self._name(token) + ": ")
            self.expect = _Expect.COLON
        elif kind == 2:
            value = expect in (_Expect.VALUE, _Expect.VALUE_OR_CLOSE)
            if not value and expect not in (_Expect.KEY, _Expect.KEY_OR_CLOSE):
                return UNEXPECTED
            self.write("string (cut)" if value else "key (cut)")
            return CUT_IN_STRING
        elif kind in (1, 3, 4) and expect in (_Expect.VALUE, _Expect.VALUE_OR_CLOSE):
            self.write(_kind_of(kind, token))
            self._after_value()
        elif token in (b"{", b"[") and expect in (_Expect.VALUE, _Expect.VALUE_OR_CLOSE):
            self.write(token.decode())
            shown = not self.stack or (self._showing() and len(self.stack) < MAX_DEPTH)
            self.stack.append(_Container(token, shown, 1))
            self.expect = _Expect.KEY_OR_CLOSE if token == b"{" else _Expect.VALUE_OR_CLOSE
        elif token in (b"}", b"]") and self._closes(token):
            container = self.stack[-1]
            if container.shown and container.items > MAX_ITEMS:
                self.write(f", ... {container.items - MAX_ITEMS} more", always=True)
            self.stack.pop()
            self.write(token.decode())
            self._after_value()
        elif token == b":" and expect is _Expect.COLON:
            self.expect = _Expect.VALUE
        elif token == b"," and expect is _Expect.COMMA_OR_CLOSE:
            container = self.stack[-1]
            if container.bracket == b"[":
                container.items += 1
            self.write(", ")
            self.expect = _Expect.KEY if container.bracket == b"{" else _Expect.VALUE
        else:
            return UNEXPECTED
        return None

    def _closes(self, token: bytes) -> bool:
        if not self.stack or self.stack[-1].bracket != (b"{" if token == b"}" else b"["):
            return False
        empty = _Expect.KEY_OR_CLOSE if token == b"}" else _Expect.VALUE_OR_CLOSE
        return self.expect in (empty, _Expect.COMMA_OR_CLOSE)

    def _after_value(self) -> None:
        self.expect = _Expect.COMMA_OR_CLOSE if self.stack else _Expect.NOTHING

    def _name(self, token: bytes) -> str:
        try:
            name = orjson.loads(token)
        except orjson.JSONDecodeError:
            return OTHER_KEY
        return name if name in self.names else OTHER_KEY


def outline(payload: bytes) -> str:
    """A one-line description of ``payload``'s structure that holds none of its content."""
    if not payload:
        return "not parsed, 0 bytes (empty)"
    outliner = _Outliner(_known_names())
    position = 0
    stop = None
    for _ in range(MAX_TOKENS):
        if position == len(payload):
            break
        token = _TOKEN.match(payload, position)
        if token is None:
            stop = UNEXPECTED
            break
        kind = token.lastindex or 0
        stop = outliner.feed(kind, token.group(kind))
        if stop is not None:
            break
        position = _WHITESPACE.match(payload, token.end()).end()
    if stop == UNEXPECTED:
        position = _WHITESPACE.match(payload, position).end()
        where = f"unexpected {_shape(payload[position:])!r} at byte {position}"
    elif stop == CUT_IN_STRING:
        where = f"{stop}, at byte {len(payload)}"
    elif position < len(payload):
        where = f"only the first {MAX_TOKENS} tokens were read, to byte {position}"
    elif outliner.expect is _Expect.NOTHING:
        where = "the JSON grammar holds to the end (see the reason)"
    else:
        where = f"the payload ends before the JSON is complete, at byte {len(payload)}"
    text = "".join(outliner.parts) + (" ..." if outliner.truncated else "")
    return f"not parsed, {len(payload)} bytes; {where}; read: {text or '(nothing)'}"


def _kind_of(kind: int, token: bytes) -> str:
    """The kind of a complete string, number or literal token, and what is wrong with it."""
    if kind == 1:
        if token.isascii() and b"\\" not in token:
            return "string"
        try:
            orjson.loads(token)
        except orjson.JSONDecodeError:
            return "string (invalid: bad UTF-8 or escape)"
        return "string"
    if kind == 3:
        return "number (out of range)" if float(token) in (INFINITY, -INFINITY) else "number"
    return "null" if token == b"null" else "boolean"


def _shape(data: bytes) -> str:
    """The characters at the start of ``data`` with letters, digits and anything that could
    spell an address replaced (x, X, #, ?)."""
    text = data[: SHAPE_CHARS * 4].decode("utf-8", errors="replace")[:SHAPE_CHARS]
    return "".join(_shape_char(c) for c in text)


def _shape_char(char: str) -> str:
    if char.isascii() and char.isalpha():
        return "X" if char.isupper() else "x"
    if char.isascii() and char.isdigit():
        return "#"
    if char in "\t\r\n":
        return " "
    return char if char in _SHAPE_KEPT else "?"


@cache
def _known_names() -> frozenset[str]:
    """Every field name in the event contracts (envelope and properties, at any depth)."""
    contracts = load_contracts()
    return frozenset(
        name
        for event_type in contracts.event_types
        for path in contracts.fields(event_type)
        for name in path.split(".")
    )
