"""A faust transport whose consumer commits the offset ledger's positions, and nothing else.

The worker's source topic is read with acknowledgements off, so faust keeps no offsets of
its own for it; whenever faust would commit (every ``broker_commit_interval``, on a
rebalance, on stop) this consumer commits what the ledger says was processed and flushed.

With acknowledgements off faust no longer knows that a batch is in flight, so a
:class:`BatchGate` tells it: a rebalance or a stop waits for the batch to finish before
committing, and no batch starts until the rebalance is over (table recovery done, the
partitions seeked to the committed offsets, the flow resumed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_COMMITTING
from faust.transport.drivers import aiokafka
from faust.types import TP
from mode import Service

from streams.offsets import OffsetLedger

REBALANCE_POLL_S = 0.1


class BatchGate:
    """Open while the consumer's flow runs and no rebalance is under way; held for each batch.

    ``rebalancing`` is polled (faust sets a flag, with no event to wait on): faust resumes
    the flow several times during table recovery, so the flow alone does not say that
    recovery and the seek to the committed offsets are over.
    """

    def __init__(self, rebalancing: Callable[[], bool] = lambda: False) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._rebalancing = rebalancing
        self._batch = asyncio.Lock()

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Wait until batches may run, then hold the gate until the batch is done."""
        while True:
            await self._open.wait()
            if self._rebalancing():
                await asyncio.sleep(REBALANCE_POLL_S)
                continue
            await self._batch.acquire()
            if self._open.is_set() and not self._rebalancing():
                break
            self._batch.release()
        try:
            yield
        finally:
            self._batch.release()

    def close(self) -> None:
        """No new batch from now on (a rebalance or a stop begins)."""
        self._open.clear()

    def reopen(self) -> None:
        """Batches may run again."""
        self._open.set()

    async def wait_for_batch(self) -> None:
        """Return once no batch is in flight."""
        async with self._batch:
            pass


class LedgerConsumer(aiokafka.Consumer):
    """faust's aiokafka consumer, committing the ledger's positions for its assigned partitions."""

    def stop_flow(self) -> None:
        """Stop fetching and close the gate (faust calls this first on a rebalance or stop)."""
        super().stop_flow()
        self.transport.gate.close()

    def resume_flow(self) -> None:
        """Resume fetching and reopen the gate (after recovery and the seek)."""
        super().resume_flow()
        self.transport.gate.reopen()

    async def wait_empty(self) -> None:
        """Wait for the batch in flight, then commit as faust does."""
        await self.transport.gate.wait_for_batch()
        await super().wait_empty()

    @Service.transitions_to(CONSUMER_COMMITTING)
    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        """Commit every assigned partition whose ledger position moved; ``topics`` is ignored."""
        ledger: OffsetLedger = self.transport.ledger
        assigned = self.assignment()
        offsets = {
            TP(topic, partition): position
            for (topic, partition), position in ledger.committable().items()
            if TP(topic, partition) in assigned
        }
        if not offsets:
            return False
        sensor_state = self.app.sensors.on_commit_initiated(self)
        did_commit = await self._commit_offsets(offsets, start_new_transaction)
        if did_commit:
            ledger.committed({(tp.topic, tp.partition): offset for tp, offset in offsets.items()})
        self.app.sensors.on_commit_completed(self, sensor_state)
        return did_commit


class LedgerTransport(aiokafka.Transport):
    """The aiokafka transport with :class:`LedgerConsumer`."""

    Consumer = LedgerConsumer

    def __init__(self, app: faust.App, ledger: OffsetLedger, gate: BatchGate) -> None:
        super().__init__(app.conf.broker_consumer, app)
        self.ledger = ledger
        self.gate = gate


def commit_from_ledger(app: faust.App, ledger: OffsetLedger, gate: BatchGate) -> None:
    """Make ``app`` commit from ``ledger`` and respect ``gate``; call right after creating it."""
    app.transport = LedgerTransport(app, ledger, gate)
