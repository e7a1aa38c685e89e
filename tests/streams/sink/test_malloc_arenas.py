"""The sink caps glibc's malloc arenas, unless the user set MALLOC_ARENA_MAX."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = (
    "from usage_pipeline.streams.sink.malloc_arenas import cap_malloc_arenas;"
    "print(cap_malloc_arenas())"
)


def _capped(**env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env={**environment, **env}, capture_output=True, check=True
    )
    return result.stdout.decode().strip()


def test_the_sink_caps_the_arenas_on_glibc() -> None:
    assert _capped() == "True"


def test_malloc_arena_max_in_the_environment_is_left_to_glibc() -> None:
    assert _capped(MALLOC_ARENA_MAX="4") == "False"
