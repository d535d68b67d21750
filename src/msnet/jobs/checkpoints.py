"""The job ``audit.checkpoints`` (``msnet.federation.checkpoints``): every MSNET_CHECKPOINT_INTERVAL
seconds, a checkpoint of this node's audit chain signed when the chain has grown, and every active
peer's latest one fetched and kept once verified; at shutdown, one more checkpoint of this node's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from msnet.federation.checkpoints import Witness
from msnet.jobs.runner import Context, pause


@dataclass(frozen=True)
class Checkpoints:
    name: str = "audit.checkpoints"

    async def run(self, context: Context, stop: asyncio.Event) -> None:
        witness = Witness(context.sessionmaker, context.settings)
        try:
            while not stop.is_set():
                await witness.sign()
                await witness.fetch_all()
                await pause(stop, context.settings.checkpoint_interval)
            await witness.sign()  # at shutdown: what was appended since the last one is covered too
        finally:
            await witness.close()
