"""The pull between live nodes over real HTTP (issue #20 points 4 and 5, its faults and isolation):
records shared on one node appear in another's lists with their origin; a bad page is rejected whole
and the cursor stays; a peer failing mid-pull is resumed where it left off; nothing is applied twice,
nothing lost, no local record overwritten; a third node learns nothing of what two share alone.

Faults a peer would cause are made at the network edge: a transport between the puller and the
peer that changes what the peer answered (or answers for it)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from joserfc.jwk import RSAKey

from msnet.db.embedded import with_user_and_db
from msnet.db.engine import make_engine, make_sessionmaker
from msnet.federation import client as client_module
from msnet.federation import feed, service
from msnet.federation.client import PeerClient
from msnet.federation.sync import Puller, metrics_of
from msnet.jobs import runner
from msnet.jobs.federation import Pull
from tests.federation.conftest import Node, peer_both
from tests.federation.test_feed import org_headers, payload, settled, share
from tests.roster.conftest import expert_body

pytestmark = pytest.mark.xdist_group("tests/federation/test_sync.py")  # the module's nodes, made once

CHANGES = "/federation/v1/changes"


@pytest.fixture(scope="module")
def peered(nodes: list[Node]) -> list[Node]:
    """Every two of un, au and eu peered."""
    un, au, eu = nodes

    async def setup() -> None:
        await peer_both(un, au)
        await peer_both(un, eu)
        await peer_both(au, eu)

    asyncio.run(setup())
    return nodes


@asynccontextmanager
async def puller_of(node: Node, page_limit: int = 200) -> AsyncIterator[Puller]:
    """The pull as ``node``'s job runs it, on a pool of its own, counting into the node's /metrics."""
    engine = make_engine(node.settings.database_url, pool_size=3)  # type: ignore[arg-type]
    puller = Puller(
        make_sessionmaker(engine), node.settings, metrics_of(node.app.state.metrics), page_limit=page_limit
    )
    await puller.keys()
    try:
        yield puller
    finally:
        await puller.close()
        await engine.dispose()


Change = Callable[[int, dict[str, Any]], tuple[int, dict[str, Any]] | Exception]


class Tamper(httpx.AsyncBaseTransport):
    """Between a puller and its peer: ``change(n, page)`` rewrites the n-th page (from 0) the peer
    answered, as (status, body), or raises for it."""

    def __init__(self, change: Change) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.change = change
        self.pages = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != CHANGES or response.status_code != 200:
            return response
        await response.aread()
        await response.aclose()
        changed = self.change(self.pages, json.loads(response.content))
        self.pages += 1
        if isinstance(changed, Exception):
            raise changed
        status, body = changed
        return httpx.Response(status, json=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def tamper(puller: Puller, peer: Node, change: Change) -> None:
    """The puller's next calls to ``peer`` go through ``change``."""
    assert puller.ring is not None
    if peer.issuer in puller.clients:
        await untamper(puller, peer)
    client = PeerClient(puller.settings, puller.ring, peer.issuer)
    await client.http.aclose()
    client.http = httpx.AsyncClient(base_url=peer.issuer, transport=Tamper(change), timeout=10)
    puller.clients[peer.issuer] = client


async def untamper(puller: Puller, peer: Node) -> None:
    await puller.clients.pop(peer.issuer).aclose()


async def rows(superuser_url: str, node: Node, query: str, *args: Any) -> list[asyncpg.Record]:
    """``query`` on ``node``'s database past row-level security (as the superuser)."""
    database = urlsplit(node.settings.database_url).path.lstrip("/")  # type: ignore[arg-type]
    conn = await asyncpg.connect(
        with_user_and_db(superuser_url, urlsplit(superuser_url).username or "", database)
    )
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def peer_row(node: Node, issuer: str) -> dict[str, Any]:
    found = await node.owner(
        "SELECT cursor, failures, last_error, last_sync_at, next_attempt_at FROM peers WHERE issuer = $1",
        issuer,
    )
    return dict(found[0])


async def api(node: Node, headers: dict[str, str], path: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=node.issuer) as http:
        return await http.get(path, params=params, headers=headers)


async def pull(puller: Puller, origin: Node) -> None:
    await settled(origin)
    await puller.pull(origin.issuer)


