"""The outbox's jobs: delivering due messages, and deleting those past the retention period."""

from __future__ import annotations

import asyncio

from msnet.jobs.runner import Context, Periodic
from msnet.outbox.worker import Worker

PRUNE_EVERY = 3600.0  # seconds between deletions of old delivered and failed messages


class Delivery:
    """The delivery worker's loop, on a worker of its own."""

    name = "outbox.delivery"

    async def run(self, context: Context, stop: asyncio.Event) -> None:
        worker = Worker(context.sessionmaker, context.settings, context.metrics)
        try:
            await worker.run(stop)
        finally:
            await worker.close()


async def prune(context: Context) -> None:
    worker = Worker(context.sessionmaker, context.settings, context.metrics)
    try:
        await worker.prune()
    finally:
        await worker.close()


PRUNING = Periodic("outbox.prune", PRUNE_EVERY, prune)
