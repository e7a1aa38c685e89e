"""Settings come from defaults, a TOML file and environment variables, in that order."""

from __future__ import annotations

import sys

import pytest
from pydantic import ValidationError

from usage_pipeline.cli.main import main
from usage_pipeline.settings import load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "USAGE_PIPELINE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_use_the_local_broker_on_port_9092():
    settings = load_settings()
    assert settings.kafka.bootstrap_servers is None
    assert settings.local_broker.port == 9092


def test_toml_file_in_the_working_directory_is_read(tmp_path):
    (tmp_path / "usage-pipeline.toml").write_text("[local_broker]\nport = 19999\n")
    assert load_settings().local_broker.port == 19999


def test_config_file_named_by_environment_is_read(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.toml"
    path.write_text('[kafka]\nclient_id = "svc"\n')
    monkeypatch.setenv("USAGE_PIPELINE_CONFIG", str(path))
    assert load_settings().kafka.client_id == "svc"


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    (tmp_path / "usage-pipeline.toml").write_text("[local_broker]\nport = 19999\n")
    monkeypatch.setenv("USAGE_PIPELINE_LOCAL_BROKER__PORT", "29999")
    assert load_settings().local_broker.port == 29999


def test_standard_kafka_bootstrap_variable_selects_an_external_cluster(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    assert load_settings().kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092"


def test_invalid_value_names_the_field(monkeypatch):
    monkeypatch.setenv("USAGE_PIPELINE_LOCAL_BROKER__PORT", "not-a-port")
    with pytest.raises(ValidationError, match=r"local_broker\.port"):
        load_settings()


def test_unknown_setting_in_the_file_is_refused(tmp_path):
    (tmp_path / "usage-pipeline.toml").write_text("[local_broker]\nprot = 1\n")
    with pytest.raises(ValidationError, match="prot"):
        load_settings()


def test_malformed_json_setting_ends_the_command_with_one_line_and_no_value(monkeypatch, capsys):
    monkeypatch.setenv("USAGE_PIPELINE_SINK__RETENTION_DAYS", '{"traffic": ann@example.com')
    monkeypatch.setattr(sys, "argv", ["usage-pipeline", "sink"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert '"sink"' in error and "Traceback" not in error
    assert "ann@example.com" not in error
