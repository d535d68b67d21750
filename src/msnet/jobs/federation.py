"""The pull of the peers' change feeds (``msnet.federation.sync``), as a job of the runner."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from msnet.federation.sync import WAKE, Puller, metrics_of
from msnet.jobs.runner import Context, pause


@dataclass(frozen=True)
class Pull:
    """A step every ``WAKE`` seconds until stopped: every peer due pulled, the peers poked when this
    node's own records changed."""

    name: str = "federation.pull"

    async def run(self, context: Context, stop: asyncio.Event) -> None:
        puller = Puller(context.sessionmaker, context.settings, metrics_of(context.metrics))
        try:
            while not stop.is_set():
                await puller.step()
                await pause(stop, WAKE)
        finally:
            await puller.close()
