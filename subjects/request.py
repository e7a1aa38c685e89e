"""Everything a subject command needs, loaded and checked before anything is read or changed.

The key is loaded first: without it no pseudonym can be computed, so a subject's rows could
not be found, and an erasure would report "nothing found" while leaving them all. Failing
there (exit 1) is failing closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from usage_pipeline.broker.admin import describe_cluster
from usage_pipeline.broker.security import Cluster
from usage_pipeline.schemas.topics import (
    CONSENT_FAMILY,
    DEAD_LETTER,
    KEY_LINKS,
    raw_topic,
    raw_topics,
)
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.config import StreamSettings
from usage_pipeline.streams.policy.loader import load_policy, policy_path
from usage_pipeline.streams.policy.model import Policy
from usage_pipeline.streams.secret_key import load_pseudonymizer
from usage_pipeline.streams.sink.layout import LakeLayout
from usage_pipeline.streams.topics import clean_topics
from usage_pipeline.subjects.identity import SubjectIdentity, identify
from usage_pipeline.subjects.stores import Stores


@dataclass(frozen=True)
class SubjectRequest:
    """One subject command's context: the subject, the policy and key, and where the stores are."""

    stores: Stores
    policy: Policy
    policy_file: Path
    pseudonymizer: Pseudonymizer
    cluster: Cluster
    topics: dict[str, int]  # every topic of the cluster, with its partition count
    identity: SubjectIdentity

    @property
    def layout(self) -> LakeLayout:
        """The Parquet lake."""
        return LakeLayout(self.stores.lake_dir)

    @property
    def consent_topic(self) -> str:
        """The compacted raw consent topic."""
        return raw_topic(CONSENT_FAMILY, self.stores.namespace)

    @property
    def key_links_topic(self) -> str:
        """The compacted topic of (previous, current) pseudonym pairs of a key rotation."""
        return KEY_LINKS.full_name(self.stores.namespace)

    @property
    def event_topics(self) -> list[str]:
        """The raw event topics (consent left out) and the clean topics that exist."""
        namespace = self.stores.namespace
        names = [t for t in raw_topics(namespace) if t != self.consent_topic]
        names += clean_topics(self.policy, namespace)
        return [name for name in names if name in self.topics]

    @property
    def dead_letter_topic(self) -> str:
        """The dead-letter topic."""
        return DEAD_LETTER.full_name(self.stores.namespace)


def open_request(
    stores: Stores, stream: StreamSettings, admin: Cluster, subject_id: str, email: str | None
) -> SubjectRequest:
    """Load key, policy and cluster for one subject; raises before anything is touched.

    ``admin`` must be the admin's login: a subject command reads every store and writes
    tombstones."""
    pseudonymizer = load_pseudonymizer(stream)
    policy = load_policy(stream.policy_file)
    topics = describe_cluster(admin).topics
    identity = identify(subject_id, email, policy, pseudonymizer)
    return SubjectRequest(
        stores, policy, policy_path(stream.policy_file), pseudonymizer, admin, topics, identity
    )
