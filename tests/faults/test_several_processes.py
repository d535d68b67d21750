"""Several processes on one database (issue #17, point 7): three ``msnet serve`` and two ``msnet worker``
processes, as an operator runs them behind a load balancer. The burst limit, idempotency keys and
deliveries hold across them (each exactly once), a rotated signing key reaches every process within
its bound, and a rolling restart under load loses no request of a client that retries as the
README tells it to."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet.db.embedded import DatabaseUrls
from msnet.outbox import service as outbox
from msnet.settings import Settings
from tests.faults.processes import Process, Server, until
from tests.helpers import Caller, add_client, bearer, cli_env, run_cli, token_for
from tests.outbox.conftest import Receiver, acting
from tests.training.conftest import make_training
from tests.training.test_digests import last_week

BURST_LIMIT = 5
ENV = {
    "MSNET_WORKER": "off",  # the two `msnet worker` processes deliver
    "MSNET_DB_POOL_SIZE": "2",  # five processes share the test server with the rest of the run
    "MSNET_REQUEST_BURST_LIMIT": str(BURST_LIMIT),
    "MSNET_WORKER_POLL_INTERVAL": "1",
}
OFFICE = {"name": "Mediation Support Unit", "sharing": "network"}
#: What a client retries, as the README tells it to: the node unavailable, or not answering at all.
RETRIED = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


@dataclass
class Cluster:
    settings: Settings
    admin_url: str
    servers: list[Server]
    workers: list[Process]


@pytest.fixture
async def cluster(settings: Settings, db_urls: DatabaseUrls, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Three serving processes and two workers on the test's database. Starting them is most of what
    this module costs, so one test runs every check on them in turn."""
    servers = [Server(settings, tmp_path / "logs", **ENV) for _ in range(3)]
    workers = [Process(settings, "worker", tmp_path / "logs", **ENV) for _ in range(2)]
    try:
        for worker in workers:
            worker.start()
        await asyncio.gather(*(s.up() for s in servers))
        yield Cluster(settings, db_urls.admin, servers, workers)
    finally:
        for process in (*servers, *workers):
            process.close()


async def test_three_servers_and_two_workers_on_one_database(
    cluster: Cluster, sessionmaker: async_sessionmaker
) -> None:
    await one_idempotency_key_sent_to_every_process_at_once_creates_one_record(cluster)
    await the_burst_limit_counts_attempts_at_every_process(cluster)
    await two_workers_deliver_each_message_once(cluster, sessionmaker)
    await digests_sent_by_several_processes_at_once_go_out_once(cluster)
    await a_rotated_key_reaches_every_process(cluster)
    await a_rolling_restart_under_load_loses_no_request(cluster)
    for worker in cluster.workers:
        assert worker.stop() == 0, worker.output()


async def caller(cluster: Cluster, slug: str, scopes: list[str]) -> dict[str, str]:
    """A new client of ``slug`` with a token from the first serving process."""
    created = await add_client(cluster.settings, slug, scopes)
    async with httpx.AsyncClient(base_url=cluster.servers[0].base, timeout=30) as http:
        return bearer(await token_for(http, created))


async def one_idempotency_key_sent_to_every_process_at_once_creates_one_record(cluster: Cluster) -> None:
    headers = {
        **await caller(cluster, "au", ["directory:read", "directory:write"]),
        "Idempotency-Key": "once",
    }
    async with httpx.AsyncClient(timeout=30) as http:
        answers = await asyncio.gather(
            *(http.post(f"{s.base}/v1/offices", json=OFFICE, headers=headers) for s in cluster.servers * 2)
        )
        assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 5
        listed = await http.get(
            f"{cluster.servers[1].base}/v1/offices", params={"organisation": "au"}, headers=headers
        )
    assert listed.json()["total"] == 1


