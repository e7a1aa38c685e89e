"""Apply a policy plan to one event: the pure heart of the stream, free of any I/O.

Each plan is compiled once into a list of (path, function) steps; applying it builds a new
record that holds only what the plan lets through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from streams.anonymize.email import email_domain
from streams.anonymize.ip import truncate_ip
from streams.anonymize.pseudonym import Pseudonymizer
from streams.anonymize.url import UrlCleaner, own_tokens
from streams.anonymize.user_agent import generalize_user_agent
from streams.key_links import KeyLink
from streams.policy.model import KeyRotation, Plan, Policy
from streams.visitors import VisitorSalts

# (field name, output name, transformation or None for keep)
Step = tuple[str, str, Callable[[Any, Mapping[str, Any]], Any] | None]
Section = tuple[str | None, list[Step]]
# (envelope section or None, field name, pseudonym kind) of a field a link purpose pseudonymizes
LinkedField = tuple[str | None, str, str]

# visitor_hash replaces the IP by a visitor id: a new name, so nobody mistakes it for an IP.
RENAMED_BY = {"visitor_hash": "visitor_id"}
EMAIL_FIELDS = {"subject.email", "properties.recipient"}
CACHE_SIZE = 65_536


class Anonymizer:
    """Compiled plans of one policy, bound to a pseudonymization key and visitor salts."""

    def __init__(
        self, policy: Policy, pseudonymizer: Pseudonymizer, salts: VisitorSalts | None = None
    ) -> None:
        self.policy = policy
        self.pseudonymizer = pseudonymizer
        self.salts = salts or VisitorSalts()
        self._transforms = self._value_transforms()
        self._clean_url = self._url_step()
        self._steps = {key: self._compile(plan) for key, plan in policy.plans.items()}
        self._linked = {
            key: self._linked_fields(plan)
            for key, plan in policy.plans.items()
            if pseudonymizer.previous_key_ids
            and policy.purposes[plan.purpose].key_rotation is KeyRotation.LINK
        }

    def apply(self, event: Mapping[str, Any], plan: Plan) -> dict[str, Any]:
        """The clean record ``plan`` makes of ``event`` (fields absent in the event stay absent)."""
        record: dict[str, Any] = {}
        for section, steps in self._steps[(plan.event_type, plan.purpose, plan.consent)]:
            source = event if section is None else event.get(section)
            if not source:
                continue
            target = record if section is None else {}
            for name, output_name, step in steps:
                value = source.get(name)
                if value is None:
                    continue
                if step is not None:
                    value = step(value, event)
                    if value is None:
                        continue
                target[output_name] = value
            if target and section is not None:
                record[section] = target
        return record

    def links(self, event: Mapping[str, Any], plan: Plan) -> list[KeyLink]:
        """Previous-to-current pseudonym pairs of what ``plan`` pseudonymizes in ``event``;
        always empty for purposes that do not link across keys, or without a previous key."""
        result = []
        for section, name, kind in self._linked.get(
            (plan.event_type, plan.purpose, plan.consent), ()
        ):
            source = event if section is None else event.get(section)
            value = source.get(name) if source else None
            if value is None:
                continue
            current = self.pseudonymizer.pseudonymize(str(value), kind)
            for previous in self.pseudonymizer.previous_pseudonyms(str(value), kind):
                result.append(KeyLink(plan.purpose, kind.rpartition("/")[2], previous, current))
        return result

    def _linked_fields(self, plan: Plan) -> list[LinkedField]:
        fields = []
        for rule in plan.fields or ():
            if rule.action == "pseudonymize":
                section, _, name = rule.path.rpartition(".")
                fields.append((section or None, name, _kind(plan.purpose, rule.path)))
        return fields

    def _compile(self, plan: Plan) -> list[Section]:
        """Steps grouped by envelope section (None: top-level fields), in policy order."""
        sections: dict[str | None, list[Step]] = {}
        for rule in plan.fields or ():
            section, _, name = rule.path.rpartition(".")
            output_name = RENAMED_BY.get(rule.action, name)
            step = self._function(rule.action, rule.path, plan.purpose)
            sections.setdefault(section or None, []).append((name, output_name, step))
        return list(sections.items())

    def _function(
        self, action: str, path: str, purpose: str
    ) -> Callable[[Any, Mapping[str, Any]], Any] | None:
        if action == "keep":
            return None
        if action == "visitor_hash":
            return self.salts.visitor_id
        if action == "pseudonymize":
            kind = _kind(purpose, path)
            pseudonymize = self.pseudonymizer.pseudonymize
            return lambda value, _event: pseudonymize(str(value), kind)
        if action == "clean_url":
            return self._clean_url
        transform = self._transforms[action]
        return lambda value, _event: transform(value)

    def _url_step(self) -> Callable[[Any, Mapping[str, Any]], Any]:
        """clean_url with the event's own ids (the policy's url.own_identifiers)."""
        params = self.policy.parameters
        rules = params.url
        cleaner = UrlCleaner(
            params.keep_query_params,
            [pattern for _, pattern in rules.id_segments],
            rules.placeholder,
            cache_size=CACHE_SIZE,
        )
        own = [tuple(path.split(".", 1)) for path in rules.own_identifiers]
        # The ids of the last event: its URL fields, in every plan, are cleaned one after the
        # other. One tuple, read and replaced whole, so an event never meets another's ids.
        last: tuple[Mapping[str, Any] | None, tuple[str, ...]] = (None, ())

        def clean(value: Any, event: Mapping[str, Any]) -> str | None:
            nonlocal last
            seen, tokens = last
            if seen is not event:
                ids = []
                for section, name in own:
                    fields = event.get(section)
                    if fields:
                        ids.append(fields.get(name))
                tokens = own_tokens(ids)
                last = (event, tokens)
            return cleaner.clean(value, tokens)

        return clean

    def _value_transforms(self) -> dict[str, Callable[[Any], Any]]:
        """Actions that depend on the value alone, cached: URLs and user agents repeat a lot."""
        params = self.policy.parameters
        transforms: dict[str, Callable[[Any], Any]] = {
            "truncate_ip": lambda v: truncate_ip(v, params.ipv4_prefix, params.ipv6_prefix),
            "email_domain": email_domain,
            "generalize_user_agent": generalize_user_agent,
        }
        return {name: lru_cache(maxsize=CACHE_SIZE)(f) for name, f in transforms.items()}


def _kind(purpose: str, path: str) -> str:
    """The pseudonym namespace of a field: one per purpose and kind of identifier, so outputs
    cannot be joined across purposes."""
    return f"{purpose}/{'email' if path in EMAIL_FIELDS else path.rsplit('.', 1)[-1]}"
