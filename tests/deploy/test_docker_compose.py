"""docker-compose.yml stays runnable for users who have Docker (no engine runs here)."""

from __future__ import annotations

import re

import pytest
import typer.main
import yaml

from broker.local import kafka_version
from usage_pipeline.cli.main import app


@pytest.fixture(scope="module")
def compose(repo_root) -> dict:
    return yaml.safe_load((repo_root / "docker-compose.yml").read_text())


def test_kafka_service_runs_the_official_image_in_kraft_mode(compose):
    kafka = compose["services"]["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", kafka["image"])
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]


def test_compose_kafka_version_matches_the_local_broker(compose):
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{kafka_version()}"


def test_every_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {})
        assert check.get("test"), f"service {name} has no health check"


def test_pipeline_services_wait_for_a_healthy_broker_and_use_it(compose):
    for name in ("stream", "sink", "aggregate"):
        service = compose["services"][name]
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_pipeline_services_run_commands_of_the_cli(compose):
    click_app = typer.main.get_command(app)
    known = set(click_app.commands)
    for name in ("stream", "sink", "aggregate"):
        command = compose["services"][name]["command"][0]
        assert command in known, f"service {name} runs unknown command {command!r}"


def test_stream_worker_gets_its_key_from_a_secret_file_not_the_environment(compose):
    stream = compose["services"]["stream"]
    assert "pseudonymization_key" in stream["secrets"]
    assert stream["environment"]["USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE"].startswith(
        "/run/secrets/"
    )
    assert "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY" not in stream["environment"]
    assert compose["secrets"]["pseudonymization_key"]["file"].startswith("./secrets/")
