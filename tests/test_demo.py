"""The demo network: offices, capacities and a roster for every organisation, loaded idempotently,
valid against the taxonomy and shared as marked."""

from __future__ import annotations

import asyncio
import importlib.resources
import json
from datetime import date
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from msnet import demo
from msnet.demo import roster, specs
from msnet.settings import Settings
from msnet.taxonomy import service as taxonomy
from tests.conftest import DemoTemplate
from tests.helpers import add_client, bearer, org_ids, token_for

TABLES = ("offices", "capacities", "experts", "expert_contacts", "processes", "requests", "request_responses")


async def _rows(conn: asyncpg.Connection, table: str) -> dict[str, list[dict[str, Any]]]:
    """Every organisation's own rows of ``table``, read as the schema owner one organisation at a time
    (forced row-level security applies to the owner too)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for slug, org_id in (await org_ids(conn)).items():
        async with conn.transaction():
            await conn.execute("SELECT set_config('msnet.org', $1, true)", str(org_id))
            rows[slug] = [
                dict(r) for r in await conn.fetch(f"SELECT * FROM {table} WHERE organisation_id = $1", org_id)
            ]
    return rows


async def _counts(conn: asyncpg.Connection) -> dict[str, int]:
    counts = {table: sum(len(r) for r in (await _rows(conn, table)).values()) for table in TABLES}
    counts["audit_log"] = await conn.fetchval("SELECT count(*) FROM audit_log")
    return counts


@pytest.fixture
def loaded(demo_template: DemoTemplate) -> str:
    """What loading the demo printed; the test's database is a clone of the one it was loaded into."""
    return demo_template.printed


async def _eu(client: AsyncTestClient, settings: Settings) -> dict[str, str]:
    return bearer(
        await token_for(client, await add_client(settings, "eu", ["directory:read", "roster:read"]))
    )


# --- the generated data, without a database ---------------------------------------------------


def test_the_roster_is_the_same_on_every_run() -> None:
    first = roster.demo_experts()
    roster.demo_experts.cache_clear()
    assert roster.demo_experts() == first


def test_the_roster_is_plausible() -> None:
    experts = roster.demo_experts()
    assert 180 <= len(experts) <= 220
    names = [e.create.name for e in experts]
    assert len(set(names)) == len(names)
    assert not set(names) & specs.roster().blocked_names
    assert {e.organisation for e in experts} == set(specs.offices())
    for e in experts:
        data = e.create
        assert 1 <= len(data.expertise) <= 4
        assert 1 <= len(data.languages) <= 4
        assert data.languages[0].speak == "native"
        assert 1 <= len(data.availability) <= 3
        for window in data.availability:
            assert date(2026, 1, 1) <= window.start <= window.end <= date(2027, 12, 31)
            assert window.remote or window.in_person
        for before, after in zip(data.availability, data.availability[1:], strict=False):
            assert before.end < after.start
        assert data.contact is not None
        assert data.contact.email
        assert data.contact.email.endswith(("@example.org", "@example.net"))
        assert data.contact.phone
        assert data.contact.phone.startswith("+000 ")
        assert data.consent is not None
        if e.organisation not in specs.roster().open_rosters:
            assert set(data.nationalities) <= taxonomy.countries_in(e.organisation), data.name
    sharing = [e.create.sharing for e in experts]
    assert sharing.count("network") > len(experts) * 0.8
    assert sharing.count("private") > 0
    assert sharing.count("public") > 0


def test_every_pool_has_nationals_of_every_organisation_drawing_on_it() -> None:
    for slug, size in specs.roster().rosters.items():
        for pool in size.pools:
            countries = {c for g in specs.pools()[pool].groups for c in g.countries}
            if slug not in specs.roster().open_rosters:
                countries &= taxonomy.countries_in(slug)
            assert countries, (slug, pool)
            assert all(c in specs.roster().country_languages for c in countries)


def test_offices_are_the_organisations_own() -> None:
    assert set(specs.offices()) == {o.slug for o in specs.organisations()}
    offices = [o for of_org in specs.offices().values() for o in of_org]
    for slug, of_org in specs.offices().items():
        assert 1 <= len(of_org) <= 2
        for office in of_org:
            assert 1 <= office.staff_size <= 16
            assert office.role_mailbox.endswith(f"@{slug}.example.org")
            assert 2 <= len(office.capacities) <= 5
    sharing = [o.sharing for o in offices]
    assert sharing.count("private") == 1
    assert sharing.count("public") == 1


