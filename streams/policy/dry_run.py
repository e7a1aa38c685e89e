"""Show what the policy does to sample events, per purpose, before anything runs for real."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from usage_pipeline.schemas.contracts import Contracts
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.consent import GRANTED, ConsentState
from usage_pipeline.streams.deadletter import Source
from usage_pipeline.streams.policy.model import Policy
from usage_pipeline.streams.processor import Processor

DRY_RUN_KEY_ID = "dryrun"


@dataclass
class Sample:
    """One input line and what each purpose's output would hold."""

    line: int
    before: Any
    after: dict[str, dict[str, Any]] = field(default_factory=dict)  # purpose -> record
    dead_letter: str | None = None


def dry_run(
    lines: Iterable[bytes], policy: Policy, contracts: Contracts, *, consent: bool
) -> Iterator[Sample]:
    """Process each line as the worker would, with a throw-away key.

    ``consent`` True assumes every subject granted every purpose since forever; False
    assumes nobody answered (the fail-closed default).
    """
    pseudonymizer = Pseudonymizer(secrets.token_bytes(32), DRY_RUN_KEY_ID)
    processor = Processor(Anonymizer(policy, pseudonymizer), contracts)
    everything: ConsentState = {purpose: [GRANTED, 0] for purpose in policy.purposes}

    def consent_of(_subject: str) -> ConsentState | None:
        return everything if consent else None

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            before = orjson.loads(line)
        except orjson.JSONDecodeError:
            before = None
        sample = Sample(number, before)
        source = Source("dry-run", 0, number)
        for output in processor.process(line.strip(), source, consent_of).outputs:
            record = orjson.loads(output.value)
            if output.topic == processor.dead_letter_topic:
                sample.dead_letter = record["reason"]
            elif "purpose" in record:
                sample.after[record["purpose"]] = record
        yield sample
