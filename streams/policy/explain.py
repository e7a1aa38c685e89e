"""Render a policy for review: per event type and field, what leaves per purpose and consent."""

from __future__ import annotations

from dataclasses import dataclass

from usage_pipeline.schemas.contracts import Contracts
from usage_pipeline.streams.policy.model import Consent, Policy

NOT_ROUTED = "-"
SKIPPED = "(not sent)"
CONSENT_MARK = {Consent.GRANTED: "granted", Consent.NOT_GRANTED: "no consent"}
# The last row: what a key rotation does to each purpose's pseudonyms (link or unlink).
ALL_EVENTS = "(every event)"
KEY_ROTATION_ROW = "key_rotation"


@dataclass(frozen=True)
class Cell:
    """What one field of one event type becomes for one purpose under one consent state."""

    event_type: str
    field: str
    purpose: str
    consent: Consent
    action: str


def columns(policy: Policy) -> list[tuple[str, Consent]]:
    """Purpose and consent-state pairs, in the policy's order."""
    return [(p, state) for p in policy.purposes for state in policy.consent_states(p)]


def column_title(purpose: str, consent: Consent) -> str:
    """A column heading such as ``analytics (granted)``."""
    mark = CONSENT_MARK.get(consent)
    return f"{purpose} ({mark})" if mark else purpose


def cells(policy: Policy, contracts: Contracts) -> list[Cell]:
    """Every (event type, field, purpose, consent) with the action that applies."""
    result = []
    for event_type in contracts.event_types:
        routed = policy.routes.get(event_type, ())
        for field in contracts.fields(event_type):
            for purpose, consent in columns(policy):
                result.append(
                    Cell(
                        event_type,
                        field,
                        purpose,
                        consent,
                        _action(policy, event_type, field, purpose, consent, routed),
                    )
                )
    return result


def _action(
    policy: Policy,
    event_type: str,
    field: str,
    purpose: str,
    consent: Consent,
    routed: tuple[str, ...],
) -> str:
    if purpose not in routed:
        return NOT_ROUTED
    plan = policy.plan(event_type, purpose, consent)
    if plan.fields is None:
        return SKIPPED
    return next((rule.action for rule in plan.fields if rule.path == field), "drop")


def table(policy: Policy, contracts: Contracts) -> tuple[list[str], list[list[str]]]:
    """A header and rows: one row per event type and field, one column per purpose and consent;
    the last row is each purpose's key rotation."""
    heads = columns(policy)
    by_row: dict[tuple[str, str], dict[tuple[str, Consent], str]] = {}
    for cell in cells(policy, contracts):
        by_row.setdefault((cell.event_type, cell.field), {})[(cell.purpose, cell.consent)] = (
            cell.action
        )
    header = ["event type", "field", *(column_title(p, c) for p, c in heads)]
    rows = [
        [event_type, field, *(actions[h] for h in heads)]
        for (event_type, field), actions in by_row.items()
    ]
    rows.append(
        [ALL_EVENTS, KEY_ROTATION_ROW, *(policy.purposes[p].key_rotation for p, _ in heads)]
    )
    return header, rows


def parameters(policy: Policy) -> list[list[str]]:
    """The settings of the actions as (name, value) rows, URL rules of clean_url included."""
    params = policy.parameters
    url = params.url
    rows = [
        ["ipv4_prefix", str(params.ipv4_prefix)],
        ["ipv6_prefix", str(params.ipv6_prefix)],
        ["keep_query_params", ", ".join(sorted(params.keep_query_params)) or "(none)"],
        ["url.placeholder", url.placeholder],
        ["url.own_identifiers", ", ".join(url.own_identifiers) or "(none)"],
    ]
    rows += [[f"url.id_segments.{name}", pattern] for name, pattern in url.id_segments]
    return rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table (a "|" in a cell, as in a regular expression, escaped)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
