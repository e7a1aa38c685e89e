"""What every benchmark shares: its arguments, the broker, a fresh namespace, RSS, JSON output."""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import time
import uuid
from pathlib import Path

from usage_pipeline.broker.admin import admin_client
from usage_pipeline.resolve import cluster_address, local_broker
from usage_pipeline.settings import Settings, load_settings
from usage_pipeline.streams.supervisor import peak_rss_mib

REPO = Path(__file__).resolve().parent.parent


def parser(doc: str, count: str, default: int) -> argparse.ArgumentParser:
    """``--<count> N`` and ``--json FILE``, with the script's docstring as help."""
    command_line = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    command_line.add_argument(f"--{count}", type=int, default=default)
    command_line.add_argument("--json", help="also write the figures to this file")
    return command_line


def arguments(doc: str, count: str, default: int) -> argparse.Namespace:
    """The parsed ``parser`` arguments, for scripts that need no others."""
    return parser(doc, count, default).parse_args()


def cluster() -> tuple[Settings, str]:
    """The settings and the broker to measure against: the configured one, or the local one."""
    settings = load_settings()
    if not settings.kafka.bootstrap_servers:
        local_broker(settings).start()
    return settings, cluster_address(settings)


def fresh_namespace() -> str:
    """A topic namespace no earlier run has used."""
    return f"bench-{uuid.uuid4().hex[:8]}."


def delete_namespace(bootstrap: str, namespace: str) -> None:
    """Delete every topic whose name starts with ``namespace``."""
    admin = admin_client(bootstrap)  # must outlive the futures
    topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(namespace)]
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            future.result()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds() -> float:
    """CPU time this process used so far, every thread, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_child(process: subprocess.Popen, every_s: float = 0.2) -> float:
    """Wait until a child process exits; its peak resident memory (MiB), read while it ran."""
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, peak_rss_mib(process.pid))
        time.sleep(every_s)
    process.wait()
    return peak


def commit() -> tuple[str, bool]:
    """The checked-out commit, and whether the work tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    return git("rev-parse", "HEAD"), bool(git("status", "--porcelain"))


def save(path: str | Path | None, figures: dict) -> None:
    """Write the figures with the commit they were measured at, so runs can be compared."""
    if not path:
        return
    sha, dirty = commit()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"commit": sha, "dirty": dirty, **figures}, indent=2))
