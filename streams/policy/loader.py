"""Read and check the policy file; every problem is reported with its place in the file."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from usage_pipeline.schemas.contracts import Contracts, load_contracts
from usage_pipeline.schemas.topics import CLEAN_PREFIX
from usage_pipeline.streams.anonymize.url import id_segment_problem
from usage_pipeline.streams.policy.model import (
    ACTIONS,
    Consent,
    FieldRule,
    KeyRotation,
    Parameters,
    Plan,
    Policy,
    Purpose,
    UrlRules,
)

NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# Clean outputs share the prefix the sink's and the stream's ACLs grant (schemas/topics.py).
OUTPUT_TOPIC = re.compile(rf"^{re.escape(CLEAN_PREFIX)}[A-Za-z0-9._-]{{1,200}}$")
# A placeholder stays one path segment and one query value, and reads as a route parameter.
PLACEHOLDER = re.compile(r"^[A-Za-z0-9:_{}<>\[\]-]{1,32}$")
CONSENT_STATES = {"granted": Consent.GRANTED, "not_granted": Consent.NOT_GRANTED}
# The policy shipped with the package: package data of ``streams.policy``, a link to the
# repository's config/anonymization.yaml (the file compliance reviews); wheels carry a copy.
SHIPPED_POLICY = "anonymization.yaml"


class PolicyError(ValueError):
    """The policy file is invalid; ``problems`` lists each one with its place."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid anonymization policy {source}:\n{listing}")


def policy_path(configured: Path | None = None) -> Path:
    """The policy file in force: ``configured`` (a setting or option), else the shipped one,
    wherever the package is installed and whatever the working directory."""
    if configured is not None:
        return configured
    return Path(str(files(__package__) / SHIPPED_POLICY)).resolve()


def load_policy(path: Path | None = None, contracts: Contracts | None = None) -> Policy:
    """Read, check and compile the policy at ``path`` (default: the shipped one); raises
    PolicyError listing every problem."""
    path = policy_path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    return parse_policy(raw, str(path), contracts or load_contracts())


def parse_policy(raw: bytes, source: str, contracts: Contracts) -> Policy:
    """Check and compile policy text."""
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise PolicyError(
            source, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]
        ) from None
    checker = _Checker(contracts)
    policy = checker.compile(document, "sha256:" + hashlib.sha256(raw).hexdigest()[:16])
    if checker.problems:
        raise PolicyError(source, checker.problems)
    assert policy is not None
    return policy


