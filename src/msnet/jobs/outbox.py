"""The outbox's jobs: delivering due messages, and deleting those past the retention period."""

from __future__ import annotations

import asyncio

from msnet.federation.inbox import Delivery as PeerDelivery
from msnet.jobs.runner import Context, Periodic
from msnet.outbox import worker

PRUNE_EVERY = 3600.0  # seconds between deletions of old delivered and failed messages


class Delivery:
    """The delivery worker's loop, on a worker of its own: webhooks, e-mails and messages for peer
    nodes."""

    name = "outbox.delivery"

    async def run(self, context: Context, stop: asyncio.Event) -> None:
        peer = PeerDelivery(context.sessionmaker, context.settings)
        delivering = worker.Worker(context.sessionmaker, context.settings, context.metrics, peer)
        try:
            await delivering.run(stop)
        finally:
            await delivering.close()
            await peer.close()


async def prune(context: Context) -> None:
    await worker.prune(context.sessionmaker, context.settings)


PRUNING = Periodic("outbox.prune", PRUNE_EVERY, prune)
