"""The sink's process-wide memory choices hold, unless the user's environment says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

ARROW_POOL = (
    "import usage_pipeline.streams.sink.sink, pyarrow;"
    "print(pyarrow.default_memory_pool().backend_name)"
)
ARENAS_CAPPED = (
    "from usage_pipeline.streams.sink.malloc_arenas import cap_malloc_arenas;"
    "print(cap_malloc_arenas())"
)


def _run(code: str, variable: str, **env: str) -> str:
    """What ``code`` prints in a fresh interpreter, ``variable`` unset unless in ``env``."""
    environment = {k: v for k, v in os.environ.items() if k != variable}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**environment, **env}, capture_output=True, check=True
    )
    return result.stdout.decode().strip()


def test_arrow_allocates_from_the_system_allocator_in_our_processes() -> None:
    assert _run(ARROW_POOL, "ARROW_DEFAULT_MEMORY_POOL") == "system"


def test_an_explicit_arrow_memory_pool_in_the_environment_wins() -> None:
    pool = _run(ARROW_POOL, "ARROW_DEFAULT_MEMORY_POOL", ARROW_DEFAULT_MEMORY_POOL="jemalloc")
    assert pool == "jemalloc"


def test_the_sink_caps_the_malloc_arenas_on_glibc() -> None:
    assert _run(ARENAS_CAPPED, "MALLOC_ARENA_MAX") == "True"


def test_malloc_arena_max_in_the_environment_is_left_to_glibc() -> None:
    assert _run(ARENAS_CAPPED, "MALLOC_ARENA_MAX", MALLOC_ARENA_MAX="4") == "False"
