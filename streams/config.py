"""The stream worker's settings section (`usage-pipeline stream`)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from usage_pipeline.schemas.section import Section

KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class StreamSettings(Section):
    """The anonymization worker (`usage-pipeline stream`)."""

    app_id: str = Field(
        "usage-pipeline-stream",
        description="Consumer group of the workers, and prefix of their transactional ids.",
    )
    instance_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="This worker's stable name (transactional id and static group member); "
        "default: the host name. With --processes N, instance i is `<instance_id>-<i>`.",
    )
    processes: int = Field(1, ge=1, le=64, description="Worker processes this command runs.")
    policy_file: Path | None = Field(
        None,
        description="The anonymization policy compliance reviews; unset: the one shipped with "
        "the package (config/anonymization.yaml in the source).",
    )
    pseudonymization_key: SecretStr | None = Field(
        None, description="Base64 of the HMAC key (at least 32 bytes); prefer the key file."
    )
    pseudonymization_key_file: Path | None = Field(
        None, description="File holding the HMAC key's raw bytes (at least 32)."
    )
    key_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="Id written with every pseudonym; default derived from the key.",
    )
    previous_key_files: dict[str, Path] = Field(
        {},
        description="Key id -> file of a key this one replaced; only links pseudonyms of "
        "purposes whose policy says `key_rotation: link`.",
    )
    batch_max: int = Field(
        10_000,
        ge=1,
        description="Most records read in one round; a round that gets fewer waits for more "
        "(up to the gate's wait), so small rounds wait often.",
    )
    batch_within_s: float = Field(0.5, gt=0, description="Longest wait for a round's records.")
    hold_per_partition: int = Field(
        300,
        ge=1,
        description="Records of one topic-partition held, waiting for the other topics of its "
        "partition, past which it stops being fetched (Kafka Streams' "
        "buffered.records.per.partition, 1000 there); bounds the worker's memory while it "
        "catches up.",
    )
    commit_interval_s: float = Field(
        0.5, gt=0, description="Longest time between two transaction commits."
    )
    commit_every: int = Field(
        50_000, ge=1, description="Records processed that force a commit sooner."
    )
    consent_grace_s: float = Field(
        1.0,
        ge=0,
        description="How late a record may reach the broker after its timestamp and still be "
        "put in order: consent written up to this long after an event it precedes is applied "
        "first. Also the least latency a live event gets.",
    )
    transaction_timeout_s: float = Field(
        30.0, ge=1, description="Broker aborts a transaction left open this long (a crash)."
    )
    session_timeout_s: float = Field(
        30.0,
        ge=6,
        description="A stopped worker keeps its partitions this long (static membership); a "
        "restart within it resumes without a rebalance.",
    )
    visitor_salt_lifetime_s: float = Field(
        48 * 3600, gt=0, description="A day's visitor salt is destroyed this long after it is made."
    )
    liveness_timeout_s: float = Field(
        60.0,
        gt=0,
        description="When the loop has not gone round for this long, /healthz fails and the "
        "worker exits (a supervisor starts it again).",
    )
    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Port of /healthz and /metrics (Prometheus); none when unset. With "
        "--processes N, process i serves on metrics_port + i.",
    )
    metrics_host: str = Field("127.0.0.1", description="Address /healthz and /metrics bind to.")

    @field_validator("previous_key_files")
    @classmethod
    def _key_ids(cls, value: dict[str, Path]) -> dict[str, Path]:
        """Checked here, not by a pattern on the keys: pydantic would echo a bad id (a key
        pasted there by mistake) in the error's location."""
        if not all(KEY_ID.fullmatch(key_id) for key_id in value):
            raise ValueError("every key id must be 1 to 32 characters of A-Z, a-z, 0-9, _ or -")
        return value
