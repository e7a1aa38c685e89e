"""A single-node Apache Kafka 4.x broker (KRaft, broker+controller) on 127.0.0.1.

The jars come from Maven Central through ``broker/pom.xml`` and are cached outside the
repository; storage is formatted on first start; readiness is a real metadata request.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from usage_pipeline.broker.admin import ClusterInfo, ClusterUnreachableError, wait_until_ready
from usage_pipeline.broker.config import KafkaSettings, LocalBrokerSettings, LocalRole
from usage_pipeline.broker.maven import MavenError, copy_dependencies, last_error_line
from usage_pipeline.broker.security import Cluster

log = logging.getLogger(__name__)

POM = Path(__file__).with_name("pom.xml")
LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")
JVM_FLAGS = ["-Xms256m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true"]
STOP_TIMEOUT_S = 30.0
SCRAM_MECHANISM = "SCRAM-SHA-512"
# The broker's own login on its controller listener (SCRAM cannot serve that listener).
CONTROLLER_USER = "controller"


class BrokerError(RuntimeError):
    """The local broker could not be provisioned, started or stopped; says why in one line."""

    def __init__(self, cause: str, log_file: Path | None = None) -> None:
        self.cause = cause
        self.log_file = log_file
        super().__init__(cause if log_file is None else f"{cause} (log: {log_file})")


@dataclass(frozen=True)
class StartResult:
    """What `start` did: whether the broker was already up, and what the cluster says."""

    already_running: bool
    cluster: ClusterInfo


def kafka_version() -> str:
    """The Kafka version that ``pom.xml`` pins."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not node.text:
        raise BrokerError(f"{POM} names no kafka.version property")
    return node.text.strip()