def test_every_data_file_decodes_into_its_structs() -> None:
    folder = importlib.resources.files("msnet.demo") / "data"
    assert {f.name for f in folder.iterdir()} == set(specs.FILES)
    for name in specs.FILES:
        assert specs.read(name)
    misspelt = b'{"au": [{"name": "Unit", "parent_structure": "", "mandate": "", "staff_size": 1, '
    misspelt += (
        b'"role_mailbox": "unit@au.example.org", "capacities": [{"service_type": "coaching", "theme": []}]}]}'
    )
    with pytest.raises(msgspec.ValidationError, match="theme"):
        msgspec.json.decode(misspelt, type=specs.FILES["offices.json"])


def test_every_term_and_code_the_data_names_is_in_the_taxonomy() -> None:
    named: dict[str, set[str]] = {
        kind: set() for kind in ("theme", "service_type", "region", "country", "language")
    }

    def add(kind: str, *values: str | None) -> None:
        named[kind].update(v for v in values if v is not None)

    for offices in specs.offices().values():
        for office in offices:
            for c in office.capacities:
                add("service_type", c.service_type)
                add("theme", *c.themes)
                add("country", *c.countries)
                add("region", *c.regions)
                add("language", *c.languages)
    for pool in specs.pools().values():
        add("country", *(p for p in pool.experience if len(p) == 2))
        add("region", *(p for p in pool.experience if len(p) != 2))
        add("theme", *pool.themes)
        add("language", *pool.lingua_francas)
        for group in pool.groups:
            add("country", *group.countries)
            add("language", *group.home_languages, *group.lingua_francas)
    details = specs.roster()
    add("service_type", *details.service_types)
    add("language", *details.world_languages, *details.language_names)
    add("country", *details.country_languages, *details.country_names)
    for codes in details.country_languages.values():
        add("language", *codes)
    for process in specs.processes():
        add("country", *process.countries)
        add("region", process.region)
    for request in specs.requests():
        add("service_type", *request.service_types)
        add("theme", *request.themes)
        add("language", *request.languages)
    trainings = specs.trainings()
    for venue in (*trainings.venues.values(), *(t.venue for t in trainings.trainings if t.venue)):
        add("country", venue.country)
    for item in (*trainings.trainings, *specs.publications()):
        add("theme", *item.themes)
        add("language", *item.languages)
    known = {
        "theme": taxonomy.theme_ids(),
        "service_type": taxonomy.service_type_ids(),
        "region": taxonomy.region_ids(),
        "country": taxonomy.country_codes(),
        "language": taxonomy.language_codes(),
    }
    for kind, values in named.items():
        assert values, kind
        assert values <= known[kind], (kind, sorted(values - known[kind]))
    organisations = {o.slug for o in specs.organisations()}
    assert organisations <= taxonomy.organisation_slugs()
    assert set(details.rosters) | details.open_rosters <= organisations
    assert {p for size in details.rosters.values() for p in size.pools} <= set(specs.pools())
    assert {m for p in specs.processes() for m in p.lead_mediators} <= organisations
    assert set(trainings.venues) == organisations


def test_requests_name_processes_and_offices_of_the_data() -> None:
    processes = {p.name for p in specs.processes()}
    offices = {(slug, o.name) for slug, of_org in specs.offices().items() for o in of_org}
    for request in specs.requests():
        assert request.process in processes, request.title
        assert (request.organisation, request.office) in offices, request.title
        assert set(request.addressees) <= offices, request.title
        assert {(r.organisation, r.office) for r in request.responses} <= offices, request.title
        assert (request.outcome is not None) == (request.state == "completed"), request.title


# --- loaded --------------------------------------------------------------------------------------


async def test_every_organisation_has_an_office_capacities_and_experts(
    loaded: str, owner_conn: asyncpg.Connection
) -> None:
    offices = await _rows(owner_conn, "offices")
    capacities = await _rows(owner_conn, "capacities")
    experts = await _rows(owner_conn, "experts")
    contacts = await _rows(owner_conn, "expert_contacts")
    for org in specs.organisations():
        assert 1 <= len(offices[org.slug]) <= 2, org.slug
        assert capacities[org.slug], org.slug
        assert experts[org.slug], org.slug
    total = sum(len(rows) for rows in experts.values())
    assert 180 <= total <= 220
    assert sum(len(rows) for rows in contacts.values()) == total
    assert "(10 new)" in loaded
    assert f"{total} experts on the rosters ({total} new)" in loaded


