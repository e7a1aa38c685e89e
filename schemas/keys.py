"""Record keys and partitions: the contract that puts a subject's events and consent together.

Every raw event is keyed by its subject, and lands on the partition Kafka's Java client
would choose for that key: murmur2, positive, modulo the partition count.
Consent records are keyed by subject *and* purpose so that log compaction keeps the latest
decision for each purpose, but they are placed on their subject's partition explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CONSENT_KEY_SEPARATOR = "|"  # cannot occur in a subject id (schemas: ^[A-Za-z0-9._:-]+$)


def subject_id(event: Mapping[str, Any]) -> str:
    """The subject an event is about: its user id, else its account id."""
    subject = event["subject"]
    return str(subject.get("user_id") or subject["account_id"])


def consent_key(subject: str, purpose: str) -> str:
    """The compaction key of a consent record."""
    return f"{subject}{CONSENT_KEY_SEPARATOR}{purpose}"


def subject_of_consent_key(key: str) -> str:
    """The subject part of a consent record's key."""
    return key.split(CONSENT_KEY_SEPARATOR, 1)[0]


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (org.apache.kafka.common.utils.Utils.murmur2), as a signed int32."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` among ``partitions``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
