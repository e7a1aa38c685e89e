"""Apply a policy plan to one event: the pure heart of the stream, free of any I/O.

Each plan is compiled once into a Python function with one straight run of lines per field
(as ``dataclasses`` compiles ``__init__``): applying it builds a new record that holds only
what the plan lets through. A loop over (field, function) steps cost twice as much per record,
and the stream makes one to four records per event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from usage_pipeline.streams.anonymize.email import email_domain
from usage_pipeline.streams.anonymize.ip import truncate_ip
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymize.url import UrlCleaner, own_tokens
from usage_pipeline.streams.anonymize.user_agent import generalize_user_agent
from usage_pipeline.streams.key_links import KeyLink
from usage_pipeline.streams.policy.model import KeyRotation, Plan, Policy
from usage_pipeline.streams.visitors import VisitorSalts

# (field name, output name, action, dotted path)
Step = tuple[str, str, str, str]
Section = tuple[str | None, list[Step]]
# (envelope section or None, field name, pseudonym kind) of a field a link purpose pseudonymizes
LinkedField = tuple[str | None, str, str]
# A compiled plan: the clean record it makes of an event.
Build = Callable[[Mapping[str, Any]], dict[str, Any]]

# visitor_hash replaces the IP by a visitor id: a new name, so nobody mistakes it for an IP.
RENAMED_BY = {"visitor_hash": "visitor_id"}
EMAIL_FIELDS = {"subject.email", "properties.recipient"}
# Entries of each value cache (cleaned URLs, own ids, IPs, e-mail domains). Over 1M simulated
# events a cache of 8,192 missed 0.4% of URLs more than one of 65,536 (21.6k misses against
# 17.8k) and the own ids as often (144.6k against 144.4k: most are an event's own), while the
# larger ones held about 15 MB each.
CACHE_SIZE = 8_192
# Pseudonyms remembered per kind in front of the pseudonymizer's own cache: a plain dict is
# read at a third of the cost of an lru_cache shared by every kind. Cleared when full.
KIND_CACHE_SIZE = 8_192


class Anonymizer:
    """Compiled plans of one policy, bound to a pseudonymization key and visitor salts."""

    def __init__(
        self, policy: Policy, pseudonymizer: Pseudonymizer, salts: VisitorSalts | None = None
    ) -> None:
        self.policy = policy
        self.pseudonymizer = pseudonymizer
        self.salts = salts or VisitorSalts()
        self._transforms = self._value_transforms()
        self._pseudonyms: dict[str, _Pseudonyms] = {}
        self._url_cleaner, self._own_ids = self._url_rules()
        self._builders = {key: self._builder(plan) for key, plan in policy.plans.items()}
        self._linked = {
            key: self._linked_fields(plan)
            for key, plan in policy.plans.items()
            if pseudonymizer.previous_key_ids
            and policy.purposes[plan.purpose].key_rotation is KeyRotation.LINK
        }

    def apply(self, event: Mapping[str, Any], plan: Plan) -> dict[str, Any]:
        """The clean record ``plan`` makes of ``event`` (fields absent in the event stay absent)."""
        return self.builder(plan)(event)

    def builder(self, plan: Plan, trailer: Mapping[str, str] | None = None) -> Build:
        """``apply`` of one plan, compiled once: what the stream calls for every event; with
        ``trailer``, a new function whose records end with those fields."""
        if trailer:
            return self._builder(plan, trailer)
        return self._builders[(plan.event_type, plan.purpose, plan.consent)]

    def top_level_names(self, plan: Plan) -> frozenset[str]:
        """The top-level keys a record of ``plan`` can hold (fields and envelope sections)."""
        return frozenset(
            section if section is not None else output_name
            for section, steps in self._compile(plan)
            for _, output_name, _, _ in steps
        )

    def links_any(self, plan: Plan) -> bool:
        """Whether ``links`` can find anything for ``plan`` (a linking purpose and a previous
        key, and a field the plan pseudonymizes)."""
        return bool(self._linked.get((plan.event_type, plan.purpose, plan.consent)))

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

    def _builder(self, plan: Plan, trailer: Mapping[str, str] | None = None) -> Build:
        """The function that makes ``plan``'s record of an event, compiled from its source.

        Only names fixed here and values quoted with ``repr`` reach the source; what the
        policy names (fields, kinds) is always a quoted string.
        """
        namespace: dict[str, Any] = {}
        lines = ["def build(event):", "    record = {}", "    tokens = ()"]
        for section, steps in self._compile(plan):
            source = "event" if section is None else f"event.get({section!r})"
            lines.append(f"    source = {source}")
            lines.append("    if source:")
            target = "record" if section is None else "target"
            if section is not None:
                lines.append("        target = {}")
            for name, output_name, action, path in steps:
                lines += [f"        value = source.get({name!r})", "        if value is not None:"]
                if action == "keep":
                    lines.append(f"            {target}[{output_name!r}] = value")
                    continue
                call = self._call(action, _kind(plan.purpose, path), namespace)
                lines += [
                    f"            value = {call}",
                    "            if value is not None:",
                    f"                {target}[{output_name!r}] = value",
                ]
            if section is not None:
                lines += ["        if target:", f"            record[{section!r}] = target"]
        lines += [f"    record[{name!r}] = {value!r}" for name, value in (trailer or {}).items()]
        lines.append("    return record")
        # Named after the plan, so tracebacks and profiles tell the compiled plans apart.
        name = f"<plan {plan.event_type} {plan.purpose} {plan.consent.value}>"
        code = compile("\n".join(lines), name, "exec")
        exec(code, namespace)  # the source holds fixed names and repr()s only
        return namespace["build"]

    def _compile(self, plan: Plan) -> list[Section]:
        """Steps grouped by envelope section (None: top-level fields), in policy order."""
        sections: dict[str | None, list[Step]] = {}
        for rule in plan.fields or ():
            section, _, name = rule.path.rpartition(".")
            output_name = RENAMED_BY.get(rule.action, name)
            sections.setdefault(section or None, []).append(
                (name, output_name, rule.action, rule.path)
            )
        return list(sections.items())

    def _call(self, action: str, kind: str, namespace: dict[str, Any]) -> str:
        """The expression that applies ``action`` to ``value`` in a compiled plan; what it
        calls goes into ``namespace``, under a name fixed here."""
        if action == "pseudonymize":
            if kind not in self._pseudonyms:
                self._pseudonyms[kind] = _Pseudonyms(self.pseudonymizer, kind)
            name = f"pseudonyms_{list(self._pseudonyms).index(kind)}"
            namespace[name] = self._pseudonyms[kind]
            return f"{name}[str(value)]"
        if action == "visitor_hash":  # needs the whole event
            namespace[action] = self.salts.visitor_id
            return "visitor_hash(value, event)"
        if action == "clean_url":  # the event's own ids are found once, for all its URLs
            namespace[action] = self._url_cleaner.clean
            namespace["own_ids"] = self._own_ids
            return "clean_url(value, tokens or (tokens := own_ids(event)))"
        namespace[action] = self._transforms[action]  # only these names: KeyError for others
        return f"{action}(value)"

    def _url_rules(self) -> tuple[UrlCleaner, Callable[[Mapping[str, Any]], tuple[str, ...]]]:
        """The policy's URL cleaner, and the own ids (url.own_identifiers) of an event as
        its ``clean`` takes them."""
        params = self.policy.parameters
        rules = params.url
        cleaner = UrlCleaner(
            params.keep_query_params,
            [pattern for _, pattern in rules.id_segments],
            rules.placeholder,
            cache_size=CACHE_SIZE,
        )
        own = [tuple(path.split(".", 1)) for path in rules.own_identifiers]
        tokens_of = lru_cache(maxsize=CACHE_SIZE)(own_tokens)  # the same ids, event after event
        # The ids of the last event: its URL fields, in every plan, are cleaned one plan after
        # the other. One tuple, read and replaced whole, so an event never meets another's ids.
        last: tuple[Mapping[str, Any] | None, tuple[str, ...]] = (None, ())

        def own_ids(event: Mapping[str, Any]) -> tuple[str, ...]:
            nonlocal last
            seen, tokens = last
            if seen is not event:
                ids = []
                for section, name in own:
                    fields = event.get(section)
                    if fields:
                        ids.append(fields.get(name))
                tokens = tokens_of(tuple(ids))
                last = (event, tokens)
            return tokens

        return cleaner, own_ids

    def _value_transforms(self) -> dict[str, Callable[[Any], Any]]:
        """Actions that depend on the value alone, cached: URLs and user agents repeat a lot."""
        params = self.policy.parameters
        transforms: dict[str, Callable[[Any], Any]] = {
            "truncate_ip": lambda v: truncate_ip(v, params.ipv4_prefix, params.ipv6_prefix),
            "email_domain": email_domain,
            "generalize_user_agent": generalize_user_agent,
        }
        return {name: lru_cache(maxsize=CACHE_SIZE)(f) for name, f in transforms.items()}


class _Pseudonyms(dict[str, str]):
    """The pseudonyms of one kind made lately: value -> pseudonym, bounded."""

    def __init__(self, pseudonymizer: Pseudonymizer, kind: str) -> None:
        super().__init__()
        self.pseudonymize = pseudonymizer.pseudonymize
        self.kind = kind

    def __missing__(self, value: str) -> str:
        if len(self) >= KIND_CACHE_SIZE:
            self.clear()
        pseudonym = self[value] = self.pseudonymize(value, self.kind)
        return pseudonym


def _kind(purpose: str, path: str) -> str:
    """The pseudonym namespace of a field: one per purpose and kind of identifier, so outputs
    cannot be joined across purposes."""
    return f"{purpose}/{'email' if path in EMAIL_FIELDS else path.rsplit('.', 1)[-1]}"