async def the_burst_limit_counts_attempts_at_every_process(cluster: Cluster) -> None:
    """Three attempts a process, at once: the limit's worth pass (a 404: no such request), the rest
    are refused, whichever process they reached; another client is not held back."""
    headers = await caller(cluster, "eu", ["requests:read", "requests:write"])
    other = await caller(cluster, "un", ["requests:read", "requests:write"])
    async with httpx.AsyncClient(timeout=30) as http:
        answers = await asyncio.gather(
            *(
                http.post(f"{s.base}/v1/requests/{uuid.uuid4()}/withdraw", headers=headers)
                for s in cluster.servers * 3
            )
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [404] * BURST_LIMIT + [429] * (9 - BURST_LIMIT)
        for refused in (a for a in answers if a.status_code == 429):
            assert 1 <= int(refused.headers["retry-after"]) <= 60
        for server in cluster.servers:
            response = await http.post(f"{server.base}/v1/requests/{uuid.uuid4()}/withdraw", headers=other)
            assert response.status_code == 404


async def two_workers_deliver_each_message_once(cluster: Cluster, sessionmaker: async_sessionmaker) -> None:
    headers = await caller(cluster, "igad", ["org:admin"])
    receiver = Receiver()
    receiver.start()
    try:
        async with httpx.AsyncClient(base_url=cluster.servers[2].base, timeout=30) as http:
            registered = await http.post(
                "/v1/webhooks",
                json={"url": receiver.url, "event_types": ["request.received"]},
                headers=headers,
            )
            assert registered.status_code == 201, registered.text
        conn = await asyncpg.connect(cluster.admin_url)
        try:
            org_id = await conn.fetchval("SELECT id FROM organisations WHERE slug = 'igad'")
            async with acting(sessionmaker, org_id) as session:
                for n in range(40):
                    await outbox.emit(
                        session, organisation_id=org_id, event_type="request.received", data={"n": n}
                    )

            async def delivered() -> bool:
                pending = await conn.fetchval(
                    "SELECT count(*) FROM outbox_messages WHERE organisation_id = $1 AND delivered_at IS NULL",
                    org_id,
                )
                return pending == 0

            await until(
                delivered,
                60,
                lambda: (
                    "the workers did not deliver every message:\n"
                    + "\n".join(w.output() for w in cluster.workers)
                ),
            )
            rows = await conn.fetch(
                "SELECT id::text, attempts FROM outbox_messages WHERE organisation_id = $1", org_id
            )
        finally:
            await conn.close()
    finally:
        receiver.stop()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert sorted(ids) == sorted(r["id"] for r in rows)  # each delivered once
    assert {r["attempts"] for r in rows} == {1}


async def digests_sent_by_several_processes_at_once_go_out_once(cluster: Cluster) -> None:
    """Two `msnet digest send` at once, beside the two workers, which send digests too: each
    subscription's digest of last week is queued once."""
    headers = await caller(cluster, "sadc", ["training:read", "training:write"])
    async with httpx.AsyncClient(base_url=cluster.servers[1].base, timeout=30) as http:
        subscriber = Caller("sadc", headers)
        await make_training(http, subscriber)  # type: ignore[arg-type]
        for address in ("one@sadc.example.org", "two@sadc.example.org"):
            response = await http.post("/v1/subscriptions", json={"email": address}, headers=headers)
            assert response.status_code == 201, response.text
    conn = await asyncpg.connect(cluster.admin_url)
    try:
        await last_week(conn)
        sending = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "msnet",
                "digest",
                "send",
                "--period",
                "weekly",
                env=cli_env(cluster.settings),
            )
            for _ in range(2)
        ]
        assert [await p.wait() for p in sending] == [0, 0]
        queued = await conn.fetch(
            "SELECT payload->>'to' AS to FROM outbox_messages WHERE kind = 'email' "
            "AND organisation_id = (SELECT id FROM organisations WHERE slug = 'sadc')"
        )
    finally:
        await conn.close()
    assert sorted(r["to"] for r in queued) == ["one@sadc.example.org", "two@sadc.example.org"]


def kid(token: str) -> str:
    header = token.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