async def test_shared_records_appear_in_the_peers_lists_with_their_origin_and_without_contact(
    peered: list[Node], superuser_url: str
) -> None:
    un, au, _ = peered
    un_headers = await org_headers(un, "un", ["directory:write", "roster:write", "training:write"])
    network = await share(
        un, un_headers, "/v1/offices", {"name": "UN Mediation Support Unit", "sharing": "network"}
    )
    for_au = await share(
        un,
        un_headers,
        "/v1/offices",
        {"name": "UN Desk for AU", "sharing": "restricted", "share_with": ["au-2"]},
    )
    private = await share(un, un_headers, "/v1/offices", {"name": "UN internal cell", "sharing": "private"})
    expert = await share(
        un,
        un_headers,
        "/v1/experts",
        expert_body(
            name="Ilse Berg",
            sharing="network",
            contact={"email": "ilse@example.org", "phone": "+41 22 917 1234"},
        ),
    )
    publication = await share(
        un,
        un_headers,
        "/v1/publications",
        {
            "title": "Mediating local ceasefires",
            "url": "https://example.org/guide",
            "published_on": "2026-05-01",
            "sharing": "network",
        },
    )
    async with puller_of(au) as puller:
        await pull(puller, un)

    reader = await org_headers(au, "au-2", ["directory:read", "roster:read", "training:read"])
    offices = {o["id"]: o for o in (await api(au, reader, "/v1/offices", limit=200)).json()["items"]}
    assert offices[network["id"]]["origin"] == un.issuer
    assert offices[for_au["id"]]["origin"] == un.issuer
    assert private["id"] not in offices
    other = await org_headers(au, "au", ["directory:read"])  # for_au is shared with au-2 only
    assert for_au["id"] not in {
        o["id"] for o in (await api(au, other, "/v1/offices", limit=200)).json()["items"]
    }
    experts = {e["id"]: e for e in (await api(au, reader, "/v1/experts", limit=200)).json()["items"]}
    assert experts[expert["id"]]["origin"] == un.issuer
    assert experts[expert["id"]]["name"] == "Ilse Berg"
    # the contact details stay at home (a lookup on the copy is asked of the home node)
    assert (
        await rows(
            superuser_url, au, "SELECT * FROM expert_contacts WHERE expert_id = $1", uuid.UUID(expert["id"])
        )
        == []
    )
    publications = {
        p["id"]: p for p in (await api(au, reader, "/v1/publications", limit=200)).json()["items"]
    }
    assert publications[publication["id"]]["origin"] == un.issuer

    async with au.session() as session:
        [status] = [s for s in await service.peer_statuses(session) if s.issuer == un.issuer]
    assert status.last_sync_at is not None
    assert (status.failures, status.last_error) == (0, None)
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(au.issuer + "/metrics")).text
    assert f'msnet_federation_pulls_total{{outcome="ok",peer="{un.issuer}"}}' in metrics
    assert f'msnet_federation_lag_seconds{{peer="{un.issuer}"}}' in metrics


async def test_a_third_node_learns_nothing_of_what_two_share_alone_and_nothing_is_relayed(
    peered: list[Node], superuser_url: str
) -> None:
    un, au, eu = peered
    un_headers = await org_headers(un, "un")
    between = await share(
        un, un_headers, "/v1/offices", {"name": "UN-AU only", "sharing": "restricted", "share_with": ["au"]}
    )
    private = await share(un, un_headers, "/v1/offices", {"name": "UN only", "sharing": "private"})
    network = await share(un, un_headers, "/v1/offices", {"name": "UN to all", "sharing": "network"})
    async with puller_of(au) as on_au, puller_of(eu) as on_eu:
        await pull(on_au, un)
        await pull(on_eu, un)
        await pull(on_eu, au)  # au holds un's records: it passes none of them on
    held_by_au = await rows(
        superuser_url,
        au,
        "SELECT id FROM offices WHERE id = ANY($1::uuid[])",
        [uuid.UUID(between["id"]), uuid.UUID(network["id"])],
    )
    assert len(held_by_au) == 2
    for secret in (between, private):
        for table, column in (
            ("offices", "id"),
            ("federation_replicas", "record_id"),
            ("change_log", "record_id"),
            ("tombstones", "record_id"),
        ):
            assert (
                await rows(
                    superuser_url, eu, f"SELECT 1 FROM {table} WHERE {column} = $1", uuid.UUID(secret["id"])
                )
                == []
            ), (secret["name"], table)
    assert (
        await rows(superuser_url, au, "SELECT 1 FROM offices WHERE id = $1", uuid.UUID(private["id"])) == []
    )
    [network_on_eu] = await rows(
        superuser_url,
        eu,
        "SELECT origin FROM federation_replicas WHERE record_id = $1",
        uuid.UUID(network["id"]),
    )
    assert network_on_eu["origin"] == un.issuer  # from un itself, never from au
    relayed = await rows(
        superuser_url,
        eu,
        "SELECT count(*) AS n FROM federation_replicas WHERE origin = $1 AND record_id IN (SELECT record_id FROM federation_replicas WHERE origin <> $1)",
        au.issuer,
    )
    assert relayed[0]["n"] == 0


