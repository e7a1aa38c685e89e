"""docker-compose.yml stays runnable for users who have Docker (no engine runs here)."""

from __future__ import annotations

import re
import tomllib

import pytest
import typer.main
import yaml

from usage_pipeline.broker.config import LocalBrokerSettings
from usage_pipeline.broker.local import kafka_version
from usage_pipeline.cli.commands import COMMANDS
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
    assert "SASL_PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]


def test_compose_kafka_version_matches_the_local_broker(compose):
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{kafka_version()}"


def test_every_long_running_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        if service.get("restart") == "on-failure":  # a one-shot job: it exits when done
            continue
        check = service.get("healthcheck", {})
        assert check.get("test"), f"service {name} has no health check"


def test_pipeline_services_wait_for_a_healthy_broker_and_use_it(compose):
    for name in ("stream", "sink", "aggregate", "collect"):
        service = compose["services"][name]
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_pipeline_services_run_commands_of_the_cli(compose):
    known = set(COMMANDS)
    for name in ("stream", "sink", "aggregate", "collect"):
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


def test_broker_requires_scram_logins_and_denies_what_no_acl_allows(compose):
    env = compose["services"]["kafka"]["environment"]
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(protocols.values()) == {"SASL_PLAINTEXT"}
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_SUPER_USERS"] == "User:admin;User:controller"


def test_each_kafka_client_service_logs_in_as_its_own_user_from_a_secret(compose):
    users = {}
    for name in ("kafka-setup", "stream", "sink", "collect"):
        service = compose["services"][name]
        env = service["environment"]
        assert env["USAGE_PIPELINE_KAFKA__SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert "USAGE_PIPELINE_KAFKA__SASL_PASSWORD" not in env
        secret = env["USAGE_PIPELINE_KAFKA__SASL_PASSWORD_FILE"].removeprefix("/run/secrets/")
        assert secret in service["secrets"]
        assert compose["secrets"][secret]["file"].startswith("./secrets/")
        users[name] = (env["USAGE_PIPELINE_KAFKA__SASL_USERNAME"], secret)
    assert users == {
        "kafka-setup": ("admin", "kafka_admin_password"),
        "stream": ("stream", "kafka_stream_password"),
        "sink": ("sink", "kafka_sink_password"),
        "collect": ("producer", "kafka_producer_password"),
    }
    assert not {s for s in compose["services"]["sink"]["secrets"] if "admin" in s}


def test_services_start_after_the_admin_created_topics_and_acls(compose):
    setup = compose["services"]["kafka-setup"]
    assert setup["command"] == ["kafka", "setup"]
    group = typer.main.get_command(app)
    with typer.Context(group) as context:
        assert "setup" in group.get_command(context, "kafka").list_commands(context)
    for name in ("stream", "sink"):
        condition = compose["services"][name]["depends_on"]["kafka-setup"]["condition"]
        assert condition == "service_completed_successfully"


def test_broker_formats_every_scram_user_the_acls_name(compose, repo_root):
    kafka = compose["services"]["kafka"]
    script = kafka["volumes"][1].split(":")[0]
    formatted = re.search(r"^users=\((.*)\)$", (repo_root / script).read_text(), re.M)
    assert formatted is not None
    assert set(formatted[1].split()) == set(LocalBrokerSettings().users.values())
    for user in (*formatted[1].split(), "controller"):
        assert f"kafka_{user}_password" in kafka["secrets"]


def test_collector_gets_its_service_tokens_from_a_secret_file(compose):
    collect = compose["services"]["collect"]
    tokens = collect["environment"]["USAGE_PIPELINE_COLLECT__TOKENS_FILE"]
    assert tokens.startswith("/run/secrets/")
    assert tokens.removeprefix("/run/secrets/") in collect["secrets"]
    assert compose["secrets"]["collect_tokens"]["file"].startswith("./secrets/")
    assert "pseudonymization_key" not in collect["secrets"]
    assert collect["command"][:3] == ["collect", "--host", "0.0.0.0"]
    assert "/healthz" in " ".join(collect["healthcheck"]["test"])


def test_the_image_copies_every_package_the_project_installs(repo_root):
    setuptools = tomllib.loads((repo_root / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = setuptools["package-dir"]
    packages = {
        folders.get(".".join(p.split(".")[:2]), "usage_pipeline") for p in setuptools["packages"]
    }
    copied = set(re.findall(r"^COPY (\S+) \1$", (repo_root / "Dockerfile").read_text(), re.M))
    assert packages <= copied
    # The shipped policy is a link into config/: the build needs its target.
    link = repo_root / "streams" / "policy" / "anonymization.yaml"
    assert link.resolve() == (repo_root / "config" / "anonymization.yaml").resolve()
    assert "config" in copied
