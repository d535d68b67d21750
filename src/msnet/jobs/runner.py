"""The jobs runner: each background job in a task of its own until a stop event, none taking the
others down.

A job has a ``name`` and an async ``run(context, stop)`` that returns once ``stop`` is set, at the end
of the step it is in; ``Periodic`` makes one of an interval and an async ``tick(context)``. A job that
raises is logged and run again after a backoff that doubles with each failure, up to a cap, and
starts again from the first once the job has run as long as the cap before failing. Once ``stop`` is
set, each job has the grace period to finish its step; one still running then is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.logs import get_logger
from msnet.middleware import Metrics
from msnet.settings import Settings

STOP_GRACE = 20.0  # seconds a stopping runner waits for the steps under way
FIRST_BACKOFF = 1.0  # seconds before a failed job runs again; doubled with each failure in a row
MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class Context:
    """What the jobs share; each job's ``log`` is bound to its name."""

    sessionmaker: async_sessionmaker
    settings: Settings
    metrics: Metrics
    log: Any = field(default_factory=lambda: get_logger("msnet.jobs"))


class Job(Protocol):
    @property
    def name(self) -> str: ...

    async def run(self, context: Context, stop: asyncio.Event) -> None: ...


@dataclass(frozen=True)
class Periodic:
    """A job that ticks at once, then every ``interval`` seconds after the last tick ended."""

    name: str
    interval: float
    tick: Callable[[Context], Awaitable[None]]

    async def run(self, context: Context, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.tick(context)
            await pause(stop, self.interval)


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or until ``stop`` is set if that comes first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def run(
    jobs: Sequence[Job],
    context: Context,
    stop: asyncio.Event,
    *,
    grace: float = STOP_GRACE,
    first_backoff: float = FIRST_BACKOFF,
    max_backoff: float = MAX_BACKOFF,
) -> None:
    """Run ``jobs`` until ``stop`` is set, then give them ``grace`` seconds to finish their steps."""
    tasks = {
        asyncio.create_task(
            _supervise(
                job, replace(context, log=context.log.bind(job=job.name)), stop, first_backoff, max_backoff
            ),
            name=f"job {job.name}",
        ): job
        for job in jobs
    }
    context.log.info("jobs started", jobs=[job.name for job in jobs])
    try:
        await stop.wait()
        context.log.info("jobs stopping", grace=grace)
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            context.log.warning("job cancelled: its step outlasted the grace period", job=tasks[task].name)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _supervise(
    job: Job, context: Context, stop: asyncio.Event, first_backoff: float, max_backoff: float
) -> None:
    loop = asyncio.get_running_loop()
    backoff = first_backoff
    while not stop.is_set():
        started = loop.time()
        try:
            await job.run(context, stop)
            return
        except Exception as exc:
            if loop.time() - started >= max_backoff:
                backoff = first_backoff
            context.log.error("job failed", error=type(exc).__name__, restart_in=backoff, exc_info=exc)
            await pause(stop, backoff)
            backoff = min(backoff * 2, max_backoff)
