"""Every setting of the pipeline: typed, with its default and its environment variable.

Values come, highest priority first, from keyword arguments, environment variables
(``USAGE_PIPELINE_<SECTION>__<FIELD>``, plus the standard ``KAFKA_BOOTSTRAP_SERVERS``),
the TOML file named by ``USAGE_PIPELINE_CONFIG`` (default ``usage-pipeline.toml`` in the
working directory, if present), and the defaults below. ``docs/configuration.md`` lists them.
"""

from __future__ import annotations

import os
import re
from ipaddress import ip_network
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "USAGE_PIPELINE_CONFIG"
DEFAULT_CONFIG_FILE = "usage-pipeline.toml"
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?")


class Section(BaseModel):
    """A group of settings; a misspelt name is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


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
    batch_max: int = Field(5000, ge=1, description="Most records read in one round.")
    batch_within_s: float = Field(0.5, gt=0, description="Longest wait for a round's records.")
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


class SinkSettings(Section):
    """The Parquet lake sink (`usage-pipeline sink`) and lake housekeeping."""

    lake_dir: Path = Field(Path("lake"), description="Root folder of the Parquet lake.")
    group_id: str = Field("usage-pipeline-sink", description="Consumer group of the sink.")
    flush_rows: int = Field(100_000, ge=1, description="Rows of one partition that force a flush.")
    flush_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        description="Bytes of records held (buffered or being written) that force a flush.",
    )
    flush_seconds: float = Field(
        2.0,
        gt=0,
        description="Longest time a record waits in a buffer; with the worker's commit "
        "interval it bounds publish-to-Parquet latency at rest (p99 under 5 s).",
    )
    dedupe_max_ids: int = Field(
        2_000_000, ge=1, description="Event ids kept in memory to drop duplicates (soft limit)."
    )
    retention_days: dict[str, PositiveInt] = Field(
        {"service": 400, "analytics": 400, "marketing": 90, "partner_sharing": 30, "traffic": 30},
        description="Days each purpose's lake partitions are kept, by event date.",
    )

    @field_validator("retention_days")
    @classmethod
    def _keep_other_defaults(cls, value: dict[str, int]) -> dict[str, int]:
        """Setting one purpose's retention keeps the default of the others."""
        default = cls.model_fields["retention_days"].default
        return {**default, **value}


class AggregateSettings(Section):
    """The DuckDB aggregates (`usage-pipeline aggregate`); they read `sink.lake_dir`."""

    database: Path = Field(
        Path("lake/aggregates.duckdb"),
        description="DuckDB file with one view per aggregate, for analysts.",
    )
    k: int = Field(
        10, ge=2, description="Smallest number of distinct subjects a published cell may count."
    )


class CollectSettings(Section):
    """The HTTP collector (`usage-pipeline collect`): services' batches and browsers' page views."""

    host: str = Field("127.0.0.1", description="Address the collector listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port the collector listens on.")
    tokens_file: Path | None = Field(
        None, description="One `<service> <token>` per line; without it every batch gets 401."
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body, compressed or decompressed."
    )
    ack_timeout_s: float = Field(
        10.0, gt=0, description="Longest wait for Kafka's acknowledgement before a 503."
    )
    retry_after_s: int = Field(5, ge=1, description="Retry-After of a 503.")
    linger_ms: int = Field(
        5, ge=0, description="Producer linger of the collector (latency of each request)."
    )
    trusted_proxies: list[str] = Field(
        [], description="Networks (CIDR) whose X-Forwarded-For is believed."
    )
    site_origins: list[str] = Field(
        [], description="Origins (scheme://host[:port]) whose page views are collected."
    )
    pageviews_per_s_per_ip: float = Field(
        5.0, gt=0, description="Sustained page views per second one client IP may send."
    )
    pageview_burst: int = Field(20, ge=1, description="Page views one client IP may send at once.")
    rate_limit_max_ips: int = Field(
        100_000, ge=1, description="Client IPs whose rate-limit buckets are kept in memory."
    )
    source: str = Field(
        "web-collector",
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        description="`source` of the page-view and consent events the collector builds.",
    )
    header_read_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Longest time a client may take to send its request headers (also the "
        "idle time after which a keep-alive connection closes).",
    )
    body_read_timeout_s: float = Field(
        10.0, gt=0, description="Longest time a client may take to send its request body."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        """Each entry must be an IP network; the bad entry is named by position, not echoed."""
        for number, entry in enumerate(value, 1):
            try:
                ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"entry {number} is not an IP address or network") from None
        return value

    @field_validator("site_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        """Origins as browsers send them: scheme and host, maybe a port, nothing else."""
        for number, origin in enumerate(value, 1):
            if not ORIGIN.fullmatch(origin):
                raise ValueError(f"entry {number} is not an origin like https://www.example.com")
        return [origin.lower() for origin in value]


class Settings(BaseSettings):
    """The root of all settings."""

    model_config = SettingsConfigDict(
        env_prefix="USAGE_PIPELINE_",
        env_nested_delimiter="__",
        extra="forbid",
        # Errors name the field, never its value: a key set in the wrong variable stays secret.
        hide_input_in_errors=True,
    )

    home: Path = Field(
        Path(".usage-pipeline"),
        description="State folder: the local broker's data, logs and pid file.",
    )
    kafka: KafkaSettings = KafkaSettings()
    local_broker: LocalBrokerSettings = LocalBrokerSettings()
    topics: TopicSettings = TopicSettings()
    producer: ProducerSettings = ProducerSettings()
    stream: StreamSettings = StreamSettings()
    sink: SinkSettings = SinkSettings()
    aggregate: AggregateSettings = AggregateSettings()
    collect: CollectSettings = CollectSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment, then the TOML file, then defaults."""
        config_file = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        return (
            init_settings,
            _StandardKafkaEnv(settings_cls),
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file),
        )


class _StandardKafkaEnv(PydanticBaseSettingsSource):
    """Honours the conventional ``KAFKA_BOOTSTRAP_SERVERS`` variable."""

    def get_field_value(self, field: object, field_name: str) -> tuple[object, str, bool]:
        """Unused: values come from __call__."""
        return None, field_name, False

    def __call__(self) -> dict[str, object]:
        """Return ``{"kafka": {"bootstrap_servers": ...}}`` when the variable is set."""
        value = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        return {"kafka": {"bootstrap_servers": value}} if value else {}


def load_settings(**overrides: object) -> Settings:
    """Read the settings from all sources; raises pydantic.ValidationError naming the field."""
    return Settings(**overrides)


__all__ = [
    "CONFIG_FILE_ENV",
    "AggregateSettings",
    "CollectSettings",
    "KafkaSettings",
    "LocalBrokerSettings",
    "ProducerSettings",
    "Settings",
    "SinkSettings",
    "StreamSettings",
    "TopicSettings",
    "load_settings",
]
