"""The detector: full addresses and canaries are hits, truncated networks and loopback are not."""

from __future__ import annotations

import pytest

from usage_pipeline.audit.detectors import Detector


def kinds(text: str, *canaries: str) -> list[str]:
    return [hit.kind for hit in Detector(canaries).detect(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe@example.org now", ["email"]),
        ("from 203.0.113.99 today", ["ipv4"]),
        ("client 2001:db8:1:2::7 said", ["ipv6"]),
        ("mapped ::ffff:198.51.100.23", ["ipv4-mapped"]),
        ("zone fe80::1%eth0", ["ipv6"]),
        ("url /a%3A2001%3Adb8%3A1%3A2%3A%3A7/", ["ipv6"]),
    ],
)
def test_full_addresses_are_hits(text, expected):
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "network 203.0.113.0",
        "network 2001:db8:1::",
        "mapped truncated ::ffff:198.51.100.0",
        "broker 127.0.0.1:9092 and ::1 and 0.0.0.0",
        "at 12:34:56.789 on 2026-11-24",
        "k393dec29:3fa2c1d0e9b8a7f6",
        "version 2.13.15",
    ],
)
def test_truncated_networks_loopback_and_look_alikes_are_not_hits(text):
    assert kinds(text) == []


def test_canaries_match_case_insensitively_and_are_named_by_number_only():
    hits = Detector(("Zebra-Canary-42", "other")).detect("x zebra-canary-42 y")
    assert [(h.kind, h.ref) for h in hits] == [("canary", "canary #1")]


def test_a_reference_never_contains_the_value_and_repeats_within_one_detector():
    detector = Detector()
    first = detector.detect("jane.doe@example.org")
    again = detector.detect("to jane.doe@example.org")
    assert first == again
    assert "jane" not in first[0].ref
