"""Apply a policy plan to one event: the pure heart of the stream, free of any I/O.

Each plan is compiled once into a list of (path, function) steps; applying it builds a new
record that holds only what the plan lets through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from streams.anonymize.email import email_domain
from streams.anonymize.ip import truncate_ip
from streams.anonymize.pseudonym import Pseudonymizer
from streams.anonymize.url import clean_url
from streams.anonymize.user_agent import generalize_user_agent
from streams.policy.model import Plan, Policy
from streams.visitors import VisitorSalts

Step = tuple[tuple[str, ...], tuple[str, ...], Callable[[Any, Mapping[str, Any]], Any]]

# visitor_hash replaces the IP by a visitor id: a new name, so nobody mistakes it for an IP.
RENAMED_BY = {"visitor_hash": "visitor_id"}
EMAIL_FIELDS = {"subject.email", "properties.recipient"}


class Anonymizer:
    """Compiled plans of one policy, bound to a pseudonymization key and visitor salts."""

    def __init__(
        self, policy: Policy, pseudonymizer: Pseudonymizer, salts: VisitorSalts | None = None
    ) -> None:
        self.policy = policy
        self.pseudonymizer = pseudonymizer
        self.salts = salts or VisitorSalts()
        self._steps = {key: self._compile(plan) for key, plan in policy.plans.items()}

    def apply(self, event: Mapping[str, Any], plan: Plan) -> dict[str, Any]:
        """The clean record ``plan`` makes of ``event`` (fields absent in the event stay absent)."""
        record: dict[str, Any] = {}
        for source, target, step in self._steps[(plan.event_type, plan.purpose, plan.consent)]:
            value = _get(event, source)
            if value is None:
                continue
            result = step(value, event)
            if result is not None:
                _put(record, target, result)
        return record

    def _compile(self, plan: Plan) -> list[Step]:
        steps: list[Step] = []
        for rule in plan.fields or ():
            source = tuple(rule.path.split("."))
            target = source
            if rule.action in RENAMED_BY:
                target = (*source[:-1], RENAMED_BY[rule.action])
            steps.append((source, target, self._function(rule.action, rule.path, plan.purpose)))
        return steps

    def _function(
        self, action: str, path: str, purpose: str
    ) -> Callable[[Any, Mapping[str, Any]], Any]:
        params = self.policy.parameters
        if action == "keep":
            return lambda value, _event: value
        if action == "truncate_ip":
            return lambda value, _event: truncate_ip(
                value, params.ipv4_prefix, params.ipv6_prefix
            )
        if action == "pseudonymize":
            # A separate namespace per purpose and kind: outputs cannot be joined across purposes.
            kind = f"{purpose}/{'email' if path in EMAIL_FIELDS else path.rsplit('.', 1)[-1]}"
            return lambda value, _event: self.pseudonymizer.pseudonymize(str(value), kind)
        if action == "email_domain":
            return lambda value, _event: email_domain(value)
        if action == "generalize_user_agent":
            return lambda value, _event: generalize_user_agent(value)
        if action == "clean_url":
            return lambda value, _event: clean_url(value, params.keep_query_params)
        if action == "visitor_hash":
            return self.salts.visitor_id
        raise ValueError(f"action {action!r} has no implementation")


def _get(event: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _put(record: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        record = record.setdefault(part, {})
    record[path[-1]] = value
