"""One raw record in, its clean outputs (or a dead letter) out: the stream's logic without I/O.

The transactional worker (``streams/worker/``) and the benchmarks' plain confluent-kafka
loop both call ``Processor.process``; it never raises for a bad event.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import version
from typing import Any, NamedTuple

import msgspec
import orjson

from usage_pipeline.schemas.contracts import DEFAULT_MAX_EVENT_BYTES, Contracts, ContractViolation
from usage_pipeline.schemas.keys import (
    CONSENT_KEY_SEPARATOR,
    consent_key,
    partition_for,
    subject_id,
)
from usage_pipeline.schemas.topics import CONSENT_FAMILY, DEAD_LETTER, KEY_LINKS, raw_topic
from usage_pipeline.streams.anonymize.scrub import scrub_text
from usage_pipeline.streams.anonymizer import Anonymizer, Build
from usage_pipeline.streams.consent import (
    WITHDRAWN,
    ConsentState,
    apply_change,
    consent_for,
    epoch_us,
)
from usage_pipeline.streams.deadletter import Source, dead_letter
from usage_pipeline.streams.key_links import KeyLink, RecentLinks
from usage_pipeline.streams.output import Output
from usage_pipeline.streams.policy.model import Consent, Plan

DERIVED_ID_NAMESPACE = uuid.UUID("6f1d3a52-3c41-4d0e-9a57-3f0b1c9e2d74")
SOURCE_NAME = "usage-pipeline-stream"
# Marks the copy of a consent record the stream moved to its subject's partition and key.
REHOMED_HEADER = "usage-pipeline.rehomed"
# Marks a consent record the stream derived (an unsubscribe's withdrawal). Records the stream
# writes carry its clock, not the publisher's: they say nothing of what the publisher has
# written so far (streams/worker/ordering.py).
DERIVED_HEADER = "usage-pipeline.derived"
_INDEX = re.compile(r"\[\d+\]")
_NOT_REQUIRED = Consent.NOT_REQUIRED  # read once: an enum member is a descriptor in 3.11


class Outcome(msgspec.Struct, gc=False):  # made per event: see Output
    """What one raw record produced, and the subject's new consent state if it changed."""

    outputs: list[Output]
    consent_update: tuple[str, ConsentState] | None = None
    decisions: Sequence[tuple[str, str]] = ()  # (purpose, consent)
    dead_letter: tuple[str, str] | None = None  # (stage, reason class), for metrics


class Target(NamedTuple):
    """One purpose's output of one event type under one consent state, compiled once."""

    topic: str
    # The clean record, as Anonymizer.apply makes it; its JSON is ``dumps(record)[:-1] + tail``
    # (see ``serialized``): purpose, consent, policy version and key id close it.
    build: Build
    tail: bytes
    decision: tuple[str, str]  # (purpose, consent)
    plan: Plan
    links: bool  # whether the plan can make key links (Anonymizer.links)


class Route(NamedTuple):
    """One purpose an event type feeds: its target under each consent state (None: skip)."""

    purpose: str
    consent_required: bool
    targets: dict[Consent, Target | None]


