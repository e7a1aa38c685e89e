"""The batch gate: a rebalance waits for the batch in flight, and no batch starts during it."""

from __future__ import annotations

import asyncio

from streams.faust_commits import BatchGate


async def run_batch(gate: BatchGate, order: list[str], name: str) -> None:
    async with gate.batch():
        order.append(f"{name} starts")
        await asyncio.sleep(0.05)
        order.append(f"{name} ends")


def test_a_rebalance_commits_only_after_the_batch_in_flight_ends():
    async def scenario() -> list[str]:
        gate, order = BatchGate(), []
        batch = asyncio.create_task(run_batch(gate, order, "batch"))
        await asyncio.sleep(0)
        gate.close()
        await gate.wait_for_batch()
        order.append("commit")
        await batch
        return order

    assert asyncio.run(scenario()) == ["batch starts", "batch ends", "commit"]


def test_no_batch_starts_until_the_flow_resumes():
    async def scenario() -> list[str]:
        gate, order = BatchGate(), []
        gate.close()
        batch = asyncio.create_task(run_batch(gate, order, "batch"))
        await asyncio.sleep(0.05)
        order.append("recovered")
        gate.reopen()
        await batch
        return order

    assert asyncio.run(scenario()) == ["recovered", "batch starts", "batch ends"]


def test_no_batch_starts_while_table_recovery_runs_even_with_the_flow_resumed():
    async def scenario() -> list[str]:
        rebalancing = True
        gate, order = BatchGate(rebalancing=lambda: rebalancing), []
        batch = asyncio.create_task(run_batch(gate, order, "batch"))
        await asyncio.sleep(0.3)
        order.append("recovered")
        rebalancing = False
        await batch
        return order

    assert asyncio.run(scenario()) == ["recovered", "batch starts", "batch ends"]
