"""Every topic the pipeline creates or reads, in one registry: name, creation settings, users.

It sits at the lowest layer (as Snuba's ``snuba/utils/streams/topics.py`` does) so that
producers, streams, the sink, the broker's ACLs, subject commands, the audit and the docs
take names from one place, and no layer reaches into another for a topic name. A namespace
(``topics.namespace`` in settings, e.g. ``staging.``) prefixes every name, so several
deployments or test runs can share one cluster.

``readers`` and ``writers`` name the roles that really read and write each topic: the
broker's ACLs (``broker/acls.py``) grant exactly those, so a new topic gets its access rules
where it is declared. The admin (subject commands, audit) is a super user and is not listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from pydantic import Field

from usage_pipeline.schemas.section import Section

Role = Literal["producer", "stream", "sink"]

HOUR_MS: Final = 3600 * 1000
DAY_MS: Final = 24 * HOUR_MS
DEAD_LETTER_RETENTION_DAYS: Final = 30

CONSENT_FAMILY: Final = "consent"
RAW_FAMILIES: Final = ("usage", "traffic", "email", "account", "support", CONSENT_FAMILY)
CLEAN_PREFIX: Final = "clean."


class TopicSettings(Section):
    """The topics the project creates."""

    namespace: str = Field(
        "",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Prefix of every topic name, e.g. 'staging.', to share a cluster.",
    )
    partitions: int = Field(
        12,
        ge=1,
        description="Partitions of every pipeline topic: the most stream workers one group can "
        "use. Raising it later moves subjects to other partitions (docs/stream.md).",
    )
    replication_factor: int = Field(1, ge=1, description="Replicas of every pipeline topic.")
    raw_retention_days: float = Field(
        7.0, gt=0, description="Retention of raw topics, which hold personal data in the clear."
    )

    @property
    def raw_retention_ms(self) -> int:
        """``raw_retention_days`` in milliseconds, as Kafka's topic configs take it."""
        return int(self.raw_retention_days * 24 * 3600 * 1000)


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: its full name, partition count and topic-level configs."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    replication_factor: int = 1


@dataclass(frozen=True)
class Lifetimes:
    """How long records live: raw data, and a visitor salt."""

    raw_retention_ms: int
    salt_lifetime_ms: int | None  # only the stream's topics need it


def _deleted_with_raw_data(life: Lifetimes) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(life.raw_retention_ms)}


def _latest_consent_kept(life: Lifetimes) -> dict[str, str]:
    # The latest decision per subject and purpose is kept while the subject exists; superseded
    # ones (and an erased subject's) are compacted away within the raw retention.
    return {
        "cleanup.policy": "compact",
        "min.compaction.lag.ms": str(min(DAY_MS, life.raw_retention_ms)),  # Kafka: min <= max
        "max.compaction.lag.ms": str(life.raw_retention_ms),
    }


def _dead_letters_kept(_: Lifetimes) -> dict[str, str]:
    return {"retention.ms": str(DEAD_LETTER_RETENTION_DAYS * DAY_MS)}


def _each_pair_once(_: Lifetimes) -> dict[str, str]:
    return {"cleanup.policy": "compact"}


def _gone_with_the_salt(life: Lifetimes) -> dict[str, str]:
    # Compacted for tombstones and deleted by age, so a salt leaves the disk within its
    # lifetime + segment.ms (+ the broker's retention check).
    if life.salt_lifetime_ms is None:
        raise ValueError("the visitor salts topic needs the salts' lifetime")
    roll_ms = min(HOUR_MS, life.salt_lifetime_ms)
    return {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(life.salt_lifetime_ms),
        "segment.ms": str(roll_ms),
        "min.compaction.lag.ms": "0",
        "max.compaction.lag.ms": str(roll_ms),
        "delete.retention.ms": str(roll_ms),
    }


@dataclass(frozen=True)
class Topic:
    """One topic of the registry, or (``family``) the topics whose names start with ``name``."""

    name: str
    holds: str
    readers: tuple[Role, ...]
    writers: tuple[Role, ...]
    config: Callable[[Lifetimes], dict[str, str]]
    single_partition: bool = False  # one order every reader agrees on
    family: bool = False  # the members are named elsewhere (clean outputs: by the policy)

    def full_name(self, namespace: str = "") -> str:
        """The name in a namespace (for a family: the prefix of its members)."""
        return namespace + self.name


def raw_topic(family: str, namespace: str = "") -> str:
    """The raw topic of a family, e.g. ``raw.usage``."""
    return f"{namespace}raw.{family}"


def _raw(family: str) -> Topic:
    return Topic(
        raw_topic(family),
        f"{family} events as services sent them (personal data in the clear)",
        readers=("stream",),
        writers=("producer",),
        config=_deleted_with_raw_data,
    )


RAW_EVENTS: Final = {family: _raw(family) for family in RAW_FAMILIES if family != CONSENT_FAMILY}
CONSENT: Final = Topic(
    raw_topic(CONSENT_FAMILY),
    "consent decisions; the stream adds the ones it derives (an unsubscribe) and moves "
    "misplaced ones to their subject's partition",
    readers=("stream",),
    writers=("producer", "stream"),
    config=_latest_consent_kept,
)
CLEAN: Final = Topic(
    CLEAN_PREFIX,
    "anonymized events, one topic per purpose of the policy (its `output`)",
    readers=("sink",),
    writers=("stream",),
    config=_deleted_with_raw_data,
    family=True,
)
DEAD_LETTER: Final = Topic(
    "dead.letter",
    "events that failed, redacted, with the reason",
    readers=(),
    writers=("stream",),
    config=_dead_letters_kept,
)
KEY_LINKS: Final = Topic(
    "keys.links",
    "pseudonyms of one identifier under the previous and the current key",
    readers=(),
    writers=("stream",),
    config=_each_pair_once,
)
VISITOR_SALTS: Final = Topic(
    "visitors.salts",
    "each day's visitor salt, agreed between workers, destroyed after its lifetime",
    readers=("stream",),
    writers=("stream",),
    config=_gone_with_the_salt,
    single_partition=True,
)

TOPICS: Final = (*RAW_EVENTS.values(), CONSENT, CLEAN, DEAD_LETTER, KEY_LINKS, VISITOR_SALTS)
RAW_TOPICS: Final = (*RAW_EVENTS.values(), CONSENT)
STREAM_TOPICS: Final = (CLEAN, DEAD_LETTER, KEY_LINKS, VISITOR_SALTS)


def family_of(event_type: str) -> str:
    """The family of an event type: the part before the first dot (``usage.feature_used``)."""
    return event_type.split(".", 1)[0]


def raw_topics(namespace: str = "") -> tuple[str, ...]:
    """Every raw topic."""
    return tuple(topic.full_name(namespace) for topic in RAW_TOPICS)


def topic_specs(
    topics: Iterable[Topic],
    settings: TopicSettings,
    clean_outputs: Iterable[str] = (),
    salt_lifetime_ms: int | None = None,
) -> list[TopicSpec]:
    """What to create for ``topics``; a family becomes one topic per name in ``clean_outputs``."""
    life = Lifetimes(settings.raw_retention_ms, salt_lifetime_ms)
    specs = []
    for topic in topics:
        names = sorted(set(clean_outputs)) if topic.family else [topic.name]
        partitions = 1 if topic.single_partition else settings.partitions
        specs += [
            TopicSpec(
                settings.namespace + name,
                partitions,
                topic.config(life),
                settings.replication_factor,
            )
            for name in names
        ]
    return specs