async def test_a_second_load_adds_nothing(
    loaded: str, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    before = await _counts(owner_conn)
    again = await asyncio.to_thread(asyncio.run, demo.load(settings))
    after = await _counts(owner_conn)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }
    assert after["audit_log"] == before["audit_log"] + len(specs.organisations())  # new secrets
    assert "(0 new)" in again
    assert "0 new;" in again


async def test_every_term_is_in_the_taxonomy(loaded: str, owner_conn: asyncpg.Connection) -> None:
    themes, service_types = taxonomy.theme_ids(), taxonomy.service_type_ids()
    countries, regions, languages = taxonomy.country_codes(), taxonomy.region_ids(), taxonomy.language_codes()
    for rows in (await _rows(owner_conn, "experts")).values():
        for expert in rows:
            for item in json.loads(expert["expertise"]):
                assert item["term"] in (themes if item["kind"] == "theme" else service_types)
            assert {s["code"] for s in json.loads(expert["languages"])} <= languages
            assert set(expert["language_codes"]) <= languages
            assert set(expert["nationalities"]) <= countries
            assert {p for p in expert["experience"] if len(p) == 2} <= countries
            assert {p for p in expert["experience"] if len(p) != 2} <= regions
            assert set(expert["regions"]) <= regions
    for rows in (await _rows(owner_conn, "capacities")).values():
        for capacity in rows:
            assert capacity["service_type"] in service_types
            assert set(capacity["themes"]) <= themes
            assert set(capacity["countries"]) <= countries
            assert set(capacity["regions"]) <= regions
            assert set(capacity["languages"]) <= languages


async def test_every_creation_is_audited(loaded: str, owner_conn: asyncpg.Connection) -> None:
    counts = await _counts(owner_conn)
    actions = dict(
        await owner_conn.fetch(
            "SELECT action, count(*) FROM audit_log WHERE actor = 'operator' AND source = 'demo' "
            "GROUP BY action"
        )
    )
    assert actions["office.create"] == counts["offices"]
    assert actions["capacity.create"] == counts["capacities"]
    assert actions["expert.create"] == counts["experts"]
    assert actions["process.create"] == counts["processes"]
    assert actions["request.create"] == counts["requests"]


async def test_requests_in_every_state_and_a_live_overlap(
    loaded: str, owner_conn: asyncpg.Connection
) -> None:
    requests = [r for rows in (await _rows(owner_conn, "requests")).values() for r in rows]
    assert len(requests) == len(specs.requests())
    assert {r["state"] for r in requests} == {
        "draft",
        "submitted",
        "on-hold",
        "received",
        "accepted",
        "rejected",
        "in-progress",
        "completed",
        "cancelled",
    }
    assert len(await _rows(owner_conn, "processes")) >= 1
    assert sum(len(rows) for rows in (await _rows(owner_conn, "processes")).values()) == len(
        specs.processes()
    )
    open_states = ("submitted", "on-hold", "received", "accepted", "in-progress")
    live = [r for r in requests if r["state"] in open_states]
    overlapping = {
        (a["organisation_id"], b["organisation_id"])
        for a in live
        for b in live
        if a["process_id"] == b["process_id"]
        and a["organisation_id"] != b["organisation_id"]
        and a["period_start"] <= b["period_end"]
        and b["period_start"] <= a["period_end"]
    }
    assert overlapping, "two organisations' requests on one process in the same months"
    # the demo's submissions went through detection: the AU's and IGAD's Sudan requests are a live case
    cases = await owner_conn.fetch(
        "SELECT k.status, ARRAY(SELECT o.slug FROM organisations o WHERE o.id = ANY (k.parties)) AS parties, "
        "p.name FROM overlap_cases k JOIN processes p ON p.id = k.process_id"
    )
    sudan = [c for c in cases if c["name"] == "Sudan: talks on a cessation of hostilities"]
    assert len(sudan) == 1
    assert sudan[0]["status"] == "open"
    assert {"au", "igad"} <= set(sudan[0]["parties"])
    for r in requests:
        if r["state"] not in ("draft",):
            assert r["addressee_offices"], r["title"]


