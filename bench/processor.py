"""Benchmark: ``Processor.process`` in process, against the orjson floor of the same payloads.

No broker: N events of the simulator's mix are serialized once; then, chunk by chunk,

  process       Processor.process(payload, source, consent_of) of each payload, as the
                stream worker calls it (outputs dropped)
  orjson floor  orjson.loads then orjson.dumps of each payload: the least any Python
                processor that reads and writes JSON spends on it
  steps         the processor's steps one at a time, each fed with the results of the one
                before: parse and validate, consent, plan, transforms, serialize; "other"
                is what process spends beyond their sum (outcome, calls, garbage collection);
                it is negative when the steps' own lists between steps cost more than that

The consent state is fixed for the run: ``simulated`` (default) is every subject's state
after all the consent records among the generated events, ``granted`` grants every purpose to
every subject (the most outputs), ``none`` knows nobody (fail closed, the fewest).

The first round fills the caches (user agents, URLs, pseudonyms) as a worker's first minutes
do, and is shown as "cold". Then each chunk of 200 events is timed in every round and its
least time kept: on a machine shared with other work that removes most of the others' noise.
CPU time is the measure ("on one core"); wall time is printed too.

Every round (and the steps, within a round) reads its own copy of the events, as a worker
never reads an event twice: the same mix a month later (every timestamp 30 days on), each
event under a new id, each session and e-mail message under a new one. Repeating the same
payloads would let anything remembered per event (ids, timestamps, visitor ids, message ids)
be found again in every round after the first. What stays is what a worker meets again in
its next month: the subjects, their addresses, the pages, the user agents. The consent state
moves with the timestamps, so every copy makes the same decisions.

Usage: python bench/processor.py [--events 100000] [--rounds 5] [--consent simulated]
                                 [--json results.json]
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import math
import random
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness
import orjson

from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.schemas.contracts import ContractViolation, load_contracts
from usage_pipeline.schemas.keys import subject_id
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.consent import GRANTED, ConsentState, consent_for, epoch_us
from usage_pipeline.streams.deadletter import Source
from usage_pipeline.streams.output import Output
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.policy.model import Consent
from usage_pipeline.streams.processor import (
    CONSENT_CHANGING_TYPES,
    Processor,
    Target,
    consent_change,
    serialized,
)

REPO = Path(__file__).resolve().parent.parent
POLICY = REPO / "config" / "anonymization.yaml"
UNTIL = dt.date(2026, 11, 1)
CHUNK = 200
SOURCE = Source("raw.bench", 0, 0)
TARGET_US = 10.0
TARGET_RATIO = 6.0
PURPOSES_WITH_CONSENT = ("analytics", "marketing", "partner_sharing")
STEPS = ("parse and validate", "consent", "plan", "transforms", "serialize")
MONTH = dt.timedelta(days=30)  # how far each copy of the events is moved: the run's length
_MESSAGE_TIME = re.compile(r"<(\d+)\.")  # the send time in our Message-IDs, epoch ms

Decided = list[tuple[dict, list[tuple[dict, Any]]]]  # event, (targets by consent, consent)
Planned = list[tuple[dict, list[Target]]]
Built = list[tuple[dict, list[tuple[str, dict, bytes]]]]  # event, (topic, record, tail)


def payloads(events: int, seed: int) -> list[bytes]:
    """The simulated events, serialized as the publisher serializes them."""
    config = SimulationConfig(events=events, days=30, seed=seed, until=UNTIL)
    return [orjson.dumps(event) for event in simulate(config)]


def _later(timestamp: str, months: int) -> str:
    """An RFC 3339 timestamp ``months`` copies later (whole days: the time of day stays)."""
    day = dt.date.fromisoformat(timestamp[:10]) + months * MONTH
    return day.isoformat() + timestamp[10:]


def renewed(values: list[bytes], months: int, seed: int) -> list[bytes]:
    """The events of ``values`` ``months`` copies later, under new event, session and
    message ids (the same new id for one session or message throughout the copy)."""
    if months == 0:
        return values
    ids = random.Random(seed * 1_000 + months)
    shift_ms = months * MONTH // dt.timedelta(milliseconds=1)
    sessions: dict[str, str] = {}
    result = []
    for value in values:
        event = orjson.loads(value)
        event["event_id"] = str(uuid.UUID(int=ids.getrandbits(128), version=4))
        event["occurred_at"] = _later(event["occurred_at"], months)
        properties = event["properties"]
        if "effective_at" in properties:
            properties["effective_at"] = _later(properties["effective_at"], months)
        if "message_id" in properties:
            properties["message_id"] = _MESSAGE_TIME.sub(
                lambda found: f"<{int(found[1]) + shift_ms}.", properties["message_id"], 1
            )
        context = event.get("context")
        if context and "session_id" in context:
            session = context["session_id"]
            if session not in sessions:
                digest = hashlib.blake2b(f"{months} {session}".encode(), digest_size=6)
                sessions[session] = f"sess_{digest.hexdigest()}"
            context["session_id"] = sessions[session]
        result.append(orjson.dumps(event))
    return result


def later_states(states: dict[str, ConsentState], months: int) -> dict[str, ConsentState]:
    """``states`` with every decision ``months`` copies later, as ``renewed`` moves events."""
    shift_us = months * MONTH // dt.timedelta(microseconds=1)
    return {
        subject: {purpose: [status, at + shift_us] for purpose, (status, at) in state.items()}
        for subject, state in states.items()
    }


def consent_states(values: list[bytes], mode: str) -> dict[str, ConsentState]:
    """The fixed consent state of the run, per subject."""
    states: dict[str, ConsentState] = {}
    if mode == "none":
        return states
    for value in values:
        event = orjson.loads(value)
        subject = subject_id(event)
        if mode == "granted":
            states[subject] = {p: [GRANTED, 0] for p in PURPOSES_WITH_CONSENT}
            continue
        changed = consent_change(event, states.get(subject))
        if changed is not None:
            states[subject] = changed
    return states


class Steps:
    """The processor's steps one at a time, each over the previous step's results: the
    same calls, in the same order, as ``Processor.process`` makes for a valid event."""

    def __init__(self, processor: Processor, consent_of: Callable) -> None:
        self.processor = processor
        self.consent_of = consent_of

    def parse(self, values: list[bytes]) -> list[dict]:
        parse, events = self.processor.parse, []
        for value in values:
            try:
                events.append(parse(value))
            except ContractViolation:
                continue
        return events

    def consent(self, events: list[dict]) -> Decided:
        routes, reads_consent = self.processor.routes, self.processor.reads_consent
        consent_of, decided, not_required = self.consent_of, [], Consent.NOT_REQUIRED
        for event in events:
            event_routes = routes[event["event_type"]]
            if not reads_consent[event["event_type"]]:
                decided.append((event, [(r.targets, not_required) for r in event_routes]))
                continue
            state = consent_of(subject_id(event))
            if event["event_type"] in CONSENT_CHANGING_TYPES:
                changed = consent_change(event, state)
                state = state if changed is None else changed
            occurred = epoch_us(event["occurred_at"])
            decisions = [
                (route.targets, consent_for(state, route.purpose, occurred, route.consent_required))
                for route in event_routes
            ]
            decided.append((event, decisions))
        return decided

    def plan(self, decided: Decided) -> Planned:
        planned = []
        for event, decisions in decided:
            targets = [targets[consent] for targets, consent in decisions]
            planned.append((event, [target for target in targets if target is not None]))
        return planned

    def transforms(self, planned: Planned) -> Built:
        built = []
        for event, targets in planned:
            records = []
            for target in targets:
                records.append((target.topic, target.build(event), target.tail))
            built.append((event, records))
        return built

    def serialize(self, built: Built) -> None:
        for event, records in built:
            key = event["event_id"].encode()
            for topic, record, tail in records:
                Output(topic, key, serialized(record, tail))

    def run(self, values: list[bytes]) -> list[float]:
        """CPU seconds of each step over ``values``, without garbage collection (the results
        held between steps would make it scan far more than process does)."""
        seconds, result = [], values
        gc.disable()
        for step in (self.parse, self.consent, self.plan, self.transforms, self.serialize):
            cpu = time.process_time()
            result = step(result)
            seconds.append(time.process_time() - cpu)
        gc.enable()
        return seconds


class Least:
    """The least time of each chunk over the rounds, per measured thing."""

    def __init__(self, chunks: int) -> None:
        self.times: dict[str, list[float]] = {}
        self.chunks = chunks

    def add(self, name: str, index: int, seconds: float) -> None:
        times = self.times.setdefault(name, [math.inf] * self.chunks)
        times[index] = min(times[index], seconds)

    def total(self, name: str) -> float:
        return sum(self.times[name])


def measure(
    processor: Processor,
    values: list[bytes],
    states: dict[str, ConsentState],
    rounds: int,
    seed: int,
) -> tuple[Least, float, float, int]:
    """The least times per chunk, the cold round's CPU and wall time, and the outputs made.

    The cold round reads the events as simulated; round r reads copy 2r - 1 of them, and
    the steps copy 2r (see ``renewed``)."""
    starts = range(0, len(values), CHUNK)
    process = processor.process
    consent_of = states.get
    cpu, wall, outputs = time.process_time(), time.perf_counter(), 0
    for value in values:
        outputs += len(process(value, SOURCE, consent_of).outputs)
    cold_cpu, cold_wall = time.process_time() - cpu, time.perf_counter() - wall
    least = Least(len(starts))
    for round_ in range(1, rounds + 1):
        copy, steps_copy = 2 * round_ - 1, 2 * round_
        chunks = _chunks(renewed(values, copy, seed))
        steps_chunks = _chunks(renewed(values, steps_copy, seed))
        consent_of = later_states(states, copy).get
        steps = Steps(processor, later_states(states, steps_copy).get)
        for index, chunk in enumerate(chunks):
            cpu, wall = time.process_time(), time.perf_counter()
            for value in chunk:
                process(value, SOURCE, consent_of)
            least.add("process cpu", index, time.process_time() - cpu)
            least.add("process wall", index, time.perf_counter() - wall)
            cpu, wall = time.process_time(), time.perf_counter()
            for value in chunk:
                orjson.dumps(orjson.loads(value))
            least.add("floor cpu", index, time.process_time() - cpu)
            least.add("floor wall", index, time.perf_counter() - wall)
            for name, seconds in zip(STEPS, steps.run(steps_chunks[index]), strict=True):
                least.add(name, index, seconds)
    return least, cold_cpu, cold_wall, outputs


def _chunks(values: list[bytes]) -> list[list[bytes]]:
    return [values[start : start + CHUNK] for start in range(0, len(values), CHUNK)]


def main() -> None:
    command_line = harness.parser(__doc__, "events", 100_000)
    command_line.add_argument("--rounds", type=int, default=5)
    command_line.add_argument("--seed", type=int, default=11)
    command_line.add_argument(
        "--consent", choices=("simulated", "granted", "none"), default="simulated"
    )
    args = command_line.parse_args()

    print(f"simulating {args.events:,} events ...", flush=True)
    values = payloads(args.events, args.seed)
    states = consent_states(values, args.consent)
    processor = Processor(
        Anonymizer(load_policy(POLICY), Pseudonymizer(b"b" * 32, "bench")), load_contracts()
    )
    gc.collect()
    gc.freeze()  # the payloads and the states live all run, like a worker's long-lived state
    least, cold_cpu, cold_wall, outputs = measure(processor, values, states, args.rounds, args.seed)

    count = len(values)

    def us(seconds: float) -> float:
        return seconds / count * 1e6

    process_cpu, floor_cpu = least.total("process cpu"), least.total("floor cpu")
    ratio = process_cpu / floor_cpu
    print(
        f"\n{count:,} simulated events (seed {args.seed}, 30 days), consent {args.consent}, "
        f"{outputs / count:.2f} outputs per event\n"
    )
    print(f"{'':34}{'CPU us/event':>14}{'events/s':>12}{'wall us/event':>15}")
    for label, cpu, wall in (
        ("Processor.process", process_cpu, least.total("process wall")),
        ("orjson floor (loads + dumps)", floor_cpu, least.total("floor wall")),
        ("Processor.process, cold caches", cold_cpu, cold_wall),
    ):
        print(f"{label:34}{us(cpu):>14.2f}{count / cpu:>12,.0f}{us(wall):>15.2f}")
    print(f"\nprocess / orjson floor: {ratio:.1f}x\n")
    print(f"{'step':34}{'CPU us/event':>14}{'share':>8}")
    step_cpu = {name: least.total(name) for name in STEPS}
    other = process_cpu - sum(step_cpu.values())
    for name, seconds in (*step_cpu.items(), ("other", other)):
        print(f"  {name:32}{us(seconds):>14.2f}{seconds / process_cpu:>8.0%}")
    met = us(process_cpu) <= TARGET_US and ratio <= TARGET_RATIO
    print(
        f"\ntarget: at most {TARGET_US:g} us/event (100,000 events/s) and at most "
        f"{TARGET_RATIO:g}x the floor: {'met' if met else 'not met'}"
    )
    harness.save(
        args.json,
        {
            "events": count,
            "seed": args.seed,
            "rounds": args.rounds,
            "consent": args.consent,
            "outputs_per_event": outputs / count,
            "process": {"cpu_us": us(process_cpu), "wall_us": us(least.total("process wall"))},
            "process_cold": {"cpu_us": us(cold_cpu), "wall_us": us(cold_wall)},
            "floor": {"cpu_us": us(floor_cpu), "wall_us": us(least.total("floor wall"))},
            "events_per_s": count / process_cpu,
            "ratio_to_floor": ratio,
            "steps_cpu_us": {name: us(seconds) for name, seconds in step_cpu.items()},
            "other_cpu_us": us(other),
        },
    )


if __name__ == "__main__":
    main()