class Processor:
    """Validate, apply consent and policy, route; bad events become dead letters."""

    def __init__(
        self,
        anonymizer: Anonymizer,
        contracts: Contracts,
        *,
        namespace: str = "",
        consent_partitions: int = 12,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self.anonymizer = anonymizer
        self.policy = anonymizer.policy
        self.contracts = contracts
        self.namespace = namespace
        self.consent_partitions = consent_partitions
        self.max_event_bytes = max_event_bytes
        self.version = f"{SOURCE_NAME}/{version('usage-pipeline')} policy {self.policy.version}"
        self.dead_letter_topic = DEAD_LETTER.full_name(namespace)
        self.key_links_topic = KEY_LINKS.full_name(namespace)
        self._recent_links = RecentLinks()
        self._parse = _parser(contracts, max_event_bytes)
        self.routes = {
            event_type: tuple(self._route_of(event_type, purpose) for purpose in purposes)
            for event_type, purposes in self.policy.routes.items()
        }
        # Event type -> whether its subject's consent state is read at all: for a route
        # that needs consent, or because the event may change it.
        self.reads_consent = {
            event_type: event_type in CONSENT_CHANGING_TYPES
            or any(route.consent_required for route in routes)
            for event_type, routes in self.routes.items()
        }

    def process(
        self,
        payload: bytes,
        source: Source,
        consent_of: Callable[[str], ConsentState | None],
        key: bytes | None = None,
    ) -> Outcome:
        """The outputs of one raw record; one that cannot be processed becomes a dead letter.

        ``key`` is the record's key as read from Kafka (None when unknown): a consent record
        not on its subject's partition or not under its compaction key is also copied there.
        """
        try:
            event = self._parse(payload)
        except ContractViolation as violation:
            field_class = _INDEX.sub("[]", violation.field)
            return self._dead_letter(payload, source, "validate", str(violation), field_class)
        try:
            return self._route(event, payload, source, key, consent_of)
        except Exception as exc:  # one bad event must never stop the worker
            reason = f"{type(exc).__name__}: {scrub_text(str(exc))[:200]}"
            return self._dead_letter(payload, source, "anonymize", reason, type(exc).__name__)

    def parse(self, payload: bytes) -> dict[str, Any]:
        """The event in ``payload`` if it meets its contract, else raise ContractViolation."""
        return self._parse(payload)

    def _route(
        self,
        event: Mapping[str, Any],
        payload: bytes,
        source: Source,
        key: bytes | None,
        consent_of: Callable[[str], ConsentState | None],
    ) -> Outcome:
        event_type = event["event_type"]
        outputs: list[Output] = []
        consent_update = None
        state = None  # never read when no route of this type needs consent
        if self.reads_consent[event_type]:
            subject = subject_id(event)
            state = consent_of(subject)
            # consent_change answers None for the other types: the call is saved.
            if event_type in CONSENT_CHANGING_TYPES:
                changed = consent_change(event, state)
                if changed is not None:
                    state = changed
                    consent_update = (subject, state)
                    if event_type == "email.activity":
                        outputs.append(self._withdrawal_from_unsubscribe(event))
                    elif key is not None and not self._placed_right(event, source.partition, key):
                        outputs.append(self._rehomed(event, payload))
                        if source.partition != self._partition_of(subject):
                            consent_update = None  # its owner applies the moved copy
        decisions = []
        links: list[KeyLink] = []
        event_key = event["event_id"].encode()
        occurred = None  # parsed once, and only for a route that needs consent
        for purpose, required, targets in self.routes[event_type]:
            # Without consent required, consent_for's answer is known: the call is saved.
            if required:
                if occurred is None:
                    occurred = epoch_us(event["occurred_at"])
                target = targets[consent_for(state, purpose, occurred, True)]
            else:
                target = targets[_NOT_REQUIRED]
            if target is None:
                continue
            topic, build, tail, decision, plan, linked = target
            outputs.append(Output(topic, event_key, serialized(build(event), tail)))
            decisions.append(decision)
            if linked:
                links += self.anonymizer.links(event, plan)
        if links:
            # Remembered only once the event cannot fail any more: a dead letter loses no link.
            outputs.extend(
                Output(self.key_links_topic, link.key, link.to_json())
                for link in links
                if self._recent_links.first_time(link)
            )
        return Outcome(outputs, consent_update, decisions)

    def _route_of(self, event_type: str, purpose: str) -> Route:
        """What an event type's records become for ``purpose``, under each consent state."""
        policy = self.policy
        targets: dict[Consent, Target | None] = {}
        for consent in policy.consent_states(purpose):
            plan = policy.plan(event_type, purpose, consent)
            if plan.skips:
                targets[consent] = None
                continue
            trailer = {
                "purpose": purpose,
                "consent": consent.value,
                "policy_version": policy.version,
                "key_id": self.anonymizer.pseudonymizer.key_id,
            }
            if self.anonymizer.top_level_names(plan).isdisjoint(trailer):
                # The trailer's JSON is made once: each record is written without it, and
                # it is put in place of the closing brace.
                build, tail = self.anonymizer.builder(plan), b"," + orjson.dumps(trailer)[1:]
            else:  # a field of the record would be overwritten: the trailer goes in the record
                build, tail = self.anonymizer.builder(plan, trailer), b"}"
            targets[consent] = Target(
                self.namespace + policy.purposes[purpose].output,
                build,
                tail,
                (purpose, consent.value),
                plan,
                self.anonymizer.links_any(plan),
            )
        return Route(purpose, policy.purposes[purpose].consent_required, targets)

    def consent_ahead(
        self,
        payload: bytes,
        ahead: Sequence[bytes | None],
        consent_of: Callable[[str], ConsentState | None],
    ) -> Callable[[str], ConsentState | None]:
        """``consent_of`` for the event in ``payload``, with the decisions of its subject among
        ``ahead`` (the values of consent records published just after it, not applied yet)
        that took effect at or before it applied: a withdrawal the event followed in time is
        honoured."""
        try:
            event = self._parse(payload)
            if not self.reads_consent[event["event_type"]]:
                return consent_of
            subject, occurred = subject_id(event), epoch_us(event["occurred_at"])
        except (ContractViolation, KeyError):
            return consent_of  # process() makes it a dead letter
        state, changed = consent_of(subject), False
        for value in ahead:
            try:
                decision = self._parse(value or b"")
            except ContractViolation:
                continue  # a dead letter of its own, never applied
            if (
                decision["event_type"] == "consent.changed"
                and subject_id(decision) == subject
                and epoch_us(decision["properties"]["effective_at"]) <= occurred
            ):
                state, changed = consent_change(decision, state), True
        if not changed:
            return consent_of
        return lambda asked: state if asked == subject else consent_of(asked)

    def replay_consent(
        self, payload: bytes, partition: int, consent_of: Callable[[str], ConsentState | None]
    ) -> tuple[str, ConsentState] | None:
        """The state a consent record read on ``partition`` leads to, producing nothing (to
        rebuild state); None when it changes nothing here."""
        try:
            event = self.parse(payload)
        except ContractViolation:
            return None
        subject = subject_id(event)
        if partition != self._partition_of(subject):
            return None  # a misplaced record: its moved copy counts, on the right partition
        changed = consent_change(event, consent_of(subject))
        return None if changed is None else (subject, changed)

    def forget_written_links(self) -> None:
        """Forget which key links were written (after an abort they must be written again)."""
        self._recent_links = RecentLinks()

    @staticmethod
    def is_rehomed(headers: Sequence[tuple[str, bytes | None]] | None) -> bool:
        """Whether a consent record is a copy the stream moved (applied, never processed)."""
        return any(name == REHOMED_HEADER for name, _ in headers or ())

    @staticmethod
    def written_by_stream(headers: Sequence[tuple[str, bytes | None]] | None) -> bool:
        """Whether a consent record is one the stream wrote (a moved copy or a derived one)."""
        return any(name in (REHOMED_HEADER, DERIVED_HEADER) for name, _ in headers or ())

    def _partition_of(self, subject: str) -> int:
        return partition_for(subject, self.consent_partitions)

    def _placed_right(self, event: Mapping[str, Any], partition: int, key: bytes | None) -> bool:
        """Whether a consent record sits on its subject's partition under its compaction key."""
        subject = subject_id(event)
        canonical = consent_key(subject, event["properties"]["purpose"]).encode()
        return key == canonical and partition == self._partition_of(subject)

    def _rehomed(self, event: Mapping[str, Any], payload: bytes) -> Output:
        """A copy of a consent record on its subject's partition under its compaction key.

        Services that cannot choose a partition key consent records by subject (Kafka's
        default partitioner then finds the subject's partition) or place them elsewhere;
        compaction needs one key per subject and purpose, and the consent state needs the
        record on the subject's partition.
        """
        subject = subject_id(event)
        return Output(
            raw_topic(CONSENT_FAMILY, self.namespace),
            consent_key(subject, event["properties"]["purpose"]).encode(),
            payload,
            partition=self._partition_of(subject),
            headers=[(REHOMED_HEADER, b"1")],
        )

    def _withdrawal_from_unsubscribe(self, event: Mapping[str, Any]) -> Output:
        """The consent.changed event an unsubscribe implies, for other systems to see; for an
        account's address (no user) the subject is the account."""
        subject = subject_id(event)
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
        return Output(
            raw_topic(CONSENT_FAMILY, self.namespace),
            consent_key(subject, "marketing").encode(),
            orjson.dumps(change),
            partition=self._partition_of(subject),
            headers=[(DERIVED_HEADER, b"1")],
        )

    def _dead_letter(
        self, payload: bytes, source: Source, stage: str, reason: str, reason_class: str
    ) -> Outcome:
        value, headers = dead_letter(payload, source, stage, reason, self.version)
        output = Output(self.dead_letter_topic, None, value, headers=headers)
        return Outcome([output], dead_letter=(stage, reason_class))


def consent_after_tombstone(
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


def _parser(contracts: Contracts, max_bytes: int) -> Callable[[bytes], dict[str, Any]]:
    """``contracts.parse`` with ``max_bytes``, passed by position (a ``functools.partial``
    with a keyword costs twice the call, once per event)."""
    parse = contracts.parse

    def parsed(payload: bytes) -> dict[str, Any]:
        return parse(payload, max_bytes)

    return parsed


def serialized(record: Mapping[str, Any], tail: bytes) -> bytes:
    """The JSON of ``record`` followed by the fields whose JSON is ``tail`` (a ``Target``'s):
    the same bytes as ``orjson.dumps`` of the record with those fields added last."""
    body = orjson.dumps(record)
    if len(body) > 2:
        return body[:-1] + tail
    return b"{" + tail[1:] if len(tail) > 1 else body  # an empty record


# The only event types consent_change can answer for with a new state.
CONSENT_CHANGING_TYPES = frozenset({"consent.changed", "email.activity"})


def consent_change(event: Mapping[str, Any], state: ConsentState | None) -> ConsentState | None:
    """The subject's new consent state if ``event`` changes it, else None (always None for
    types outside CONSENT_CHANGING_TYPES)."""
    properties = event["properties"]
    if event["event_type"] == "consent.changed":
        effective = epoch_us(properties["effective_at"])
        return apply_change(state, properties["purpose"], properties["status"], effective)
    if event["event_type"] == "email.activity" and properties["action"] == "unsubscribed":
        # An unsubscribe is itself a withdrawal of marketing consent, from that moment.
        return apply_change(state, "marketing", WITHDRAWN, epoch_us(event["occurred_at"]))
    return None
