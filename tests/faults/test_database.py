"""The database stopped, paused or holding a lock: msnet answers 503 with Retry-After within its
bounds (never waiting as long as the fault lasts), writes nothing half, and recovers without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg
import httpx

from tests.faults.conftest import TIMEOUTS, Database, Node
from tests.helpers import add_client, bearer, token_for

OFFICE = {"name": "Mediation Support Unit", "sharing": "network"}


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == "urn:msnet:problem:unavailable"


async def timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


async def eventually_ok(
    request: Callable[[], Awaitable[httpx.Response]], within: float = 20
) -> httpx.Response:
    """The first answer that is not a 503, asking again while the node recovers."""
    deadline = time.monotonic() + within
    while True:
        response = await request()
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)


async def test_a_stopped_database_is_a_503_with_retry_after_and_msnet_recovers(
    database: Database, node: Node
) -> None:
    created = await add_client(node.settings, "au", ["directory:read", "directory:write"])
    async with httpx.AsyncClient(base_url=node.base, timeout=60) as http:
        token = await token_for(http, created)
        assert (await http.get("/v1/offices", headers=bearer(token))).status_code == 200
        database.stop()
        bound = TIMEOUTS["db_connect_timeout"] + 2
        for call in (
            http.get("/v1/organisations"),
            http.get("/v1/offices", headers=bearer(token)),
            http.post("/v1/offices", json=OFFICE, headers=bearer(token)),
            http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(created.client_id, created.client_secret),
            ),
        ):
            response, elapsed = await timed(call)
            assert_unavailable(response)
            assert elapsed < bound
        ready = await http.get("/health/ready")
        assert ready.status_code == 503
        assert ready.headers["retry-after"] == "5"
        assert ready.json()["detail"].startswith("database unreachable")
        assert (await http.get("/health/live")).status_code == 200

        database.start()
        recovered = await eventually_ok(lambda: http.get("/v1/offices", headers=bearer(token)))
        assert recovered.status_code == 200
        assert (await http.get("/health/ready")).status_code == 200
        assert await token_for(http, created)
        assert (await http.post("/v1/offices", json=OFFICE, headers=bearer(token))).status_code == 201


async def test_a_paused_database_is_a_503_within_the_deadline(database: Database, node: Node) -> None:
    created = await add_client(node.settings, "eu", ["directory:read", "directory:write"])
    async with httpx.AsyncClient(base_url=node.base, timeout=60) as http:
        token = await token_for(http, created)
        assert (await http.get("/v1/offices", headers=bearer(token))).status_code == 200
        processes = database.pause()
        try:
            for call in (
                http.get("/v1/offices", headers=bearer(token)),
                http.post("/v1/offices", json=OFFICE, headers=bearer(token)),
            ):
                response, elapsed = await timed(call)
                assert_unavailable(response)
                assert elapsed < TIMEOUTS["request_timeout"] + 2
        finally:
            database.resume(processes)
        recovered = await eventually_ok(lambda: http.get("/v1/offices", headers=bearer(token)))
        assert recovered.status_code == 200


async def test_a_write_waiting_on_a_lock_is_a_503_and_writes_nothing(database: Database, node: Node) -> None:
    created = await add_client(node.settings, "un", ["directory:read", "directory:write"])
    async with httpx.AsyncClient(base_url=node.base, timeout=60) as http:
        token = await token_for(http, created)

        async def count() -> int:
            page = await http.get("/v1/offices", params={"organisation": "un"}, headers=bearer(token))
            return page.json()["total"]

        before = await count()
        holder = await asyncpg.connect(database.urls.admin)
        try:
            async with holder.transaction():
                await holder.execute("SELECT 1 FROM audit_head FOR UPDATE")  # every write appends to the log
                response, elapsed = await timed(http.post("/v1/offices", json=OFFICE, headers=bearer(token)))
                assert_unavailable(response)
                assert elapsed < TIMEOUTS["db_lock_timeout"] + 2
        finally:
            await holder.close()
        assert await count() == before
        assert (await http.post("/v1/offices", json=OFFICE, headers=bearer(token))).status_code == 201
        assert await count() == before + 1
