"""Two organisations merging their duplicates into each other at the same moment must not make a cycle
(which would hide both processes from every list and make both ids unresolvable)."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from msnet.settings import Settings
from tests.helpers import add_client, bearer, waiting_on_locks
from tests.requests.conftest import SCOPES


async def _headers(http: httpx.AsyncClient, settings: Settings, slug: str) -> dict[str, str]:
    created = await add_client(settings, slug, SCOPES)
    token = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created.client_id, created.client_secret),
    )
    assert token.status_code == 200, token.text
    return bearer(token.json()["access_token"])


async def test_crossed_merges_leave_one_process_that_both_ids_resolve_to(
    live_server: str, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as http:
        au, eu = await _headers(http, settings, "au"), await _headers(http, settings, "eu")
        body = {"countries": ["CF"]}
        first = await http.post("/v1/processes", json={**body, "name": "CAR talks (AU)"}, headers=au)
        second = await http.post("/v1/processes", json={**body, "name": "CAR talks (EU)"}, headers=eu)
        assert first.status_code == second.status_code == 201, (first.text, second.text)
        a, b = first.json()["id"], second.json()["id"]

        # Every write appends to the audit chain, whose head row each append locks. Holding it keeps
        # both merges from committing until both have read the process they merge into.
        hold = owner_conn.transaction()
        await hold.start()
        try:
            await owner_conn.execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
            merges = [
                asyncio.ensure_future(http.post(f"/v1/processes/{a}/merge", json={"into": b}, headers=au)),
                asyncio.ensure_future(http.post(f"/v1/processes/{b}/merge", json={"into": a}, headers=eu)),
            ]
            for _ in range(800):  # until both wait (a bound, not a timing assertion)
                waiting = await waiting_on_locks(owner_conn)
                if waiting >= 2 or any(m.done() for m in merges):
                    break
                await asyncio.sleep(0.025)
        finally:
            await hold.rollback()
        answers = await asyncio.gather(*merges)
        assert sorted(r.status_code for r in answers)[0] == 200, [r.text for r in answers]

        listed = (await http.get("/v1/processes", headers=au)).json()
        assert listed["total"] == 1, (listed, [r.text for r in answers])
        resolved = [await http.get(f"/v1/processes/{i}", headers=eu) for i in (a, b)]
        assert [r.status_code for r in resolved] == [200, 200], [r.text for r in resolved]
        assert resolved[0].json()["id"] == resolved[1].json()["id"] == listed["items"][0]["id"]
