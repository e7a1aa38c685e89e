"""What changes in each output between two versions of the policy."""

from __future__ import annotations

from dataclasses import dataclass

from usage_pipeline.schemas.contracts import Contracts
from usage_pipeline.streams.policy.explain import NOT_ROUTED, cells, parameters
from usage_pipeline.streams.policy.model import Consent, Policy


@dataclass(frozen=True)
class Change:
    """One field of one event type that leaves differently for one purpose and consent state."""

    event_type: str
    field: str
    purpose: str
    consent: Consent
    before: str
    after: str


def diff(old: Policy, new: Policy, contracts: Contracts) -> list[Change]:
    """Every cell whose action differs; purposes present in only one policy count as not routed."""
    before = {
        (c.event_type, c.field, c.purpose, c.consent): c.action for c in cells(old, contracts)
    }
    after = {(c.event_type, c.field, c.purpose, c.consent): c.action for c in cells(new, contracts)}
    changes = []
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key, NOT_ROUTED), after.get(key, NOT_ROUTED)
        if was != now:
            changes.append(Change(*key, was, now))
    return changes


def output_changes(old: Policy, new: Policy) -> list[str]:
    """Parameters changed (IP prefixes, kept query parameters, URL rules), and purposes added,
    removed, or given another output topic, consent rule or key rotation."""
    before, after = dict(parameters(old)), dict(parameters(new))
    notes = [
        f"parameter {name}: {before.get(name, '(none)')} -> {after.get(name, '(none)')}"
        for name in [*before, *(n for n in after if n not in before)]
        if before.get(name) != after.get(name)
    ]
    for name in sorted(old.purposes.keys() | new.purposes.keys()):
        was, now = old.purposes.get(name), new.purposes.get(name)
        if was is None:
            notes.append(f"purpose {name} added (output {now.output})")
        elif now is None:
            notes.append(f"purpose {name} removed (output {was.output})")
        else:
            if was.output != now.output:
                notes.append(f"purpose {name}: output {was.output} -> {now.output}")
            if was.consent_required != now.consent_required:
                rule = "required" if now.consent_required else "not required"
                notes.append(f"purpose {name}: consent now {rule}")
            if was.key_rotation != now.key_rotation:
                notes.append(
                    f"purpose {name}: key_rotation {was.key_rotation} -> {now.key_rotation}"
                )
    return notes
