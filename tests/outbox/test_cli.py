"""`msnet worker`: delivers on its own, and stops cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.outbox import service
from msnet.settings import Settings
from tests.helpers import cli_env
from tests.outbox.conftest import Org, Receiver, acting, messages, register


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_msnet_worker_delivers_then_stops_on_a_signal(
    client: AsyncTestClient,
    settings: Settings,
    au: Org,
    receiver: Receiver,
    sessionmaker: async_sessionmaker,
    owner_conn: asyncpg.Connection,
    signum: signal.Signals,
) -> None:
    await register(client, au, receiver.url, ["overlap.detected"])
    async with acting(sessionmaker, au.id) as session:
        await service.emit(session, organisation_id=au.id, event_type="overlap.detected", data={"case": 1})

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "msnet",
        "worker",
        env=cli_env(settings, MSNET_LOG_LEVEL="info", MSNET_WORKER_POLL_INTERVAL="1"),
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(600):  # until it has delivered, or 30 s
            if receiver.received or process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert process.returncode is None, "msnet worker exited before delivering"
        process.send_signal(signum)
        _, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = err.decode()

    assert process.returncode == 0, stderr
    events = [json.loads(line)["event"] for line in stderr.splitlines()]
    assert events.index("outbox worker started") < events.index("outbox delivery")
    # the worker stops within the grace period, beside the other jobs (which may log after it)
    assert "outbox worker stopped" in events[events.index("jobs stopping") :]
    assert not [event for event in events if event.startswith("job cancelled")]
    assert "Traceback" not in stderr
    (received,) = receiver.received
    (row,) = await messages(owner_conn)
    assert received.headers["webhook-id"] == str(row["id"])
    assert row["delivered_at"] is not None
