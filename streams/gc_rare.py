"""Collect cyclic garbage rarely in a long-running stage, and never scan what start-up loaded.

A stage's records are freed by reference counting alone, yet every container it allocates
counts towards the collector's young threshold (700 by default), and each young collection
sets off, in turn, scans of every older object: the modules, policy and contracts loaded at
start-up, caches, consent state. Frozen start-up objects are never scanned again, and a high
young threshold keeps collections far apart.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def rare_collections(young_threshold: int) -> Iterator[None]:
    """Freeze what exists and raise the young threshold while the block runs (process-wide
    settings: one stage runs in a process at a time)."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young_threshold, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
