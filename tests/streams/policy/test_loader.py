"""The policy file is checked at start: every problem is named with its place."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.streams.policy.loader import PolicyError, load_policy, parse_policy
from usage_pipeline.streams.policy.model import Consent, KeyRotation

POLICY = Path(__file__).resolve().parents[3] / "config" / "anonymization.yaml"


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(POLICY.read_bytes())


def problems_of(document: dict) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(yaml.safe_dump(document).encode(), "test", load_contracts())
    return caught.value.problems


def test_shipped_policy_is_valid_and_versioned_by_its_content():
    policy = load_policy(POLICY)
    assert policy.version.startswith("sha256:")
    assert set(policy.purposes) == {
        "service",
        "analytics",
        "marketing",
        "partner_sharing",
        "traffic",
    }


def test_marketing_without_consent_sends_nothing():
    policy = load_policy(POLICY)
    assert policy.plan("email.activity", "marketing", Consent.NOT_GRANTED).skips


def test_traffic_output_carries_no_subject_and_no_pseudonym():
    policy = load_policy(POLICY)
    plan = policy.plan("traffic.web_request", "traffic", Consent.NOT_REQUIRED)
    paths = {rule.path: rule.action for rule in plan.fields}
    assert not any(path.startswith("subject.") for path in paths)
    assert "pseudonymize" not in paths.values()
    assert paths["context.ip"] == "visitor_hash"


def test_support_free_text_never_leaves(document):
    policy = load_policy(POLICY)
    for plan in policy.plans.values():
        if plan.event_type == "support.ticket" and plan.fields:
            assert "properties.description" not in {rule.path for rule in plan.fields}


def test_unknown_action_is_named(document):
    document["purposes"]["analytics"]["fields"]["context.ip"] = "hash_it"
    assert any(
        p.startswith("purposes.analytics.fields.context.ip: unknown action 'hash_it'")
        for p in problems_of(document)
    )


def test_unknown_field_is_named(document):
    document["events"]["usage.feature_used"]["fields"]["properties.colour"] = "keep"
    assert (
        "events.usage.feature_used.fields.properties.colour: unknown field of "
        "usage.feature_used" in problems_of(document)
    )


def test_unknown_event_type_is_named(document):
    document["events"]["usage.teleported"] = {"purposes": ["service"]}
    assert any(
        p.startswith("events.usage.teleported: unknown event type") for p in problems_of(document)
    )


def test_unknown_purpose_is_named(document):
    document["events"]["usage.feature_used"]["purposes"].append("resale")
    assert "events.usage.feature_used.purposes: unknown purpose 'resale'" in problems_of(document)


def test_field_without_an_action_is_refused_rather_than_kept(document):
    del document["events"]["usage.media_played"]["fields"]["properties.bytes"]
    assert any("no action for properties.bytes" in p for p in problems_of(document))


def test_purpose_needing_consent_that_no_event_can_grant_is_refused(document):
    document["purposes"]["resale"] = {**document["purposes"]["marketing"], "output": "clean.resale"}
    assert any(
        p.startswith("purposes.resale.consent: consent for 'resale' can never be granted")
        for p in problems_of(document)
    )


def test_invalid_yaml_names_the_line():
    with pytest.raises(PolicyError, match=r"line \d+: not valid YAML"):
        parse_policy(b"version: 1\npurposes: [\n", "test", load_contracts())


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(PolicyError, match="cannot read the file"):
        load_policy(tmp_path / "nope.yaml")


def test_key_rotation_links_only_the_service_purpose_and_defaults_to_unlink():
    policy = load_policy(POLICY)
    rotations = {name: purpose.key_rotation for name, purpose in policy.purposes.items()}
    assert rotations == {
        "service": KeyRotation.LINK,
        "analytics": KeyRotation.UNLINK,
        "marketing": KeyRotation.UNLINK,
        "partner_sharing": KeyRotation.UNLINK,
        "traffic": KeyRotation.UNLINK,
    }
    unsaid = yaml.safe_load(POLICY.read_bytes())
    del unsaid["purposes"]["service"]["key_rotation"]
    parsed = parse_policy(yaml.safe_dump(unsaid).encode(), "test", load_contracts())
    assert parsed.purposes["service"].key_rotation is KeyRotation.UNLINK


def test_unknown_key_rotation_is_named(document):
    broken = copy.deepcopy(document)
    broken["purposes"]["analytics"]["key_rotation"] = "relink"
    assert "purposes.analytics.key_rotation: must be 'unlink' or 'link'" in problems_of(broken)


def test_url_rules_that_cannot_work_are_named(document):
    broken = copy.deepcopy(document)
    broken["parameters"]["url"] = {
        "placeholder": "/id?",
        "own_identifiers": ["subject.phone", "event_id"],
        "id_segments": {"open": "[0-9", "empty": "[0-9]*", "grouped": "(usr|acct)_[0-9]+"},
    }
    found = problems_of(broken)
    for expected in (
        "parameters.url.placeholder: must be 1 to 32 of",
        "parameters.url.own_identifiers: 'subject.phone' is not a field of subject or context",
        "parameters.url.own_identifiers: 'event_id' is not a field of subject or context",
        "parameters.url.id_segments.open: is not a valid regular expression",
        "parameters.url.id_segments.empty: matches an empty segment",
        "parameters.url.id_segments.grouped: has a capturing group",
    ):
        assert any(p.startswith(expected) for p in found), expected


def test_without_a_url_section_the_subjects_own_ids_still_leave_no_url():
    unsaid = yaml.safe_load(POLICY.read_bytes())
    del unsaid["parameters"]["url"]
    parsed = parse_policy(yaml.safe_dump(unsaid).encode(), "test", load_contracts())
    assert parsed.parameters.url.own_identifiers == (
        "subject.user_id",
        "subject.account_id",
        "context.session_id",
    )
    assert parsed.parameters.url.id_segments == ()
