"""Background jobs, run by ``msnet serve`` inside the app (unless MSNET_WORKER=off) and by ``msnet
worker`` alone: the same jobs (``registry.node_jobs``) on the same runner (``runner.run``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

from litestar import Litestar

from msnet.db.engine import Timeouts, make_engine, make_sessionmaker
from msnet.jobs import runner
from msnet.jobs.registry import node_jobs
from msnet.middleware import Metrics
from msnet.outbox.worker import BATCH
from msnet.settings import Settings


@contextlib.asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """The jobs inside ``msnet serve``, on the app's own connection pool, unless MSNET_WORKER=off."""
    settings: Settings = app.state.settings
    if not settings.worker:
        yield
        return
    stop = asyncio.Event()
    context = runner.Context(app.state.sessionmaker, settings, app.state.metrics)
    task = asyncio.create_task(runner.run(node_jobs(), context, stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def run_alone(settings: Settings) -> None:
    """``msnet worker``: the jobs until SIGTERM or Ctrl-C, then the steps under way finished."""
    assert settings.database_url
    engine = make_engine(
        settings.database_url, pool_size=min(settings.db_pool_size, BATCH), timeouts=Timeouts.of(settings)
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runner.run(node_jobs(), runner.Context(make_sessionmaker(engine), settings, Metrics()), stop)
    finally:
        await engine.dispose()
