"""The consent rule: granted at the event's time and still granted now; fail closed otherwise."""

from __future__ import annotations

from usage_pipeline.streams.consent import apply_change, consent_for, epoch_us
from usage_pipeline.streams.policy.model import Consent

T0 = epoch_us("2026-11-01T10:00:00Z")
HOUR = 3600 * 1_000_000


def test_subject_without_any_record_gets_no_optional_purpose():
    assert consent_for(None, "analytics", T0, required=True) is Consent.NOT_GRANTED


def test_purpose_that_needs_no_consent_is_always_served():
    assert consent_for(None, "service", T0, required=False) is Consent.NOT_REQUIRED


def test_grant_before_the_event_covers_it():
    state = apply_change(None, "analytics", "granted", T0 - HOUR)
    assert consent_for(state, "analytics", T0, required=True) is Consent.GRANTED


def test_grant_that_arrives_after_the_event_does_not_cover_it():
    state = apply_change(None, "analytics", "granted", T0 + HOUR)
    assert consent_for(state, "analytics", T0, required=True) is Consent.NOT_GRANTED


def test_withdrawal_after_the_event_but_before_processing_wins():
    state = apply_change(None, "marketing", "granted", T0 - HOUR)
    state = apply_change(state, "marketing", "withdrawn", T0 + HOUR)
    assert consent_for(state, "marketing", T0, required=True) is Consent.NOT_GRANTED


def test_an_older_change_arriving_late_does_not_undo_a_newer_one():
    state = apply_change(None, "marketing", "withdrawn", T0)
    state = apply_change(state, "marketing", "granted", T0 - HOUR)
    assert consent_for(state, "marketing", T0 + HOUR, required=True) is Consent.NOT_GRANTED


def test_consent_is_per_purpose():
    state = apply_change(None, "analytics", "granted", T0 - HOUR)
    assert consent_for(state, "marketing", T0, required=True) is Consent.NOT_GRANTED


def test_fractional_and_whole_second_timestamps_compare_by_time():
    assert epoch_us("2026-11-01T10:00:00.5Z") > epoch_us("2026-11-01T10:00:00Z")
    assert epoch_us("2026-11-01T10:00:00+00:00") == epoch_us("2026-11-01T10:00:00Z")
