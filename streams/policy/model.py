"""The compiled anonymization policy: purposes, and one plan per event type, purpose and consent."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

ACTIONS = (
    "keep",
    "drop",
    "truncate_ip",
    "pseudonymize",
    "email_domain",
    "generalize_user_agent",
    "clean_url",
    "visitor_hash",
)


class Consent(StrEnum):
    """The consent state an output record was made under."""

    GRANTED = "granted"
    NOT_GRANTED = "not_granted"  # withdrawn, or never answered: fail closed
    NOT_REQUIRED = "not_required"


# Fail closed: without a `url` section, the subject's own ids still leave no URL.
OWN_IDENTIFIERS = ("subject.user_id", "subject.account_id", "context.session_id")


@dataclass(frozen=True)
class UrlRules:
    """How clean_url turns identifiers in URLs into route templates."""

    placeholder: str = ":id"
    # Envelope fields whose values, the event's own ids, become the placeholder anywhere in
    # a path segment or kept parameter of the event's URLs.
    own_identifiers: tuple[str, ...] = OWN_IDENTIFIERS
    # (name, regular expression) of path segments that are identifiers: a segment (less a
    # file extension) that one of them matches entirely becomes the placeholder.
    id_segments: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Parameters:
    """Settings of the actions."""

    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    keep_query_params: frozenset[str] = frozenset()
    url: UrlRules = UrlRules()


class KeyRotation(StrEnum):
    """What a key rotation does to a purpose's pseudonyms."""

    UNLINK = "unlink"  # old and new pseudonyms of one person cannot be joined
    LINK = "link"  # link records join them, for whoever may read the links topic


@dataclass(frozen=True)
class Purpose:
    """A reason to use data, with its clean output topic."""

    name: str
    description: str
    consent_required: bool
    output: str
    key_rotation: KeyRotation = KeyRotation.UNLINK


@dataclass(frozen=True)
class FieldRule:
    """What one field becomes: ``path`` is dotted (``context.ip``)."""

    path: str
    action: str


@dataclass(frozen=True)
class Plan:
    """What leaves for one event type, purpose and consent state; ``fields`` None means skip."""

    event_type: str
    purpose: str
    consent: Consent
    fields: tuple[FieldRule, ...] | None

    @property
    def skips(self) -> bool:
        """True when the event does not reach this purpose's output at all."""
        return self.fields is None


@dataclass(frozen=True)
class Policy:
    """A validated policy, ready to apply."""

    version: str  # "sha256:<16 hex>" of the policy file's bytes
    parameters: Parameters
    purposes: dict[str, Purpose]
    routes: dict[str, tuple[str, ...]]  # event type -> purposes it feeds
    plans: dict[tuple[str, str, Consent], Plan]

    def plan(self, event_type: str, purpose: str, consent: Consent) -> Plan:
        """The plan for one event type, purpose and consent state."""
        return self.plans[(event_type, purpose, consent)]

    def consent_states(self, purpose: str) -> tuple[Consent, ...]:
        """The consent states a purpose distinguishes."""
        if self.purposes[purpose].consent_required:
            return (Consent.GRANTED, Consent.NOT_GRANTED)
        return (Consent.NOT_REQUIRED,)
