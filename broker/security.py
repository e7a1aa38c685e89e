"""Who a Kafka client is: its address and login, as librdkafka configuration.

A client is given a ``Cluster``: either a bare address (PLAINTEXT, no login, as the tests'
plain broker wants) or ``KafkaSettings`` with ``bootstrap_servers`` resolved and the
client's security protocol, SASL mechanism and credentials. Passwords never leave these
helpers except into the client's own configuration.
"""

from __future__ import annotations

from typing import TypeAlias

from usage_pipeline.broker.config import KafkaSettings

Cluster: TypeAlias = str | KafkaSettings


class MissingCredentialsError(ValueError):
    """A SASL protocol is configured without a user or a password."""


def address(cluster: Cluster) -> str:
    """The bootstrap servers of ``cluster``."""
    if isinstance(cluster, str):
        return cluster
    if not cluster.bootstrap_servers:
        raise ValueError("kafka.bootstrap_servers is not resolved")
    return cluster.bootstrap_servers


def sasl_login(kafka: KafkaSettings) -> tuple[str, str] | None:
    """User and password of a SASL client (the password file wins), None for PLAINTEXT."""
    if kafka.security_protocol == "PLAINTEXT":
        return None
    if kafka.sasl_password_file is not None:
        password = kafka.sasl_password_file.read_text().strip()
    else:
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
    if not kafka.sasl_username or not password:
        raise MissingCredentialsError(
            f"kafka.security_protocol is {kafka.security_protocol}: set kafka.sasl_username "
            "and kafka.sasl_password_file (or kafka.sasl_password)"
        )
    return kafka.sasl_username, password


def connection_config(cluster: Cluster) -> dict[str, str]:
    """librdkafka's bootstrap and security settings for a client of ``cluster``."""
    config = {"bootstrap.servers": address(cluster)}
    if isinstance(cluster, str):
        return config
    config["security.protocol"] = cluster.security_protocol
    login = sasl_login(cluster)
    if login is not None:
        config |= {
            "sasl.mechanism": cluster.sasl_mechanism,
            "sasl.username": login[0],
            "sasl.password": login[1],
        }
    return config


def client_env(cluster: Cluster) -> dict[str, str]:
    """Environment variables that give a child process (e.g. the stream worker) this login."""
    if isinstance(cluster, str) or cluster.security_protocol == "PLAINTEXT":
        return {}
    prefix = "USAGE_PIPELINE_KAFKA__"
    env = {
        f"{prefix}SECURITY_PROTOCOL": cluster.security_protocol,
        f"{prefix}SASL_MECHANISM": cluster.sasl_mechanism,
        f"{prefix}SASL_USERNAME": cluster.sasl_username or "",
    }
    if cluster.sasl_password_file is not None:
        env[f"{prefix}SASL_PASSWORD_FILE"] = str(cluster.sasl_password_file)
    elif cluster.sasl_password is not None:
        env[f"{prefix}SASL_PASSWORD"] = cluster.sasl_password.get_secret_value()
    return env
