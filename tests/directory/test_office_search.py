"""The office search through each office's search document (migration 0036): every caller gets the
answer its visible capacities give, worked out here from what the test wrote, before and after the
capacities and the offices change; concurrent changes to one office's capacities are all kept."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from msnet.db.embedded import DatabaseUrls
from msnet.taxonomy import service as taxonomy
from tests.directory.conftest import Caller, make_capacity, make_office
from tests.helpers import org_ids, waiting_on_locks

#: The filters searched, as the API takes them.
FILTERS: list[dict[str, str]] = [
    {},
    {"language": "fr"},
    {"language": "en"},
    {"region": "africa"},
    {"theme": "land", "language": "fr"},
    {"service_type": "coaching"},
    {"theme": "transhumance"},
    {"include_stale": "false"},
    {"language": "fr", "include_stale": "false"},
]
FACETS = {"theme": "themes", "service_type": "service_types", "language": "languages", "region": "regions"}


@dataclass
class Capacity:
    id: str
    office: str
    service_type: str
    themes: list[str]
    languages: list[str]
    regions: list[str]
    sharing: str = "network"
    share_with: list[str] = field(default_factory=list)
    stale: bool = False
    version: int = 1


@dataclass
class Office:
    id: str
    organisation: str
    sharing: str
    share_with: list[str]
    version: int = 1


def sees(reader: str | None, owner: str, sharing: str, share_with: list[str]) -> bool:
    """The sharing rule, as DESIGN.md states it (``None``: an anonymous caller)."""
    if sharing == "public":
        return True
    if reader is None:
        return False
    return reader == owner or sharing == "network" or (sharing == "restricted" and reader in share_with)


def meets(capacity: Capacity, filters: dict[str, str]) -> bool:
    return (
        ("language" not in filters or filters["language"] in capacity.languages)
        and ("region" not in filters or filters["region"] in capacity.regions)
        and ("theme" not in filters or filters["theme"] in capacity.themes)
        and (
            "service_type" not in filters
            or capacity.service_type
            in (filters["service_type"], *taxonomy.children_of(filters["service_type"]))
        )
        and not (filters.get("include_stale") == "false" and capacity.stale)
    )


def expected(
    offices: dict[str, Office], capacities: list[Capacity], reader: str | None, filters: dict[str, str]
) -> tuple[list[str], dict[str, dict[str, int]]]:
    """The offices ``reader`` finds (by id, the order of pages without words) and the facets."""
    found: list[str] = []
    facets: dict[str, dict[str, int]] = {f: {} for f in (*FACETS, "organisation")}
    by_capacity = any(k in filters for k in ("language", "region", "theme", "service_type", "include_stale"))
    for office in offices.values():
        if not sees(reader, office.organisation, office.sharing, office.share_with):
            continue
        matching = [
            c
            for c in capacities
            if c.office == office.id
            and sees(reader, office.organisation, c.sharing, c.share_with)
            and meets(c, filters)
        ]
        if by_capacity and not matching:
            continue
        found.append(office.id)
        facets["organisation"][office.organisation] = facets["organisation"].get(office.organisation, 0) + 1
        for facet, column in FACETS.items():
            if facet == "service_type":
                terms = {c.service_type for c in matching}
            else:
                terms = set().union(*(getattr(c, column) for c in matching))
            for term in terms:
                facets[facet][term] = facets[facet].get(term, 0) + 1
    return sorted(found, key=UUID), facets


async def answer(
    client: AsyncTestClient, headers: dict[str, str], filters: dict[str, str]
) -> tuple[list[str], int, dict[str, dict[str, int]]]:
    """Every page of the search (two offices a page), the total and the first page's facets."""
    ids: list[str] = []
    cursor: str | None = None
    first: dict[str, Any] | None = None
    while True:
        params = {**filters, "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/offices", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        first = first or page
        ids += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert first is not None
    return ids, first["total"], {f: first["facets"][f] for f in (*FACETS, "organisation")}


class World:
    """Offices and capacities written through the API, as the test knows them."""

    def __init__(self, client: AsyncTestClient, callers: dict[str, Caller]) -> None:
        self.client = client
        self.callers = callers
        self.offices: dict[str, Office] = {}
        self.capacities: list[Capacity] = []

    async def office(self, owner: str, sharing: str = "network", share_with: list[str] | None = None) -> str:
        made = await make_office(
            self.client,
            self.callers[owner],
            name=f"Mediation unit {len(self.offices)}",
            sharing=sharing,
            share_with=share_with or [],
        )
        self.offices[made["id"]] = Office(made["id"], owner, sharing, share_with or [])
        return made["id"]

    async def capacity(self, office: str, service_type: str, themes: list[str], languages: list[str], regions: list[str], sharing: str = "network", share_with: list[str] | None = None) -> Capacity:  # fmt: skip
        owner = self.callers[self.offices[office].organisation]
        made = await make_capacity(
            self.client,
            owner,
            office,
            service_type=service_type,
            themes=themes,
            languages=languages,
            regions=regions,
            sharing=sharing,
            share_with=share_with or [],
        )
        capacity = Capacity(
            made["id"], office, service_type, themes, languages, regions, sharing, share_with or []
        )
        self.capacities.append(capacity)
        return capacity

    async def change_capacity(self, capacity: Capacity, **changes: Any) -> None:
        owner = self.callers[self.offices[capacity.office].organisation]
        response = await self.client.patch(
            f"/v1/capacities/{capacity.id}",
            json=changes,
            headers={**owner.headers, "If-Match": f'"{capacity.version}"'},
        )
        assert response.status_code == 200, response.text
        capacity.version += 1
        for name, value in changes.items():
            setattr(capacity, name, value)

    async def change_office(self, office_id: str, **changes: Any) -> None:
        office = self.offices[office_id]
        response = await self.client.patch(
            f"/v1/offices/{office_id}",
            json=changes,
            headers={**self.callers[office.organisation].headers, "If-Match": f'"{office.version}"'},
        )
        assert response.status_code == 200, response.text
        office.version += 1
        for name, value in changes.items():
            setattr(office, name, value)

    async def check(self) -> None:
        """Each caller, and an anonymous one, finds what its visible capacities give, for each filter."""
        readers: dict[str | None, dict[str, str]] = {
            slug: caller.headers for slug, caller in self.callers.items()
        }
        readers[None] = {}
        for reader, headers in readers.items():
            for filters in FILTERS:
                ids, facets = expected(self.offices, self.capacities, reader, filters)
                assert await answer(self.client, headers, filters) == (ids, len(ids), facets), (
                    reader,
                    filters,
                )


async def test_every_caller_finds_what_its_capacities_give_as_they_change(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, owner_conn: asyncpg.Connection
) -> None:
    world = World(client, {"au": au, "eu": eu, "igad": igad})
    alike = await world.office("au")  # every capacity shared as widely as the office
    await world.capacity(alike, "coaching", ["land"], ["fr"], ["africa"])
    await world.capacity(alike, "process_design", ["land", "transhumance"], ["fr", "en"], ["africa"])
    hidden = await world.office("au")  # a capacity some readers of the office may not read
    await world.capacity(hidden, "coaching", ["gender_inclusion"], ["fr"], ["europe"], sharing="private")
    narrowed = await world.capacity(hidden, "process_design", ["land"], ["fr"], ["africa"])
    public = await world.office("au", "public")
    await world.capacity(public, "coaching", ["land"], ["ar"], ["africa"], sharing="public")
    widened = await world.capacity(public, "process_design", ["transhumance"], ["sw"], ["africa"])
    for_eu = await world.office("au", "restricted", ["eu"])
    await world.capacity(
        for_eu, "coaching", ["land"], ["fr"], ["europe"], sharing="restricted", share_with=["eu", "igad"]
    )
    private = await world.office("au", "private")
    await world.capacity(private, "coaching", ["land"], ["fr"], ["africa"], sharing="private")
    await world.office("au")  # none yet
    theirs = await world.office("eu")
    await world.capacity(theirs, "process_design", ["transhumance"], ["fr"], ["africa"])
    ageing = await world.office("igad")
    old = await world.capacity(ageing, "coaching", ["land"], ["fr"], ["africa"])
    await world.capacity(ageing, "process_design", ["transhumance"], ["en"], ["africa"])
    await owner_conn.execute("ALTER TABLE capacities NO FORCE ROW LEVEL SECURITY")
    await owner_conn.execute(
        "UPDATE capacities SET last_confirmed_at = now() - interval '200 days' WHERE id = $1", UUID(old.id)
    )
    await owner_conn.execute("ALTER TABLE capacities FORCE ROW LEVEL SECURITY")
    old.stale = True
    await world.check()

    await world.change_capacity(narrowed, languages=["en"], themes=["transhumance"])
    await world.change_capacity(narrowed, sharing="private")
    await world.change_capacity(widened, sharing="public")
    await world.change_office(alike, sharing="public")  # its capacities are no longer all as wide
    await world.change_office(for_eu, share_with=["eu", "igad"])
    response = await client.post(f"/v1/capacities/{old.id}/confirm", headers=igad.headers)
    assert response.status_code == 200, response.text
    old.stale = False
    gone = world.capacities.pop(0)
    response = await client.delete(f"/v1/capacities/{gone.id}", headers={**au.headers, "If-Match": '"1"'})
    assert response.status_code == 204, response.text
    await world.check()


async def test_concurrent_changes_to_one_office_s_capacities_are_all_kept(
    client: AsyncTestClient, au: Caller, db_urls: DatabaseUrls, owner_conn: asyncpg.Connection
) -> None:
    office = await make_office(client, au)
    first = await make_capacity(client, au, office["id"], languages=["fr"])
    second = await make_capacity(client, au, office["id"], languages=["fr"])
    org = str((await org_ids(owner_conn))["au"])
    one, other = await asyncpg.connect(db_urls.app), await asyncpg.connect(db_urls.app)
    try:
        async with one.transaction():
            await one.execute("SELECT set_config('msnet.org', $1, true)", org)
            await one.execute("UPDATE capacities SET languages = '{ar}' WHERE id = $1", UUID(first["id"]))

            async def change_the_other() -> None:
                async with other.transaction():
                    await other.execute("SELECT set_config('msnet.org', $1, true)", org)
                    await other.execute(
                        "UPDATE capacities SET languages = '{sw}' WHERE id = $1", UUID(second["id"])
                    )

            waiting = asyncio.create_task(change_the_other())
            for _ in range(200):
                if await waiting_on_locks(owner_conn):
                    break
                await asyncio.sleep(0.05)
            assert await waiting_on_locks(owner_conn) == 1  # on the office's search document
        await waiting
    finally:
        await one.close()
        await other.close()
    found = (await client.get("/v1/offices", headers=au.headers)).json()
    assert found["facets"]["language"] == {"ar": 1, "sw": 1}
    assert (await client.get("/v1/offices", params={"language": "ar"}, headers=au.headers)).json()[
        "total"
    ] == 1


async def test_only_the_owner_s_triggers_refresh_a_search_document(db_urls: DatabaseUrls) -> None:
    """The service role cannot call the refresh itself (migration 0037): it would write the search
    table in a transaction that changed no table the read cache tracks, and lock any office's
    document, another organisation's too."""
    conn = await asyncpg.connect(db_urls.app)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SELECT msnet_office_search_refresh(gen_random_uuid())")
    finally:
        await conn.close()
