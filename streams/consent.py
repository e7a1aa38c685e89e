"""Consent state of one subject, and the rule that decides whether an event may serve a purpose.

The state maps each purpose to its latest decision and the moment it took effect:
``{"marketing": ["withdrawn", 1764000000000000]}`` (status, effective time in epoch
microseconds), plain JSON, as the subject export shows it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from usage_pipeline.streams.policy.model import Consent

GRANTED = "granted"
WITHDRAWN = "withdrawn"

ConsentState = dict[str, list[Any]]  # purpose -> [status, effective epoch microseconds]


def epoch_us(timestamp: str) -> int:
    """Microseconds since the epoch of an RFC 3339 UTC timestamp."""
    return (dt.datetime.fromisoformat(timestamp) - _EPOCH) // _MICROSECOND


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Read once: in Python 3.11 an enum member read from its class goes through a descriptor,
# ten times the cost of a global, and the stream decides several times per event.
_GRANTED, _NOT_GRANTED, _NOT_REQUIRED = Consent.GRANTED, Consent.NOT_GRANTED, Consent.NOT_REQUIRED
_MICROSECOND = dt.timedelta(microseconds=1)  # made once: making it costs more than the rest


def apply_change(
    state: Mapping[str, list[Any]] | None, purpose: str, status: str, effective_us: int
) -> ConsentState:
    """The state after a consent change; a change older than the one on record is ignored."""
    new_state: ConsentState = dict(state or {})
    current = new_state.get(purpose)
    if current is None or effective_us >= current[1]:
        new_state[purpose] = [status, effective_us]
    return new_state


def consent_for(
    state: Mapping[str, list[Any]] | None, purpose: str, occurred_us: int, required: bool
) -> Consent:
    """Whether an event that occurred at ``occurred_us`` may serve ``purpose`` now.

    Granted only if the latest decision in ``state`` (the subject's decisions published
    before the event, see streams/worker/ordering.py) is a grant that took effect at or
    before the event: a grant given after the event does not cover it, and a withdrawal in
    the state wins. No record means not granted (fail closed).
    """
    if not required:
        return _NOT_REQUIRED
    decision = (state or {}).get(purpose)
    if decision is not None and decision[0] == GRANTED and decision[1] <= occurred_us:
        return _GRANTED
    return _NOT_GRANTED