class LocalBroker:
    """Provision, start, inspect and stop the development broker kept under ``home``."""

    def __init__(self, settings: LocalBrokerSettings, home: Path) -> None:
        self.settings = settings
        self.dir = home.resolve() / "kafka"
        self.data_dir = self.dir / "data"
        self.log_file = self.dir / "broker.log"
        self.pid_file = self.dir / "broker.pid"
        self.properties_file = self.dir / "server.properties"
        self.credentials_dir = self.dir / "credentials"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """The address clients connect to."""
        return f"127.0.0.1:{self.settings.port}"

    @property
    def secured(self) -> bool:
        """True when clients must log in (SASL/SCRAM) and ACLs decide what they may do."""
        return self.settings.security == "sasl_scram"

    def client(self, role: LocalRole) -> Cluster:
        """Address and login of a client acting as ``role`` (the bare address when unsecured)."""
        if not self.secured:
            return self.bootstrap_servers
        configured = self.settings.passwords.get(role)
        return KafkaSettings(
            bootstrap_servers=self.bootstrap_servers,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism=SCRAM_MECHANISM,
            sasl_username=self.settings.users[role],
            sasl_password=configured,
            sasl_password_file=None if configured else self._password_file(role),
        )

    @property
    def jar_dir(self) -> Path:
        """The cached jars; the folder name changes whenever pom.xml does."""
        digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
        return self.settings.jar_cache / f"kafka-{kafka_version()}-{digest}" / "libs"

    def ensure_jars(self) -> Path:
        """Copy the broker's runtime jars from Maven Central once; later calls reuse them."""
        if (self.jar_dir / ".complete").exists():
            return self.jar_dir
        mvn = _require_tool("mvn", "Maven is needed once to download the Kafka broker")
        _require_tool("java", "a Java 17+ runtime is needed to run the Kafka broker")
        log.info("Resolving Apache Kafka %s from Maven Central (first run only)", kafka_version())
        try:
            return copy_dependencies(mvn, POM, self.jar_dir, "kafka_2.13-*.jar")
        except MavenError as exc:
            raise BrokerError(f"downloading the Kafka broker with Maven failed: {exc}") from None

    def running_pid(self) -> int | None:
        """The pid of this home's broker if it is alive, else None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if _is_our_broker(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self) -> StartResult:
        """Start the broker and wait until it answers a metadata request."""
        if self.running_pid() is not None:
            cluster = wait_until_ready(self.client("admin"), self.settings.start_timeout_s)
            return StartResult(already_running=True, cluster=cluster)
        java = _require_tool("java", "a Java 17+ runtime is needed to run the Kafka broker")
        for port in (self.settings.port, self.settings.controller_port):
            if not _port_is_free(port):
                raise BrokerError(f"port {port} on 127.0.0.1 is already in use by another process")
        jars = self.ensure_jars()
        self.dir.mkdir(parents=True, exist_ok=True)
        formatted = (self.data_dir / "meta.properties").exists()
        if self.secured and formatted and not self._password_file(CONTROLLER_USER).exists():
            raise BrokerError(
                f"{self.data_dir} was formatted without SCRAM users; remove it to start "
                "over with local_broker.security=sasl_scram"
            )
        if self.secured and not formatted:
            self._generate_passwords()
        _write_private(self.properties_file, self._server_properties())
        classpath = str(jars / "*")
        if not formatted:
            self._format_storage(java, classpath)
        command = [
            java, f"-Xmx{self.settings.heap}", *JVM_FLAGS,
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", f"-Dkafka.logs.dir={self.dir}",
            "-cp", classpath, "kafka.Kafka", str(self.properties_file),
        ]  # fmt: skip
        with self.log_file.open("ab") as out:
            self._process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.dir, start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(str(self._process.pid))
        try:
            cluster = wait_until_ready(
                self.client("admin"),
                self.settings.start_timeout_s,
                still_starting=lambda: self._process is not None and self._process.poll() is None,
            )
        except ClusterUnreachableError:
            code = self._process.poll()
            self.stop()
            cause = (
                f"the broker exited with code {code} while starting: "
                f"{last_error_line(_tail(self.log_file)) or 'no error logged'}"
                if code is not None
                else f"the broker did not answer within {self.settings.start_timeout_s:g} s"
            )
            raise BrokerError(cause, self.log_file) from None
        return StartResult(already_running=False, cluster=cluster)

    def stop(self) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL after 30 s); returns False if none was running."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _is_our_broker(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_our_broker(pid):
            log.warning("broker %d ignored SIGTERM for %g s; killing it", pid, STOP_TIMEOUT_S)
            os.kill(pid, signal.SIGKILL)
            while _is_our_broker(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        self._process = None
        return True

    def _format_storage(self, java: str, classpath: str) -> None:
        cluster_id = "-"
        while cluster_id.startswith("-"):  # read as an option; Kafka's own ids avoid it too
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            [java, "-cp", classpath, f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
             "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id,
             "-c", str(self.properties_file), *self._scram_users()],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            detail = last_error_line(result.stdout + result.stderr) or "unknown error"
            raise BrokerError(f"formatting the broker's storage failed: {detail}")

    def _password_file(self, role: LocalRole | Literal["controller"]) -> Path:
        return self.credentials_dir / role

    def _password(self, role: LocalRole | Literal["controller"]) -> str:
        configured = self.settings.passwords.get(role) if role != CONTROLLER_USER else None
        if configured is not None:
            return configured.get_secret_value()
        return self._password_file(role).read_text().strip()

    def _generate_passwords(self) -> None:
        """Give every role without a configured password a random one, in a 0600 file."""
        self.credentials_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for role in (*self.settings.users, CONTROLLER_USER):
            configured = role != CONTROLLER_USER and role in self.settings.passwords
            path = self._password_file(role)
            if not configured and not path.exists():
                _write_private(path, secrets.token_urlsafe(24) + "\n")

    def _scram_users(self) -> list[str]:
        """StorageTool arguments that create every role's SCRAM user (KIP-900)."""
        if not self.secured:
            return []
        return [
            argument
            for role, user in self.settings.users.items()
            for argument in (
                "--add-scram",
                f"{SCRAM_MECHANISM}=[name={user},password={self._password(role)}]",
            )
        ]

    def _security_properties(self) -> dict[str, str]:
        """SASL/SCRAM on the client listener, PLAIN on the controller's, and the authorizer."""
        admin = self.settings.users["admin"]
        controller = self._password(CONTROLLER_USER)
        scram_login = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain_login = "org.apache.kafka.common.security.plain.PlainLoginModule"
        return {
            "listener.security.protocol.map": "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            "listener.name.client.scram-sha-512.sasl.jaas.config": (
                f'{scram_login} required username="{admin}" password="{self._password("admin")}";'
            ),
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": (
                f'{plain_login} required username="{CONTROLLER_USER}" password="{controller}" '
                f'user_{CONTROLLER_USER}="{controller}";'
            ),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{admin};User:{CONTROLLER_USER}",
        }

    def _server_properties(self) -> str:
        port, controller = self.settings.port, self.settings.controller_port
        client = "CLIENT" if self.secured else "PLAINTEXT"
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller}",
            "controller.listener.names": "CONTROLLER",
            "listeners": f"{client}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"{client}://127.0.0.1:{port}",
            "inter.broker.listener.name": client,
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.network.threads": "2",
            "num.io.threads": "2",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "6",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "share.coordinator.state.topic.num.partitions": "6",
            "group.initial.rebalance.delay.ms": "0",
            # The cleaner allocates 128 MiB by default, a quarter of our small heap.
            "log.cleaner.dedupe.buffer.size": "2097152",
            # Retention checked every 5 s, not 5 min: short retentions (the visitor salts'
            # lifetime in tests) take effect when they say.
            "log.retention.check.interval.ms": "5000",
            "auto.create.topics.enable": "false",
        }
        if self.secured:
            settings |= self._security_properties()
        return "".join(f"{key}={value}\n" for key, value in settings.items())


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only: the file holds passwords."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _require_tool(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BrokerError(f"`{name}` is not on PATH: {why}")
    return path


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _is_our_broker(pid: int) -> bool:
    """True if ``pid`` is a live (not zombie) kafka.Kafka process."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaps it if it is our own exited child
    proc = Path("/proc") / str(pid)
    try:
        cmdline = (proc / "cmdline").read_bytes()
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return b"kafka.Kafka" in cmdline and state not in {"Z", "X"}


def _tail(path: Path, size: int = 20_000) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - size))
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
