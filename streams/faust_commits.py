"""A faust transport whose consumer commits the offset ledger's positions, and nothing else.

The worker's source topic is read with acknowledgements off, so faust keeps no offsets of
its own for it; whenever faust would commit (every ``broker_commit_interval``, on a
rebalance, on stop) this consumer commits what the ledger says was processed and flushed.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka
from faust.types import TP

from streams.offsets import OffsetLedger


class LedgerConsumer(aiokafka.Consumer):
    """faust's aiokafka consumer, committing the ledger's positions for its assigned partitions."""

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

    def __init__(self, app: faust.App, ledger: OffsetLedger) -> None:
        super().__init__(app.conf.broker_consumer, app)
        self.ledger = ledger


def commit_from_ledger(app: faust.App, ledger: OffsetLedger) -> None:
    """Make ``app`` commit from ``ledger``; call before anything creates the app's consumer."""
    app.transport = LedgerTransport(app, ledger)