class _Checker:
    """Walks the document once, collecting problems instead of stopping at the first."""

    def __init__(self, contracts: Contracts) -> None:
        self.contracts = contracts
        self.problems: list[str] = []
        consent_schema = contracts.fields("consent.changed")["properties.purpose"]
        self.consentable = tuple(consent_schema.get("enum", ()))
        self.envelope_fields = {
            path
            for event_type in contracts.event_types
            for path in contracts.fields(event_type)
            if not path.startswith("properties.")
        }

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def compile(self, document: Any, version: str) -> Policy | None:
        if not self._mapping(document, "policy", {"version", "parameters", "purposes", "events"}):
            return None
        if document.get("version") != 1:
            self.problem("version", "must be 1 (the only policy format there is)")
        parameters = self._parameters(document.get("parameters", {}))
        purposes, defaults = self._purposes(document.get("purposes"))
        routes, plans = self._events(document.get("events"), purposes, defaults)
        return Policy(version, parameters, purposes, routes, plans)

    def _mapping(self, value: Any, where: str, allowed: set[str] | None = None) -> bool:
        if not isinstance(value, Mapping):
            self.problem(where, "must be a mapping")
            return False
        for key in value:
            if allowed is not None and key not in allowed:
                self.problem(f"{where}.{key}", f"unknown key (expected one of {sorted(allowed)})")
        return True

    def _parameters(self, value: Any) -> Parameters:
        allowed = {"ipv4_prefix", "ipv6_prefix", "keep_query_params", "url"}
        if not self._mapping(value, "parameters", allowed):
            return Parameters()
        params = Parameters()
        ipv4 = value.get("ipv4_prefix", params.ipv4_prefix)
        ipv6 = value.get("ipv6_prefix", params.ipv6_prefix)
        if not isinstance(ipv4, int) or not 0 <= ipv4 <= 32:
            self.problem("parameters.ipv4_prefix", "must be a whole number from 0 to 32")
        if not isinstance(ipv6, int) or not 0 <= ipv6 <= 128:
            self.problem("parameters.ipv6_prefix", "must be a whole number from 0 to 128")
        keep = value.get("keep_query_params", [])
        if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
            self.problem("parameters.keep_query_params", "must be a list of parameter names")
            keep = []
        return Parameters(ipv4, ipv6, frozenset(keep), self._url_rules(value.get("url", {})))

    def _url_rules(self, value: Any) -> UrlRules:
        where = "parameters.url"
        defaults = UrlRules()
        if not self._mapping(value, where, {"placeholder", "own_identifiers", "id_segments"}):
            return defaults
        placeholder = value.get("placeholder", defaults.placeholder)
        if not isinstance(placeholder, str) or not PLACEHOLDER.match(placeholder):
            self.problem(f"{where}.placeholder", "must be 1 to 32 of A-Z a-z 0-9 : _ - { } < > [ ]")
        own = value.get("own_identifiers", list(defaults.own_identifiers))
        if not isinstance(own, list):
            self.problem(f"{where}.own_identifiers", "must be a list of envelope fields")
            own = []
        for field in own:
            if field not in self.envelope_fields or "." not in str(field):
                self.problem(
                    f"{where}.own_identifiers",
                    f"{field!r} is not a field of subject or context in the envelope",
                )
        segments = value.get("id_segments", {})
        if not self._mapping(segments, f"{where}.id_segments"):
            segments = {}
        for name, pattern in segments.items():
            if not NAME.match(str(name)):
                self.problem(f"{where}.id_segments.{name}", "a rule name is a-z, 0-9 and _")
            problem = id_segment_problem(pattern)
            if problem:
                self.problem(f"{where}.id_segments.{name}", problem)
        return UrlRules(
            str(placeholder),
            tuple(str(field) for field in own),
            tuple((str(name), str(pattern)) for name, pattern in segments.items()),
        )

    def _purposes(
        self, value: Any
    ) -> tuple[dict[str, Purpose], dict[tuple[str, Consent], dict[str, str] | None]]:
        purposes: dict[str, Purpose] = {}
        defaults: dict[tuple[str, Consent], dict[str, str] | None] = {}
        if not self._mapping(value, "purposes"):
            return purposes, defaults
        allowed = {"description", "consent", "output", "fields", "without_consent", "key_rotation"}
        for name, spec in value.items():
            where = f"purposes.{name}"
            if not NAME.match(str(name)):
                self.problem(where, "a purpose name is lower-case letters, digits and _")
            if not self._mapping(spec, where, allowed):
                continue
            consent = spec.get("consent")
            if consent not in ("required", "not_required"):
                self.problem(f"{where}.consent", "must be 'required' or 'not_required'")
            required = consent == "required"
            if required and name not in self.consentable:
                self.problem(
                    f"{where}.consent",
                    f"consent for '{name}' can never be granted: consent.changed events "
                    f"name only {', '.join(self.consentable)}",
                )
            output = spec.get("output")
            if not isinstance(output, str) or not OUTPUT_TOPIC.match(output):
                self.problem(f"{where}.output", f"must be a topic name starting {CLEAN_PREFIX}")
            description = spec.get("description")
            if not isinstance(description, str) or not description.strip():
                self.problem(f"{where}.description", "is required: say what the purpose is for")
            rotation = spec.get("key_rotation", KeyRotation.UNLINK.value)
            if rotation not in {r.value for r in KeyRotation}:
                self.problem(f"{where}.key_rotation", "must be 'unlink' or 'link'")
                rotation = KeyRotation.UNLINK.value
            purposes[name] = Purpose(
                name, str(description), required, str(output), KeyRotation(rotation)
            )
            granted = Consent.GRANTED if required else Consent.NOT_REQUIRED
            defaults[(name, granted)] = self._envelope_actions(
                spec.get("fields"), f"{where}.fields"
            )
            without = spec.get("without_consent")
            if required:
                if without == "skip":
                    defaults[(name, Consent.NOT_GRANTED)] = None
                else:
                    defaults[(name, Consent.NOT_GRANTED)] = self._envelope_actions(
                        without, f"{where}.without_consent"
                    )
            elif without is not None:
                self.problem(f"{where}.without_consent", "only purposes that need consent have it")
        return purposes, defaults

    def _envelope_actions(self, value: Any, where: str) -> dict[str, str]:
        if not self._mapping(value, where):
            return {}
        actions = {}
        for field, action in value.items():
            if field not in self.envelope_fields:
                self.problem(f"{where}.{field}", "unknown envelope field")
            elif self._action(action, f"{where}.{field}"):
                actions[field] = action
        return actions

    def _action(self, action: Any, where: str) -> bool:
        if action not in ACTIONS:
            self.problem(where, f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
            return False
        return True

    def _events(
        self,
        value: Any,
        purposes: dict[str, Purpose],
        defaults: dict[tuple[str, Consent], dict[str, str] | None],
    ) -> tuple[dict[str, tuple[str, ...]], dict[tuple[str, str, Consent], Plan]]:
        routes: dict[str, tuple[str, ...]] = {}
        plans: dict[tuple[str, str, Consent], Plan] = {}
        if not self._mapping(value, "events"):
            return routes, plans
        for event_type in value:
            if event_type not in self.contracts.event_types:
                self.problem(f"events.{event_type}", "unknown event type (not in schemas/)")
        for event_type in self.contracts.event_types:
            where = f"events.{event_type}"
            spec = value.get(event_type)
            if spec is None:
                self.problem(where, "missing: list its purposes (an empty list discards it)")
                continue
            if not self._mapping(spec, where, {"purposes", "fields"}):
                continue
            routed = spec.get("purposes")
            if not isinstance(routed, list):
                self.problem(f"{where}.purposes", "must be a list of purposes")
                continue
            for purpose in routed:
                if purpose not in purposes:
                    self.problem(f"{where}.purposes", f"unknown purpose {purpose!r}")
            routes[event_type] = tuple(p for p in routed if p in purposes)
            overrides = self._overrides(spec.get("fields", {}), event_type, routes[event_type])
            for purpose in routes[event_type]:
                states = (
                    (Consent.GRANTED, Consent.NOT_GRANTED)
                    if purposes[purpose].consent_required
                    else (Consent.NOT_REQUIRED,)
                )
                for state in states:
                    plans[(event_type, purpose, state)] = self._plan(
                        event_type, purpose, state, defaults.get((purpose, state), {}), overrides
                    )
        return routes, plans

    def _overrides(
        self, value: Any, event_type: str, routed: tuple[str, ...]
    ) -> dict[str, dict[tuple[str, Consent] | None, str]]:
        """Field -> {(purpose, state) or None for 'every purpose': action}."""
        where = f"events.{event_type}.fields"
        overrides: dict[str, dict[tuple[str, Consent] | None, str]] = {}
        if not self._mapping(value, where):
            return overrides
        known = self.contracts.fields(event_type)
        for field, spec in value.items():
            place = f"{where}.{field}"
            if field not in known:
                self.problem(place, f"unknown field of {event_type}")
                continue
            rules: dict[tuple[str, Consent] | None, str] = {}
            if isinstance(spec, str):
                if self._action(spec, place):
                    rules[None] = spec
            elif self._mapping(spec, place):
                for purpose, action in spec.items():
                    if purpose not in routed:
                        self.problem(
                            f"{place}.{purpose}", f"{event_type} does not feed {purpose!r}"
                        )
                        continue
                    rules.update(self._purpose_rule(purpose, action, f"{place}.{purpose}"))
            overrides[field] = rules
        return overrides

    def _purpose_rule(
        self, purpose: str, action: Any, where: str
    ) -> dict[tuple[str, Consent] | None, str]:
        if isinstance(action, str):
            if not self._action(action, where):
                return {}
            return {(purpose, state): action for state in Consent}
        rules: dict[tuple[str, Consent] | None, str] = {}
        if self._mapping(action, where, set(CONSENT_STATES)):
            for state_name, state_action in action.items():
                if state_name in CONSENT_STATES and self._action(
                    state_action, f"{where}.{state_name}"
                ):
                    rules[(purpose, CONSENT_STATES[state_name])] = state_action
        return rules

    def _plan(
        self,
        event_type: str,
        purpose: str,
        state: Consent,
        defaults: dict[str, str] | None,
        overrides: dict[str, dict[tuple[str, Consent] | None, str]],
    ) -> Plan:
        if defaults is None:
            return Plan(event_type, purpose, state, None)
        rules = []
        for field in self.contracts.fields(event_type):
            chosen = overrides.get(field, {})
            action = chosen.get((purpose, state)) or chosen.get(None) or defaults.get(field)
            if action is None:
                self.problem(
                    f"events.{event_type}.fields",
                    f"no action for {field} in purpose {purpose} ({state}): write keep or drop",
                )
                continue
            if action != "drop":
                rules.append(FieldRule(field, action))
        return Plan(event_type, purpose, state, tuple(rules))
