"""The node's jobs on the runner, against the database: the outbox is pruned as soon as they start."""

from __future__ import annotations

import asyncio

import asyncpg
from litestar.testing import AsyncTestClient

from msnet.db.engine import make_engine, make_sessionmaker
from msnet.jobs import runner
from msnet.jobs.registry import node_jobs
from msnet.middleware import Metrics
from msnet.outbox import service
from msnet.settings import Settings
from tests.outbox.conftest import acting, make_org, messages


async def test_the_node_jobs_delete_outbox_messages_past_the_retention_period_at_once(
    client: AsyncTestClient, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    au = await make_org(client, settings, owner_conn, "au")
    engine = make_engine(settings.database_url, pool_size=5)  # type: ignore[arg-type]
    sessionmaker = make_sessionmaker(engine)
    async with acting(sessionmaker, au.id) as session:
        for subject in ("old", "pending"):
            await service.enqueue_email(
                session, organisation_id=au.id, to="staff@au.example.org", subject=subject, text="…"
            )
    old, pending = [r["id"] for r in await messages(owner_conn)]
    await owner_conn.execute(
        "UPDATE outbox_messages SET delivered_at = now() - make_interval(days => $2) WHERE id = $1",
        old,
        settings.outbox_retention_days + 1,
    )

    stop = asyncio.Event()
    running = asyncio.create_task(
        runner.run(node_jobs(), runner.Context(sessionmaker, settings, Metrics()), stop)
    )
    try:
        for _ in range(600):  # until pruned, or 30 s
            if len(await messages(owner_conn)) == 1:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(running, 60)
        await engine.dispose()
    assert [r["id"] for r in await messages(owner_conn)] == [pending]
