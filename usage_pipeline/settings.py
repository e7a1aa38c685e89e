"""The root of the settings, read once at the edge: every room's section, from every source.

Values come, highest priority first, from keyword arguments, environment variables
(``USAGE_PIPELINE_<SECTION>__<FIELD>``, plus the standard ``KAFKA_BOOTSTRAP_SERVERS``),
the TOML file named by ``USAGE_PIPELINE_CONFIG`` (default ``usage-pipeline.toml`` in the
working directory, if present), and the defaults below. ``docs/configuration.md`` lists them.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from usage_pipeline.aggregates.config import AggregateSettings
from usage_pipeline.broker.config import KafkaSettings, LocalBrokerSettings, ProducerSettings
from usage_pipeline.producers.collect.config import CollectSettings
from usage_pipeline.schemas.topics import TopicSettings
from usage_pipeline.streams.config import StreamSettings
from usage_pipeline.streams.sink.config import SinkSettings

CONFIG_FILE_ENV = "USAGE_PIPELINE_CONFIG"
DEFAULT_CONFIG_FILE = "usage-pipeline.toml"


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