def _reencoded(item: str, **changes: Any) -> str:
    header, _, signature = item.split(".")
    altered = {**payload(item), **changes}
    return (
        f"{header}.{base64.urlsafe_b64encode(json.dumps(altered).encode()).decode().rstrip('=')}.{signature}"
    )


async def test_a_bad_page_is_rejected_whole_and_the_cursor_stays(
    peered: list[Node], superuser_url: str
) -> None:
    un, au, eu = peered
    un_key = (await un.key_ring()).signing
    forger = RSAKey.import_key(
        {**RSAKey.generate_key(2048, auto_kid=True).as_dict(private=True), "kid": un_key.kid}
    )
    un_headers = await org_headers(un, "un")
    au_headers = await org_headers(au, "au")
    local = await share(au, au_headers, "/v1/offices", {"name": "AU's own", "sharing": "network"})

    def office_item(page: dict[str, Any]) -> dict[str, Any]:
        return next(payload(i) for i in page["items"] if payload(i)["kind"] == "office")

    cases: dict[str, Callable[[dict[str, Any]], list[str]]] = {
        "an altered item": lambda page: [*page["items"][:-1], _reencoded(page["items"][-1], version=99)],
        "a forged item": lambda page: [
            *page["items"],
            feed.sign_item(forger, {**office_item(page), "version": 99}),
        ],
        "an item whose origin is another node": lambda page: [
            *page["items"],
            feed.sign_item(un_key, {**office_item(page), "id": str(uuid.uuid4()), "origin": eu.issuer}),
        ],
        "an item overwriting the peer's own record": lambda page: [
            *page["items"],
            feed.sign_item(un_key, {**office_item(page), "id": local["id"], "version": 50}),
        ],
    }
    async with puller_of(au) as puller:
        await pull(puller, un)
        for case, bad in cases.items():
            office = await share(
                un, un_headers, "/v1/offices", {"name": f"after {case}", "sharing": "network"}
            )
            before = await peer_row(au, un.issuer)
            await tamper(puller, un, lambda n, page, bad=bad: (200, {**page, "items": bad(page)}))
            await pull(puller, un)
            after = await peer_row(au, un.issuer)
            assert after["cursor"] == before["cursor"], case
            assert after["failures"] == before["failures"] + 1, case
            assert after["last_error"], case
            assert (
                await rows(superuser_url, au, "SELECT 1 FROM offices WHERE id = $1", uuid.UUID(office["id"]))
                == []
            ), case
            await untamper(puller, un)
            await pull(puller, un)
            assert (await peer_row(au, un.issuer))["failures"] == 0, case
            assert (
                len(
                    await rows(
                        superuser_url, au, "SELECT 1 FROM offices WHERE id = $1", uuid.UUID(office["id"])
                    )
                )
                == 1
            ), case
    [mine] = await rows(
        superuser_url, au, "SELECT origin, name, version FROM offices WHERE id = $1", uuid.UUID(local["id"])
    )
    assert dict(mine) == {"origin": au.issuer, "name": "AU's own", "version": 1}
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(au.issuer + "/metrics")).text
    assert (
        f'msnet_federation_pulls_total{{outcome="failed",peer="{un.issuer}"}} {float(len(cases))}' in metrics
    )


