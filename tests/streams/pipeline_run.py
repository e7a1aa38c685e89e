"""Helpers of the key tests: sample events, and the `usage-pipeline` commands as processes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

from usage_pipeline.producers.publisher import EventPublisher

REPO = Path(__file__).resolve().parents[2]
WHEN = "2026-11-20T12:00:00Z"
DAY_BEFORE = "2026-11-19T12:00:00Z"


def envelope(event_type: str, user: str, properties: dict, occurred_at: str = WHEN) -> dict:
    """A valid event of ``user``, with an e-mail, an IP address and a session."""
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": occurred_at,
        "source": "test-suite",
        "subject": {"account_id": f"acct-{user}", "user_id": user, "email": f"{user}@example.com"},
        "context": {"ip": "198.51.100.23", "session_id": f"session-{user}"},
        "properties": properties,
    }


def feature_used(user: str, occurred_at: str = WHEN) -> dict:
    """A ``usage.feature_used`` event: it feeds the service and analytics purposes."""
    return envelope("usage.feature_used", user, {"service": "s", "feature": "f"}, occurred_at)


def email_opened(user: str) -> dict:
    """An ``email.activity`` event: it feeds the service, analytics, marketing and partners."""
    properties = {
        "action": "opened",
        "campaign_id": "c1",
        "campaign_kind": "newsletter",
        "message_id": f"m-{user}",
        "recipient": f"{user}@example.com",
    }
    return envelope("email.activity", user, properties)


def granted(user: str, purpose: str) -> dict:
    """``user`` grants ``purpose`` the day before WHEN."""
    properties = {
        "purpose": purpose,
        "status": "granted",
        "source": "preference_center",
        "effective_at": DAY_BEFORE,
    }
    return envelope("consent.changed", user, properties, DAY_BEFORE)


def publish(bootstrap: str, namespace: str, events: list[dict]) -> None:
    """Publish ``events`` to their raw topics and wait for every acknowledgement."""
    with EventPublisher(bootstrap, namespace=namespace) as publisher:
        for event in events:
            publisher.publish(event)


def cli(
    *args: str, env: Mapping[str, str], stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    """Run ``usage-pipeline ARGS`` with ``env`` over a clean copy of the environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("USAGE_PIPELINE_")}
    return subprocess.run(
        [sys.executable, "-m", "usage_pipeline", *args],
        cwd=REPO, env={**environment, "COLUMNS": "200", **env}, input=stdin,
        capture_output=True, timeout=300, check=False,
    )  # fmt: skip


def lake_env(bootstrap: str, namespace: str, lake: Path) -> dict[str, str]:
    """The environment of sink and aggregate commands writing ``lake`` from ``namespace``."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "USAGE_PIPELINE_TOPICS__NAMESPACE": namespace,
        "USAGE_PIPELINE_SINK__LAKE_DIR": str(lake),
        "USAGE_PIPELINE_SINK__FLUSH_SECONDS": "1",
        "USAGE_PIPELINE_AGGREGATE__DATABASE": str(lake / "aggregates.duckdb"),
    }