async def a_rotated_key_reaches_every_process(cluster: Cluster) -> None:
    """After `msnet keys rotate`: a token a process signs with the new key is accepted by every other
    process at once (an unknown kid reloads their keys), every process lists the new key in its JWKS
    within a second, and tokens signed with the old key keep working until they expire."""
    created = await add_client(cluster.settings, "oas", ["directory:read"])
    first, *others = cluster.servers
    async with httpx.AsyncClient(base_url=first.base, timeout=30) as before:
        old_token = await token_for(before, created)
    async with httpx.AsyncClient(timeout=30) as http:
        rotated = run_cli(cluster.settings, "keys", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        conn = await asyncpg.connect(cluster.admin_url)
        try:
            new_kid = await conn.fetchval("SELECT kid FROM signing_keys WHERE retired_at IS NULL")
        finally:
            await conn.close()
        assert new_kid != kid(old_token)

        first.stop()  # a process that starts now signs with the new key
        await first.up()
        async with httpx.AsyncClient(base_url=first.base, timeout=30) as fresh:
            new_token = await token_for(fresh, created)
        assert kid(new_token) == new_kid
        for server in others:
            response = await http.get(f"{server.base}/v1/offices", headers=bearer(new_token))
            assert response.status_code == 200, response.text

        for server in cluster.servers:

            async def listed(server: Server = server) -> bool:
                keys = (await http.get(f"{server.base}/.well-known/jwks.json")).json()["keys"]
                return new_kid in {k["kid"] for k in keys}

            await until(listed, 5, f"{server.base} does not list the new key")
            response = await http.get(f"{server.base}/v1/offices", headers=bearer(old_token))
            assert response.status_code == 200, response.text


async def a_rolling_restart_under_load_loses_no_request(cluster: Cluster) -> None:
    """Writers send creating POSTs to every process in turn while each process is restarted in turn;
    a writer retries what gets a 503 or no answer, on the next process, with the same Idempotency-Key.
    Every write is acknowledged once and is in the database once; nothing else is."""
    headers = await caller(cluster, "ecowas", ["directory:read", "directory:write"])
    acknowledged: dict[str, str] = {}
    retried: list[str] = []
    restarted = asyncio.Event()
    servers = cluster.servers

    async with httpx.AsyncClient(timeout=30) as http:

        async def write(key: str, turn: int) -> None:
            body = {**OFFICE, "name": f"Office {key}"}
            deadline = time.monotonic() + 60
            while True:
                server = servers[turn % len(servers)]
                try:
                    response = await http.post(
                        f"{server.base}/v1/offices", json=body, headers={**headers, "Idempotency-Key": key}
                    )
                except RETRIED as exc:
                    retried.append(type(exc).__name__)
                else:
                    if response.status_code == 201:
                        acknowledged[key] = response.json()["id"]
                        return
                    assert response.status_code == 503, response.text
                    assert response.headers["retry-after"]
                    retried.append("503")
                assert time.monotonic() < deadline, "a write was not acknowledged within a minute"
                turn += 1
                await asyncio.sleep(0.05)

        async def writer(n: int) -> None:
            i = 0
            while not restarted.is_set() or i < 3:
                await write(f"w{n}-{i}", n + i)
                i += 1

        async def restart() -> None:
            for server in servers:
                so_far = len(acknowledged)

                async def writing(so_far: int = so_far) -> bool:
                    return len(acknowledged) >= so_far + 4

                await until(writing, 30, "the writers are not writing")  # under load, each time
                assert await asyncio.to_thread(server.stop) == 0, server.output()
                await server.up()
            restarted.set()

        await asyncio.gather(restart(), *(writer(n) for n in range(4)))

    conn = await asyncpg.connect(cluster.admin_url)
    try:
        org_id = await conn.fetchval("SELECT id FROM organisations WHERE slug = 'ecowas'")
        async with conn.transaction():
            await conn.execute("SELECT set_config('msnet.org', $1, true)", str(org_id))
            offices = await conn.fetch(
                "SELECT id::text, name FROM offices WHERE organisation_id = $1", org_id
            )
    finally:
        await conn.close()
    assert sorted(r["id"] for r in offices) == sorted(acknowledged.values())
    assert sorted(r["name"] for r in offices) == sorted(f"Office {key}" for key in acknowledged)
    assert "ConnectError" in retried, "no write met a process while it was down"
