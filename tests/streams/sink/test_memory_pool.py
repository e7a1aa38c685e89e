"""The sink's Arrow allocations come from the system allocator, unless the user says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = (
    "import usage_pipeline.streams.sink.sink, pyarrow;"
    "print(pyarrow.default_memory_pool().backend_name)"
)


def _pool(**env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env={**environment, **env}, capture_output=True, check=True
    )
    return result.stdout.decode().strip()


def test_arrow_allocates_from_the_system_allocator_in_our_processes() -> None:
    assert _pool() == "system"


def test_an_explicit_arrow_memory_pool_in_the_environment_wins() -> None:
    assert _pool(ARROW_DEFAULT_MEMORY_POOL="jemalloc") == "jemalloc"