async def test_a_peer_failing_mid_pull_is_resumed_where_it_left_off_nothing_twice_nothing_lost(
    peered: list[Node], superuser_url: str
) -> None:
    un, au, _ = peered
    un_headers = await org_headers(un, "un-2")
    async with puller_of(au, page_limit=1) as puller:
        await pull(puller, un)
        made = [
            await share(un, un_headers, "/v1/offices", {"name": f"burst {n}", "sharing": "network"})
            for n in range(4)
        ]
        ids = [uuid.UUID(o["id"]) for o in made]

        def fail_on_third(n: int, page: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            return (500, {"title": "Internal server error", "status": 500}) if n == 2 else (200, page)

        await tamper(puller, un, fail_on_third)
        await pull(puller, un)
        row = await peer_row(au, un.issuer)
        assert row["failures"] == 1
        assert "500" in row["last_error"]
        held = await rows(superuser_url, au, "SELECT id FROM offices WHERE id = ANY($1::uuid[])", ids)
        assert 0 < len(held) < 4  # the pages before the failure stay applied, their cursor with them
        assert row["next_attempt_at"] is not None  # it backs off

        def unreachable(n: int, page: dict[str, Any]) -> Exception:
            return httpx.ConnectError("connection refused")

        await tamper(puller, un, unreachable)
        await pull(puller, un)
        assert (await peer_row(au, un.issuer))["failures"] == 2
        await untamper(puller, un)
        replayed: list[dict[str, Any]] = []

        def record(n: int, page: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            replayed.append(page)
            return 200, page

        await tamper(puller, un, record)
        await pull(puller, un)  # back: it goes on from its cursor
        assert (await peer_row(au, un.issuer))["failures"] == 0
        held = await rows(
            superuser_url, au, "SELECT id, version FROM offices WHERE id = ANY($1::uuid[])", ids
        )
        assert sorted(r["id"] for r in held) == sorted(ids)
        assert {r["version"] for r in held} == {1}
        versions = await rows(
            superuser_url,
            au,
            "SELECT version FROM federation_replicas WHERE record_id = ANY($1::uuid[])",
            ids,
        )
        assert sorted(r["version"] for r in versions) == [1, 1, 1, 1]

        # the same pages once more, out of order and duplicated: no-ops
        old = [p for p in replayed if p["items"]]
        await tamper(
            puller,
            un,
            lambda n, page: (
                200,
                {**old[-1], "items": old[-1]["items"] + old[0]["items"] * 2, "more": False},
            ),
        )
        before = await rows(
            superuser_url,
            au,
            "SELECT record_id, version, received_at FROM federation_replicas ORDER BY record_id",
        )
        await pull(puller, un)
        assert (
            await rows(
                superuser_url,
                au,
                "SELECT record_id, version, received_at FROM federation_replicas ORDER BY record_id",
            )
            == before
        )
        await untamper(puller, un)
        await pull(puller, un)
        assert (await peer_row(au, un.issuer))["failures"] == 0


async def test_an_expired_cursor_rebuilds_from_a_snapshot(peered: list[Node], superuser_url: str) -> None:
    un, au, _ = peered
    un_headers = await org_headers(un, "un")
    office = await share(
        un, un_headers, "/v1/offices", {"name": "seen after a rebuild", "sharing": "network"}
    )
    await au.owner("UPDATE peers SET cursor = 'c1.1.1.AAAAAAAAAAAAAAAAAAAAAA' WHERE issuer = $1", un.issuer)
    async with puller_of(au) as puller:
        await pull(puller, un)
    row = await peer_row(au, un.issuer)
    assert (row["failures"], row["last_error"]) == (0, None)
    assert row["cursor"] != "c1.1.1.AAAAAAAAAAAAAAAAAAAAAA"
    assert (
        len(await rows(superuser_url, au, "SELECT 1 FROM offices WHERE id = $1", uuid.UUID(office["id"])))
        == 1
    )


async def test_the_worker_pulls_soon_after_a_poke(peered: list[Node], superuser_url: str) -> None:
    """Both nodes' jobs running: a change on un makes un poke au, and au pull it (its interval, an
    hour, is not what brings it)."""
    un, au, _ = peered
    stop = asyncio.Event()
    engines = [make_engine(n.settings.database_url, pool_size=4) for n in (un, au)]  # type: ignore[arg-type]
    contexts = [
        runner.Context(
            make_sessionmaker(engine),
            replace(node.settings, federation_poll_interval=3600),
            node.app.state.metrics,
        )
        for engine, node in zip(engines, (un, au), strict=True)
    ]
    async with puller_of(au) as puller:  # caught up first, so only the poke is left to bring the change
        await pull(puller, un)
    tasks = [asyncio.create_task(runner.run([Pull()], context, stop)) for context in contexts]
    try:
        await asyncio.sleep(0)
        un_headers = await org_headers(un, "un")
        office = await share(un, un_headers, "/v1/offices", {"name": "poked", "sharing": "network"})
        for _ in range(600):
            if await rows(superuser_url, au, "SELECT 1 FROM offices WHERE id = $1", uuid.UUID(office["id"])):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("au never pulled the change")
        poked = await peer_row(au, un.issuer)
        assert poked["failures"] == 0
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for engine in engines:
            await engine.dispose()


@pytest.mark.parametrize("skew", [-300, 300])
async def test_clock_skew_of_five_minutes(
    peered: list[Node], superuser_url: str, skew: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pulling node's clock is ``skew`` seconds off the peer's (its token request's times)."""
    un, au, _ = peered

    real = time.time
    skewed = SimpleNamespace(time=lambda: real() + skew, monotonic=time.monotonic)
    monkeypatch.setattr(client_module, "time", skewed)
    un_headers = await org_headers(un, "un")
    office = await share(un, un_headers, "/v1/offices", {"name": f"skew {skew}", "sharing": "network"})
    async with puller_of(au) as puller:
        await pull(puller, un)
    row = await peer_row(au, un.issuer)
    assert (row["failures"], row["last_error"]) == (0, None)
    assert (
        len(await rows(superuser_url, au, "SELECT 1 FROM offices WHERE id = $1", uuid.UUID(office["id"])))
        == 1
    )
