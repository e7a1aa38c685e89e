"""The whole pipeline as docker-compose runs it, with SASL/SCRAM and ACLs, on a real broker.

No Docker engine runs here, so each service of docker-compose.yml runs as a process: its
command and its environment are read from the compose file (so the two cannot drift), its
secrets are files, and it logs in as its own Kafka user. Only what a container changes is
mapped: the broker's address, ``/run/secrets/<name>``, the named volumes (each a folder),
listen addresses (``0.0.0.0`` and the container ports), and the host name that names each
stream replica.

The services run in compose's order: `kafka setup` as the admin, two stream replicas, the
sink and the collector; a few thousand simulated events arrive through the collector, with
a subject's own unsubscribe and partner opt-out among them. Then compose's aggregate
service builds once, two subjects are erased (as the admin, with the key), and the leak
audit scans the lake, the database, the dead letters and every service's log, with the
erased subjects' addresses as canaries. Every stage must finish and the audit be clean.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
import yaml

from tests.conftest import free_port
from tests.streams.test_worker import consent, feature, mail
from tests.subjects.test_end_to_end import pick_subject
from usage_pipeline.broker.admin import consumer_lag, read_topic
from usage_pipeline.broker.config import LocalBrokerSettings
from usage_pipeline.broker.local import LocalBroker
from usage_pipeline.schemas.topics import raw_topics
from usage_pipeline.streams.config import StreamSettings
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.sink.config import SinkSettings
from usage_pipeline.streams.topics import clean_topics

pytestmark = pytest.mark.kafka

SECRETS = "/run/secrets/"
EVENTS = 4000
POST_LINES = 500
WAIT_S = 600.0
# One subject of our own: grants, events, then an unsubscribe and a partner opt-out.
USER = "u-compose-erased"
DAY = "2026-12-01T{}:00:00Z"
OWN_EVENTS = [
    consent(USER, "analytics", "granted", DAY.format("08")),
    consent(USER, "marketing", "granted", DAY.format("08")),
    consent(USER, "partner_sharing", "granted", DAY.format("08")),
    feature(USER, DAY.format("09")),
    mail(USER, "opened", DAY.format("09")),
    mail(USER, "unsubscribed", DAY.format("10")),
    consent(USER, "partner_sharing", "withdrawn", DAY.format("11")),
    mail(USER, "clicked", DAY.format("12")),
    feature(USER, DAY.format("12")),
]


@dataclass
class Deployment:
    """docker-compose.yml's services, run as processes against one secured broker."""

    compose: dict
    root: Path
    broker: LocalBroker
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)  # container port -> host port

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def lake(self) -> Path:
        return self.volumes()["/lake"]

    def volumes(self) -> dict[str, Path]:
        """Where each named volume is mounted in the containers -> the folder standing for it."""
        return {
            target: self.root / "volumes" / source
            for service in self.compose["services"].values()
            for source, target, *_ in (m.split(":") for m in service.get("volumes", []))
            if source in self.compose["volumes"]
        }

    def map_value(self, value: object) -> str:
        """A value as the container sees it, turned into its counterpart here."""
        text = str(value)
        kafka = self.compose["services"]["kafka"]
        listener = re.search(
            r"SASL_PLAINTEXT://([^,]+)", kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        )
        assert listener is not None
        text = text.replace(listener[1], self.broker.bootstrap_servers)
        if text.startswith(SECRETS):
            return str(self.secrets_dir / text.removeprefix(SECRETS))
        for mount, folder in self.volumes().items():
            if text == mount or text.startswith(mount + "/"):
                return str(folder) + text.removeprefix(mount)
        if text == "0.0.0.0":
            return "127.0.0.1"
        return str(self.ports.get(text, text))

    def env(self, service: str, replica: int | None = None) -> dict[str, str]:
        """The service's compose environment, mapped, over this process's (minus settings)."""
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("USAGE_PIPELINE_", "KAFKA_"))
        }
        env = {
            k: self.map_value(v)
            for k, v in self.compose["services"][service]["environment"].items()
        }
        if replica is not None:
            # Each container has a host name of its own (the worker's default instance id)
            # and a network of its own (so every replica can serve metrics on one port).
            env["USAGE_PIPELINE_STREAM__INSTANCE_ID"] = f"{service}-{replica}"
            if "USAGE_PIPELINE_STREAM__METRICS_PORT" in env:
                env["USAGE_PIPELINE_STREAM__METRICS_PORT"] = str(free_port())
        return {**base, "COLUMNS": "200", **env}

    def command(self, service: str) -> list[str]:
        return [self.map_value(arg) for arg in self.compose["services"][service]["command"]]

    def log(self, name: str) -> Path:
        folder = self.root / "logs"
        folder.mkdir(exist_ok=True)
        return folder / f"{name}.log"

    def start(self, service: str, replica: int | None = None) -> subprocess.Popen:
        """Start a service's command in the background, in a working directory that is not
        the repository."""
        name = service if replica is None else f"{service}-{replica}"
        with self.log(name).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "usage_pipeline", *self.command(service)],
                cwd=self.root, env=self.env(service, replica), stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        self.processes[name] = process
        return process

    def run(self, service: str, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run a one-shot command with ``service``'s environment; its output (exit 0 asserted)."""
        result = subprocess.run(
            [sys.executable, "-m", "usage_pipeline", *args],
            cwd=self.root, env={**self.env(service), **(env or {})}, capture_output=True,
            text=True, timeout=WAIT_S, check=False,
        )  # fmt: skip
        output = result.stdout + result.stderr
        with self.log("-".join(a for a in args[:2] if not a.startswith("-"))).open("a") as log:
            log.write(output)
        assert result.returncode == 0, f"`{' '.join(args)}` failed:\n{output[-3000:]}"
        return output

    def alive(self, name: str) -> None:
        process = self.processes[name]
        assert process.poll() is None, f"{name} exited:\n{self.log(name).read_text()[-3000:]}"

    def stop(self, name: str) -> int:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        return process.wait()


def write_secrets(deployment: Deployment) -> None:
    """Each compose secret as a file: the broker's generated passwords, a key, a token."""
    deployment.secrets_dir.mkdir(mode=0o700)
    for name in deployment.compose["secrets"]:
        role = re.fullmatch(r"kafka_(\w+)_password", name)
        if role:
            content = (deployment.broker.credentials_dir / role[1]).read_bytes()
        elif name == "pseudonymization_key":
            content = secrets.token_bytes(32)
        elif name == "collect_tokens":
            content = f"billing-api {secrets.token_urlsafe(30)}\n".encode()
        else:
            raise AssertionError(f"docker-compose.yml has a secret this test does not know: {name}")
        path = deployment.secrets_dir / name
        path.write_bytes(content)
        path.chmod(0o600)


def post_events(deployment: Deployment, lines: list[bytes]) -> int:
    """POST the events to the collector in batches, with the service token; accepted count."""
    token = (deployment.secrets_dir / "collect_tokens").read_text().split()[1]
    accepted = 0
    for start in range(0, len(lines), POST_LINES):
        connection = http.client.HTTPConnection("127.0.0.1", deployment.ports["8080"], timeout=60)
        try:
            connection.request(
                "POST", "/v1/events", b"\n".join(lines[start : start + POST_LINES]),
                {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
            )  # fmt: skip
            response = connection.getresponse()
            answer = json.loads(response.read())
        finally:
            connection.close()
        assert response.status == 200, answer
        assert answer["rejected"] == [], answer["rejected"][:3]
        accepted += answer["accepted"]
    return accepted


def wait_until_ready(deployment: Deployment, port: int) -> None:
    deadline = time.monotonic() + 120
    while True:
        deployment.alive("collect")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the collector never got ready"
        time.sleep(0.5)


def wait_for_group(deployment: Deployment, group: str, topics: list[str], names: list[str]) -> None:
    """Until ``group`` has committed every record of ``topics``; the processes must live."""
    admin = deployment.broker.client("admin")
    deadline = time.monotonic() + WAIT_S
    while consumer_lag(admin, group, topics) > 0:
        for name in names:
            deployment.alive(name)
        assert time.monotonic() < deadline, f"{group} is still behind after {WAIT_S:g} s"
        time.sleep(1)


@dataclass
class Outcome:
    """What the run left behind."""

    deployment: Deployment
    derived_consent: list[dict]
    receipts: list[dict]
    audit: str
    exit_codes: dict[str, int]


@pytest.fixture(scope="module")
def compose(repo_root) -> dict:
    return yaml.safe_load((repo_root / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def outcome(compose, tmp_path_factory) -> Iterator[Outcome]:
    root = tmp_path_factory.mktemp("compose")
    settings = LocalBrokerSettings(
        port=free_port(), controller_port=free_port(), security="sasl_scram"
    )
    broker = LocalBroker(settings, root / "broker-home")
    broker.start()
    deployment = Deployment(compose, root, broker)
    try:
        yield run_pipeline(deployment, root)
    finally:
        for name in list(deployment.processes):
            deployment.stop(name)
        broker.stop()


def run_pipeline(deployment: Deployment, root: Path) -> Outcome:
    write_secrets(deployment)
    deployment.lake.mkdir(parents=True)
    collect_port = deployment.compose["services"]["collect"]["command"][-1]
    deployment.ports[str(collect_port)] = free_port()

    deployment.run("kafka-setup", *deployment.command("kafka-setup"))
    replicas = deployment.compose["services"]["stream"]["deploy"]["replicas"]
    streams = [f"stream-{replica}" for replica in range(1, replicas + 1)]
    for replica in range(1, replicas + 1):
        deployment.start("stream", replica)
    deployment.start("sink")
    deployment.start("collect")
    wait_until_ready(deployment, deployment.ports[str(collect_port)])

    events_file = root / "events.jsonl"
    deployment.run("collect", "simulate", "-n", str(EVENTS), "--days", "7", "--seed", "14",
                   "--out", str(events_file))  # fmt: skip
    simulated = [orjson.loads(line) for line in events_file.read_bytes().splitlines()]
    lines = [orjson.dumps(e) for e in simulated] + [orjson.dumps(e) for e in OWN_EVENTS]
    assert post_events(deployment, lines) == len(lines)

    long_running = [*streams, "sink", "collect"]
    wait_for_group(deployment, StreamSettings().app_id, list(raw_topics()), long_running)
    clean = sorted(clean_topics(load_policy()))
    wait_for_group(deployment, SinkSettings().group_id, clean, long_running)
    admin = deployment.broker.client("admin")
    derived = [
        orjson.loads(m.value())
        for m in read_topic(admin, "raw.consent")
        if m.value() and b'"usage-pipeline-stream"' in m.value()
    ]

    deployment.start("aggregate")
    deadline = time.monotonic() + WAIT_S
    while "Aggregates (k =" not in deployment.log("aggregate").read_text():
        deployment.alive("aggregate")
        assert time.monotonic() < deadline, "the aggregate service never built"
        time.sleep(1)

    # Subject requests need the admin's login and the key: kafka-setup's environment, with
    # the key secret the stream service gets.
    key = {
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(
            deployment.secrets_dir / "pseudonymization_key"
        )
    }
    other, other_email = pick_subject(simulated)
    erased = [(USER, f"{USER}@example.com"), (other, other_email)]
    for subject, email in erased:
        deployment.run("kafka-setup", "subject", "erase", subject, "--email", email, "--yes",
                       "--wait", "300", env=key)  # fmt: skip
    receipts = [
        orjson.loads(p.read_bytes()) for p in sorted((deployment.lake / "_receipts").glob("*.json"))
    ]

    for name in long_running:
        deployment.alive(name)
    exit_codes = {name: deployment.stop(name) for name in [*long_running, "aggregate"]}
    # Their addresses: not their user ids, which our own subject's account id (kept, as
    # service output keeps account ids) contains.
    canaries = [email for _, email in erased]
    logs = [str(path) for path in sorted((root / "logs").glob("*.log"))]
    audit = subprocess.run(
        [sys.executable, "-m", "usage_pipeline", "audit", "scan",
         *(f"--canary={c}" for c in canaries), *(f"--log={log}" for log in logs)],
        cwd=root, env=deployment.env("kafka-setup"), capture_output=True, text=True,
        timeout=WAIT_S, check=False,
    )  # fmt: skip
    exit_codes["audit"] = audit.returncode
    return Outcome(deployment, derived, receipts, audit.stdout + audit.stderr, exit_codes)


def test_every_service_runs_to_the_end_under_its_own_user(outcome):
    assert len([name for name in outcome.exit_codes if name.startswith("stream-")]) >= 2
    assert set(outcome.exit_codes.values()) == {0}, (outcome.exit_codes, outcome.audit)


def test_the_stream_writes_an_unsubscribe_back_to_raw_consent_under_the_acls(outcome):
    own = [d for d in outcome.derived_consent if d["subject"].get("user_id") == USER]
    assert [(d["properties"]["purpose"], d["properties"]["status"]) for d in own] == [
        ("marketing", "withdrawn")
    ]


def test_both_subjects_are_erased_with_a_receipt_each(outcome):
    assert len(outcome.receipts) == 2
    for receipt in outcome.receipts:
        assert not receipt["empty"] and receipt["done"]["lake"], receipt
        assert Path(receipt["policy_file"]).is_file()  # the policy shipped with the package


def test_the_audit_finds_nothing_not_even_the_erased_subjects(outcome):
    assert "LEAK" not in outcome.audit, outcome.audit
    assert "Clean" in outcome.audit, outcome.audit
