"""The Kafka clients' settings: how to reach the cluster, the local broker, the producer."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from usage_pipeline.schemas.section import Section

LocalRole = Literal["admin", "producer", "stream", "sink"]


class LocalBrokerSettings(Section):
    """The single-node Kafka broker that `usage-pipeline kafka up` runs on 127.0.0.1."""

    port: int = Field(9092, ge=1, le=65535, description="Client listener port.")
    controller_port: int = Field(9093, ge=1, le=65535, description="KRaft controller port.")
    heap: str = Field("512m", description="JVM maximum heap (-Xmx).")
    jar_cache: Path = Field(
        Path.home() / ".cache" / "usage-pipeline" / "kafka",
        description="Where Maven copies the broker's jars; shared by every checkout.",
    )
    start_timeout_s: float = Field(90.0, gt=0, description="How long `kafka up` waits.")
    security: Literal["none", "sasl_scram"] = Field(
        "none", description="sasl_scram: SCRAM logins and ACLs, one user per role."
    )
    users: dict[LocalRole, str] = Field(
        {"admin": "admin", "producer": "producer", "stream": "stream", "sink": "sink"},
        description="Principal name of each role's user (admin is the super user).",
    )
    passwords: dict[LocalRole, SecretStr] = Field(
        {}, description="Role -> password; a role left out gets one generated at first format."
    )

    @field_validator("users")
    @classmethod
    def _keep_other_users(cls, value: dict[str, str]) -> dict[str, str]:
        """Renaming one role's user keeps the default names of the others."""
        return {**cls.model_fields["users"].default, **value}


class KafkaSettings(Section):
    """How every client reaches Kafka."""

    bootstrap_servers: str | None = Field(
        None,
        description="An existing cluster; when set, nothing starts a local broker.",
    )
    client_id: str = Field("usage-pipeline", description="Client id prefix seen by the broker.")
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="SASL_SSL in production; SASL_PLAINTEXT only on a trusted network."
    )
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism of the login."
    )
    sasl_username: str | None = Field(None, description="This client's SASL user.")
    sasl_password: SecretStr | None = Field(None, description="Its password; prefer the file.")
    sasl_password_file: Path | None = Field(
        None, description="File holding the password (e.g. a Docker secret)."
    )


class ProducerSettings(Section):
    """How the producer library batches, compresses and bounds its queue."""

    linger_ms: int = Field(20, ge=0, description="How long a batch waits to fill.")
    compression: Literal["lz4", "zstd", "snappy", "gzip", "none"] = Field(
        "lz4", description="Batch compression codec."
    )
    batch_size_bytes: int = Field(1_000_000, ge=1024, description="Largest batch per partition.")
    queue_max_messages: int = Field(
        100_000, ge=1, description="Events waiting for the broker; beyond this, publish blocks."
    )
    delivery_timeout_ms: int = Field(
        120_000, ge=1000, description="After this, an unacknowledged event is reported failed."
    )
    max_event_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest serialized event accepted (bytes)."
    )
