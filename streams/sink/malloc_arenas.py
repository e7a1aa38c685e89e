"""Cap glibc's malloc arenas in the sink's process: its threads' freed memory stays reusable.

glibc gives each new thread its own arena, up to eight per core, and keeps what a thread
frees in that thread's arena. The sink allocates its Arrow tables in its writer threads and in
the threads that publish open files (new ones for each publication), so freed memory was
scattered over many arenas, each holding on to some. With two arenas the demo's sink peaked at
340-343 MiB in three runs, against 375-387 MiB without a cap, at the same speed (1M-event
demos, 48-55 s). glibc fixes its limit once more than eight arenas exist, so the `sink`
command caps them first, before any Kafka client starts its threads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def cap_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Allow at most ``arenas`` for threads created from now on; False where that cannot be
    said (not glibc) or the user said otherwise (``MALLOC_ARENA_MAX`` set, which glibc
    applied at start)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    return mallopt is not None and mallopt(_M_ARENA_MAX, arenas) == 1
