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

# The young threshold while a stage runs (700 by default). At the default, each batch of
# 10,000 consumed records set off 14 young collections and with them scans of every older
# object: about 0.5 us a row in the sink, and a quarter of a worker's CPU while catching up.
YOUNG_THRESHOLD = 100_000


@contextmanager
def rare_collections(young_threshold: int = YOUNG_THRESHOLD) -> Iterator[None]:
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
