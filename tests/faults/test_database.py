"""The database stopped, paused or holding a lock: msnet answers 503 with Retry-After within its
bounds (never waiting as long as the fault lasts), writes nothing half, and recovers without a restart."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx

from msnet.app import create_app
from msnet.audit.service import verify
from tests.conftest import serving
from tests.faults.conftest import TIMEOUTS, Database, Node, module_settings
from tests.faults.processes import SHORT_TIMEOUTS, Server, until
from tests.helpers import add_client, bearer, token_for, waiting_on_locks

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


def jwt_kid(token: str) -> str:
    """The ``kid`` of a JWT's header."""
    header = token.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


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


async def test_msnet_started_while_the_database_is_down_serves_once_it_is_up(
    database: Database, tmp_path: Path
) -> None:
    """``msnet serve`` started with its database stopped listens anyway: /health/ready answers 503
    and says why, the API answers 503 with Retry-After, and once the database is up it serves
    without a restart."""
    settings = module_settings(database, tmp_path)
    database.start()
    created = await add_client(settings, "oas", ["directory:read", "directory:write"])
    database.stop()
    server = Server(settings, tmp_path / "logs", MSNET_WORKER="off", **SHORT_TIMEOUTS)
    try:
        await server.up()
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            ready = await http.get("/health/ready")
            assert ready.status_code == 503
            assert ready.headers["retry-after"] == "5"
            assert ready.json()["detail"].startswith("database unreachable")
            assert_unavailable(await http.get("/v1/organisations"))
            assert_unavailable(
                await http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(created.client_id, created.client_secret),
                )
            )

            database.start()
            assert (await eventually_ok(lambda: http.get("/health/ready"))).status_code == 200
            token = await token_for(http, created)
            assert (await http.post("/v1/offices", json=OFFICE, headers=bearer(token))).status_code == 201
            keys = (await http.get("/.well-known/jwks.json")).json()["keys"]
            assert [k["kid"] for k in keys] == [jwt_kid(token)]
    finally:
        server.close()
        database.start()


async def test_writers_while_the_database_restarts_lose_no_acknowledged_write(
    database: Database, node: Node
) -> None:
    """Concurrent writers, each retrying a 503 with the same Idempotency-Key as the README tells
    clients to, while the database stops and starts again: every write acknowledged is there once,
    with its audit entry, and every failure was a 503 with Retry-After."""
    created = await add_client(node.settings, "igad", ["directory:read", "directory:write"])
    writers, writes = 6, 8
    acknowledged: dict[str, str] = {}  # Idempotency-Key -> the office's id
    failures: list[httpx.Response] = []
    landed = asyncio.Event()

    async with httpx.AsyncClient(base_url=node.base, timeout=30) as http:
        token = await token_for(http, created)

        async def write(key: str) -> None:
            body = {**OFFICE, "name": f"Office {key}"}
            headers = {**bearer(token), "Idempotency-Key": key}
            deadline = time.monotonic() + 60
            while True:
                response = await http.post("/v1/offices", json=body, headers=headers)
                if response.status_code == 201:
                    acknowledged[key] = response.json()["id"]
                    landed.set()
                    return
                failures.append(response)
                assert time.monotonic() < deadline, response.text
                await asyncio.sleep(0.2)

        async def writer(n: int) -> None:
            for i in range(writes):
                await write(f"w{n}-{i}")

        async def restart() -> None:
            await landed.wait()
            database.stop()

            async def met() -> bool:
                return bool(failures)

            await until(met, 30, "no write met the stopped database")
            database.start()

        await asyncio.gather(restart(), *(writer(n) for n in range(writers)))

        assert failures, "no write met the restart"
        for response in failures:
            assert_unavailable(response)
        assert len(acknowledged) == writers * writes

    conn = await asyncpg.connect(database.urls.admin)
    try:
        org_id = await conn.fetchval("SELECT id FROM organisations WHERE slug = 'igad'")
        async with conn.transaction():
            await conn.execute("SELECT set_config('msnet.org', $1, true)", str(org_id))
            offices = await conn.fetch(
                "SELECT id::text, name FROM offices WHERE organisation_id = $1", org_id
            )
            audited = await conn.fetch(
                "SELECT resource_id FROM audit_log WHERE organisation_id = $1 "
                "AND action = 'office.create' AND outcome = 'success'",
                org_id,
            )
    finally:
        await conn.close()
    assert sorted(r["id"] for r in offices) == sorted(acknowledged.values())  # each once, none else
    assert {r["name"] for r in offices} == {f"Office {key}" for key in acknowledged}
    assert sorted(r["resource_id"] for r in audited) == sorted(acknowledged.values())
    assert (await verify(database.urls.admin)).ok


async def test_more_slow_requests_than_the_pool_holds_get_503s_then_it_recovers(
    database: Database, tmp_path: Path
) -> None:
    """Writes that wait on a lock hold every connection of the pool (two, and two more of overflow):
    a request after them waits the pool timeout, not the lock, and is a 503 with Retry-After; once
    the lock goes, the waiting writes succeed and the node serves again."""
    pool = 2 * 2  # MSNET_DB_POOL_SIZE and as many again of overflow
    timeouts = {**TIMEOUTS, "db_lock_timeout": 20, "db_statement_timeout": 30, "request_timeout": 60}
    settings = module_settings(database, tmp_path, db_pool_size=2, **timeouts)
    database.start()
    created = await add_client(settings, "oic", ["directory:read", "directory:write"])
    with serving(create_app(settings), settings.port):
        async with httpx.AsyncClient(base_url=settings.public_url, timeout=60) as http:
            token = await token_for(http, created)
            holder = await asyncpg.connect(database.urls.admin)
            try:
                async with holder.transaction():
                    await holder.execute("SELECT 1 FROM audit_head FOR UPDATE")
                    slow = [
                        asyncio.create_task(
                            http.post(
                                "/v1/offices", json={**OFFICE, "name": f"Slow {i}"}, headers=bearer(token)
                            )
                        )
                        for i in range(pool)
                    ]

                    async def all_waiting() -> bool:
                        return await waiting_on_locks(holder) >= pool

                    await until(all_waiting, 20, "the slow writes did not all wait on the lock")
                    for call in (
                        http.get("/v1/offices", headers=bearer(token)),
                        http.post("/v1/offices", json=OFFICE, headers=bearer(token)),
                    ):
                        response, elapsed = await timed(call)
                        assert_unavailable(response)
                        assert elapsed < TIMEOUTS["db_pool_timeout"] + 2
            finally:
                await holder.close()
            assert [(await task).status_code for task in slow] == [201] * pool
            assert (await http.get("/v1/offices", headers=bearer(token))).status_code == 200
            assert (await http.post("/v1/offices", json=OFFICE, headers=bearer(token))).status_code == 201