async def test_the_roster_search_has_facets(client: AsyncTestClient, settings: Settings, loaded: str) -> None:
    eu = await _eu(client, settings)
    body = (await client.get("/v1/experts", headers=eu)).json()
    for facet in ("theme", "language", "region", "organisation", "service_type"):
        assert body["facets"][facet], facet
    assert set(body["facets"]["organisation"]) == {o.slug for o in specs.organisations()}
    assert body["facets"]["language"]["fr"] > 10


async def test_the_suggested_searches_find_something(
    client: AsyncTestClient, settings: Settings, loaded: str
) -> None:
    eu = await _eu(client, settings)
    french_ceasefire = await client.get(
        "/v1/experts", params={"language": "fr", "theme": "ceasefire_security"}, headers=eu
    )
    assert french_ceasefire.status_code == 200, french_ceasefire.text
    assert french_ceasefire.json()["total"] >= 3
    eastern_africa = (
        await client.get("/v1/capacities", params={"region": "eastern_africa"}, headers=eu)
    ).json()
    assert {c["organisation"] for c in eastern_africa["items"]} >= {"igad", "eac"}
    transhumance = await client.get(
        "/v1/experts",
        params=demo.AVAILABLE_FOR_TRANSHUMANCE,
        headers=eu,
    )
    assert transhumance.status_code == 200, transhumance.text
    assert transhumance.json()["total"] >= 1
    public = (await client.get("/v1/offices")).json()
    assert [o["organisation"] for o in public["items"]] == ["eu"]


async def test_some_capacities_are_stale(client: AsyncTestClient, settings: Settings, loaded: str) -> None:
    eu = await _eu(client, settings)
    everything = (await client.get("/v1/capacities", params={"limit": 100}, headers=eu)).json()
    stale = [c for c in everything["items"] if c["stale"]]
    assert 1 <= len(stale) <= 2
    assert {c["organisation"] for c in stale} <= {"eccas", "oic"}
    fresh = (
        await client.get("/v1/capacities", params={"limit": 100, "include_stale": "false"}, headers=eu)
    ).json()
    assert fresh["total"] == everything["total"] - len(stale)


async def test_private_records_of_other_organisations_stay_hidden(
    client: AsyncTestClient, settings: Settings, loaded: str, owner_conn: asyncpg.Connection
) -> None:
    experts = await _rows(owner_conn, "experts")
    private_elsewhere = sum(
        1 for slug, rows in experts.items() if slug != "eu" for e in rows if e["sharing"] == "private"
    )
    assert private_elsewhere > 0
    total = sum(len(rows) for rows in experts.values())
    eu = await _eu(client, settings)
    seen = (await client.get("/v1/experts", headers=eu)).json()["total"]
    assert seen == total - private_elsewhere
    offices = (await client.get("/v1/offices", params={"limit": 100}, headers=eu)).json()
    assert "Mediation Support Focal Points (field operations)" not in {o["name"] for o in offices["items"]}
    assert offices["total"] == sum(len(of_org) for of_org in specs.offices().values()) - 1


async def test_a_year_of_trainings_and_some_publications(
    client: AsyncTestClient, settings: Settings, loaded: str
) -> None:
    headers = bearer(await token_for(client, await add_client(settings, "eu", ["training:read"])))
    body = (await client.get("/v1/trainings", params={"limit": 200}, headers=headers)).json()
    trainings = specs.trainings().trainings
    private_elsewhere = [t for t in trainings if t.sharing == "private" and t.organisation != "eu"]
    assert body["total"] == len(trainings) - len(private_elsewhere) >= 20
    assert {t["start"][:7] for t in body["items"]} >= {f"2027-{m:02d}" for m in range(1, 13) if m != 8}
    assert len(body["facets"]["organisation"]) == len(specs.organisations())
    assert set(body["facets"]["kind"]) == {
        "course",
        "workshop",
        "exchange_visit",
        "envoy_retreat",
        "peer_exchange",
        "webinar",
    }
    public = (await client.get("/v1/trainings")).json()["items"]
    assert {t["sharing"] for t in public} == {"public"}
    assert public
    calendar = await client.get("/v1/trainings.ics")
    assert calendar.status_code == 200
    publications = (await client.get("/v1/publications", headers=headers)).json()
    assert publications["total"] == len(specs.publications())
    assert f"{len(trainings)} trainings in 2027 ({len(trainings)} new)" in loaded
