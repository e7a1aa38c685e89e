"""One lock per lake: erasure, compaction and retention never rewrite the same files at once.

An advisory ``flock`` on ``<lake>/_sink/lake.lock``: the kernel releases it when its holder
exits, even after SIGKILL, so a crash never leaves the lake locked. The sink does not take
it: it only adds files with new names, which none of the others touch.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from usage_pipeline.streams.sink.layout import STATE_DIR, LakeLayout
from usage_pipeline.streams.sink.writer import ensure_dir

LOCK_FILE = "lake.lock"


@contextmanager
def lake_lock(layout: LakeLayout) -> Iterator[None]:
    """Hold the lake's exclusive lock for the block, waiting for any other holder first."""
    folder = layout.root / STATE_DIR
    ensure_dir(folder)
    with (folder / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
