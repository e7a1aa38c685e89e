"""A subject's identifiers as each clean output holds them: in clear, as pseudonyms, or not at all.

Nothing here re-implements the policy: the subject's own identifiers are put through the
stream's Anonymizer with every plan of every purpose, so the values searched for are
exactly the values the stream wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.policy.model import Policy

USER_ID = "subject.user_id"
ACCOUNT_ID = "subject.account_id"
EMAIL_COLUMNS = ("subject.email", "properties.recipient")
RECEIPT_KIND = "erasure/subject"  # a namespace no output uses: a receipt joins nothing


@dataclass(frozen=True)
class OutputIdentity:
    """The values that are this subject in one purpose's output."""

    purpose: str
    user_ids: frozenset[str]
    account_ids: frozenset[str]  # the subject only in rows without a user id
    emails: frozenset[str]  # lower-cased; looked for in EMAIL_COLUMNS

    @property
    def searchable(self) -> bool:
        """False when the output holds no identifier of anyone (traffic)."""
        return bool(self.user_ids or self.account_ids or self.emails)

    @property
    def values(self) -> frozenset[str]:
        """Every value of this subject in this output."""
        return self.user_ids | self.account_ids | self.emails


@dataclass(frozen=True)
class SubjectIdentity:
    """One subject's id, optional e-mail address, and its values in every output."""

    subject_id: str
    email: str | None
    outputs: dict[str, OutputIdentity]

    @property
    def needles(self) -> frozenset[str]:
        """Everything that would tie a text to this subject: id, e-mail and pseudonyms."""
        found = {self.subject_id}
        if self.email:
            found.add(self.email.lower())
        for output in self.outputs.values():
            found |= output.values
        return frozenset(found)


def identify(
    subject_id: str, email: str | None, policy: Policy, pseudonymizer: Pseudonymizer
) -> SubjectIdentity:
    """The subject's values in each purpose's output, as the stream computes them, under the
    current key and every previous key (rows written before a rotation carry those)."""
    recorder = _Recorder(pseudonymizer)
    anonymizer = Anonymizer(policy, recorder)  # type: ignore[arg-type]
    subject = {"user_id": subject_id, "account_id": subject_id}
    probe: dict[str, dict[str, str]] = {"subject": subject}
    if email:
        probe = {"subject": {**subject, "email": email}, "properties": {"recipient": email}}
    originals = {USER_ID: subject_id, ACCOUNT_ID: subject_id, **dict.fromkeys(EMAIL_COLUMNS, email)}
    outputs = {}
    for purpose in policy.purposes:
        values: dict[str, set[str]] = {USER_ID: set(), ACCOUNT_ID: set(), "email": set()}
        for event_type, purposes in policy.routes.items():
            if purpose not in purposes:
                continue
            for consent in policy.consent_states(purpose):
                plan = policy.plan(event_type, purpose, consent)
                if not plan.skips:
                    _collect(anonymizer.apply(probe, plan), values, recorder, originals)
        outputs[purpose] = OutputIdentity(
            purpose,
            frozenset(values[USER_ID]),
            frozenset(values[ACCOUNT_ID]),
            frozenset(v.lower() for v in values["email"]),
        )
    return SubjectIdentity(subject_id, email, outputs)


def subject_ref(subject_id: str, pseudonymizer: Pseudonymizer) -> str:
    """A keyed hash of the subject id for receipts: whoever holds the key can check a claim
    ("was X erased?"); nobody without it can learn who was erased."""
    return pseudonymizer.pseudonymize(subject_id, RECEIPT_KIND)


class _Recorder:
    """A pseudonymizer that remembers what each pseudonym was made of, to ask previous keys."""

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.key_id = pseudonymizer.key_id
        self.previous_key_ids: tuple[str, ...] = ()  # the Anonymizer need not link: no links
        self._pseudonymizer = pseudonymizer
        self._made: dict[str, tuple[str, str]] = {}

    def pseudonymize(self, value: str, kind: str) -> str:
        """The current key's pseudonym, remembered."""
        pseudonym = self._pseudonymizer.pseudonymize(value, kind)
        self._made[pseudonym] = (value, kind)
        return pseudonym

    def with_previous(self, pseudonym: str) -> tuple[str, ...]:
        """``pseudonym`` and what the previous keys made of the same value and kind."""
        return (pseudonym, *self._pseudonymizer.previous_pseudonyms(*self._made[pseudonym]))


def _collect(
    record: dict[str, dict[str, str]],
    values: dict[str, set[str]],
    recorder: _Recorder,
    originals: dict[str, str | None],
) -> None:
    """Add the identifiers ``record`` holds: kept as they were, or pseudonyms (never domains)."""
    for path, original in originals.items():
        section, _, name = path.partition(".")
        value = record.get(section, {}).get(name)
        target = values["email" if path in EMAIL_COLUMNS else path]
        if value is not None and value.startswith(recorder.key_id + ":"):
            target.update(recorder.with_previous(value))
        elif value is not None and value == original:
            target.add(value)
