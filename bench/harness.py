"""What every benchmark shares: its arguments, the broker, a fresh namespace, RSS, JSON output."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import uuid
from pathlib import Path

from broker.local import cluster_address, local_broker
from usage_pipeline.settings import Settings, load_settings


def arguments(doc: str, count: str, default: int) -> argparse.Namespace:
    """``--<count> N`` and ``--json FILE``, with the script's docstring as help."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(f"--{count}", type=int, default=default)
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args()


def cluster() -> tuple[Settings, str]:
    """The settings and the broker to measure against: the configured one, or the local one."""
    settings = load_settings()
    if not settings.kafka.bootstrap_servers:
        local_broker(settings).start()
    return settings, cluster_address(settings)


def fresh_namespace() -> str:
    """A topic namespace no earlier run has used."""
    return f"bench-{uuid.uuid4().hex[:8]}."


def peak_rss_mib() -> float:
    """This process's peak resident memory."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save(path: str | None, figures: dict) -> None:
    """Write the figures with the commit they were measured at, so runs can be compared."""
    if not path:
        return
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    Path(path).write_text(json.dumps({"commit": commit, **figures}, indent=2))
