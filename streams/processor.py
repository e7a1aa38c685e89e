"""One raw record in, its clean outputs (or a dead letter) out: the stream's logic without I/O.

The faust worker and the plain confluent-kafka baseline both call ``Processor.process``; it
never raises for a bad event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import orjson

from schemas.contracts import DEFAULT_MAX_EVENT_BYTES, Contracts, ContractViolation
from schemas.keys import CONSENT_KEY_SEPARATOR, consent_key, partition_for, subject_id
from schemas.topics import CONSENT_FAMILY, raw_topic
from streams.anonymize.scrub import scrub_text
from streams.anonymizer import Anonymizer
from streams.consent import WITHDRAWN, ConsentState, apply_change, consent_for, epoch_us
from streams.deadletter import Source, dead_letter
from streams.key_links import KEY_LINKS_TOPIC, KeyLink, RecentLinks

DEAD_LETTER_TOPIC = "dead.letter"
DERIVED_ID_NAMESPACE = uuid.UUID("6f1d3a52-3c41-4d0e-9a57-3f0b1c9e2d74")
SOURCE_NAME = "usage-pipeline-stream"


@dataclass(frozen=True)
class Output:
    """A record to produce."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None


@dataclass
class Outcome:
    """What one raw record produced, and the subject's new consent state if it changed."""

    outputs: list[Output] = field(default_factory=list)
    consent_update: tuple[str, ConsentState] | None = None


class Processor:
    """Validate, apply consent and policy, route; bad events become dead letters."""

    def __init__(
        self,
        anonymizer: Anonymizer,
        contracts: Contracts,
        *,
        namespace: str = "",
        consent_partitions: int = 6,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self.anonymizer = anonymizer
        self.policy = anonymizer.policy
        self.contracts = contracts
        self.namespace = namespace
        self.consent_partitions = consent_partitions
        self.max_event_bytes = max_event_bytes
        self.version = f"{SOURCE_NAME}/{version('usage-pipeline')} policy {self.policy.version}"
        self.dead_letter_topic = namespace + DEAD_LETTER_TOPIC
        self.key_links_topic = namespace + KEY_LINKS_TOPIC
        self._recent_links = RecentLinks()
        self._metadata = {
            "policy_version": self.policy.version,
            "key_id": anonymizer.pseudonymizer.key_id,
        }

    def process(
        self,
        payload: bytes,
        source: Source,
        consent_of: Callable[[str], ConsentState | None],
    ) -> Outcome:
        """The outputs of one raw record; one that cannot be processed becomes a dead letter."""
        try:
            event = self.contracts.parse(payload, max_bytes=self.max_event_bytes)
        except ContractViolation as violation:
            return Outcome([self._dead_letter(payload, source, "validate", str(violation))])
        try:
            return self._route(event, consent_of)
        except Exception as exc:  # one bad event must never stop the worker
            reason = f"{type(exc).__name__}: {scrub_text(str(exc))[:200]}"
            return Outcome([self._dead_letter(payload, source, "anonymize", reason)])

    def _route(
        self, event: Mapping[str, Any], consent_of: Callable[[str], ConsentState | None]
    ) -> Outcome:
        subject = subject_id(event)
        state = consent_of(subject)
        occurred = epoch_us(event["occurred_at"])
        outcome = Outcome()
        event_type = event["event_type"]
        changed = _consent_change(event, state)
        if changed is not None:
            state = changed
            outcome.consent_update = (subject, state)
            if event_type == "email.activity":
                outcome.outputs.extend(self._withdrawal_from_unsubscribe(event))
        links: list[KeyLink] = []
        for purpose_name in self.policy.routes[event_type]:
            purpose = self.policy.purposes[purpose_name]
            consent = consent_for(state, purpose_name, occurred, purpose.consent_required)
            plan = self.policy.plan(event_type, purpose_name, consent)
            if plan.skips:
                continue
            record = self.anonymizer.apply(event, plan)
            record["purpose"] = purpose_name
            record["consent"] = consent.value
            record.update(self._metadata)
            outcome.outputs.append(
                Output(
                    self.namespace + purpose.output,
                    event["event_id"].encode(),
                    orjson.dumps(record),
                )
            )
            links += self.anonymizer.links(event, plan)
        # Remembered only once the event cannot fail any more: a dead letter loses no link.
        outcome.outputs.extend(
            Output(self.key_links_topic, link.key, link.to_json())
            for link in links
            if self._recent_links.first_time(link)
        )
        return outcome

    def replay_consent(
        self, payload: bytes, consent_of: Callable[[str], ConsentState | None]
    ) -> tuple[str, ConsentState] | None:
        """The state a raw consent record leads to, producing nothing (to rebuild the table)."""
        try:
            event = self.contracts.parse(payload, max_bytes=self.max_event_bytes)
        except ContractViolation:
            return None
        subject = subject_id(event)
        changed = _consent_change(event, consent_of(subject))
        return None if changed is None else (subject, changed)

    def _withdrawal_from_unsubscribe(self, event: Mapping[str, Any]) -> list[Output]:
        """The consent.changed event an unsubscribe implies, for other systems to see."""
        user_id = event["subject"].get("user_id")
        if user_id is None:  # consent is recorded per user; an account-only event has none
            return []
        change = {
            "event_id": str(uuid.uuid5(DERIVED_ID_NAMESPACE, event["event_id"])),
            "event_type": "consent.changed",
            "schema_version": 1,
            "occurred_at": event["occurred_at"],
            "source": SOURCE_NAME,
            "subject": {k: v for k, v in event["subject"].items() if k != "email"},
            "properties": {
                "purpose": "marketing",
                "status": WITHDRAWN,
                "source": "unsubscribe_link",
                "effective_at": event["occurred_at"],
            },
        }
        self.contracts.validate(change)
        return [
            Output(
                raw_topic(CONSENT_FAMILY, self.namespace),
                consent_key(user_id, "marketing").encode(),
                orjson.dumps(change),
                partition=partition_for(user_id, self.consent_partitions),
            )
        ]

    def _dead_letter(self, payload: bytes, source: Source, stage: str, reason: str) -> Output:
        value, headers = dead_letter(payload, source, stage, reason, self.version)
        return Output(self.dead_letter_topic, None, value, headers=headers)


def forget_consent(
    key: bytes | None, consent_of: Callable[[str], ConsentState | None]
) -> tuple[str, ConsentState | None] | None:
    """The subject and its state once a consent tombstone (``subject|purpose``, no value) is
    applied: that purpose forgotten, None when nothing is left; None for a key of no subject."""
    subject, separator, purpose = (
        (key or b"").decode(errors="replace").partition(CONSENT_KEY_SEPARATOR)
    )
    if not subject or not separator:
        return None
    state = {p: d for p, d in (consent_of(subject) or {}).items() if p != purpose}
    return subject, state or None


def _consent_change(event: Mapping[str, Any], state: ConsentState | None) -> ConsentState | None:
    """The subject's new consent state if ``event`` changes it, else None."""
    properties = event["properties"]
    if event["event_type"] == "consent.changed":
        effective = epoch_us(properties["effective_at"])
        return apply_change(state, properties["purpose"], properties["status"], effective)
    if event["event_type"] == "email.activity" and properties["action"] == "unsubscribed":
        # An unsubscribe is itself a withdrawal of marketing consent, from that moment.
        return apply_change(state, "marketing", WITHDRAWN, epoch_us(event["occurred_at"]))
    return None
