"""Keys and partitions agree with Kafka's Java client, so events meet their consent."""

from __future__ import annotations

import pytest

from usage_pipeline.schemas.keys import (
    consent_key,
    murmur2,
    partition_for,
    subject_id,
    subject_of_consent_key,
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [  # org.apache.kafka.common.utils.UtilsTest#testMurmur2
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_matches_kafkas_reference_vectors(data, expected):
    assert murmur2(data) == expected


def test_partition_is_positive_murmur2_modulo_partition_count():
    assert partition_for("foobar", 6) == (-790332482 & 0x7FFFFFFF) % 6


def test_subject_is_the_user_else_the_account():
    assert subject_id({"subject": {"account_id": "a1", "user_id": "u1"}}) == "u1"
    assert subject_id({"subject": {"account_id": "a1"}}) == "a1"


def test_consent_key_carries_its_subject():
    assert subject_of_consent_key(consent_key("u:1.x", "marketing")) == "u:1.x"
