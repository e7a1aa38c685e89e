"""The HTTP collector's settings section (`usage-pipeline collect`)."""

from __future__ import annotations

import re
from ipaddress import ip_network
from pathlib import Path

from pydantic import Field, field_validator

from usage_pipeline.schemas.section import Section

ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?")


class CollectSettings(Section):
    """The HTTP collector (`usage-pipeline collect`): services' batches and browsers' page views."""

    host: str = Field("127.0.0.1", description="Address the collector listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port the collector listens on.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Collector processes sharing the port, each with its own producer (the "
        "per-IP page-view limit is counted per process).",
    )
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
