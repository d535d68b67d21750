"""Capacities: taxonomy validation, staleness and confirmation, search, isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from msnet.taxonomy import service as taxonomy
from tests.directory.conftest import Caller, make_capacity, make_office


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service_type": "astrology"}, "service_type"),
        ({"service_type": "coaching", "themes": ["gender_inclusion", "astrology"]}, "themes.1"),
        ({"service_type": "coaching", "countries": ["XX"]}, "countries.0"),
        ({"service_type": "coaching", "languages": ["zz"]}, "languages.0"),
        ({"service_type": "coaching", "regions": ["atlantis"]}, "regions.0"),
        ({"service_type": "coaching", "lead_time_days": 400}, "lead_time_days"),
        ({"service_type": "coaching", "notes": "x" * 5000}, "notes"),
        ({"service_type": "coaching", "extra": 1}, "extra"),
    ],
)
async def test_bad_input_is_422_and_writes_nothing(
    client: AsyncTestClient, au: Caller, body: dict, field: str
) -> None:
    office = await make_office(client, au)
    response = await client.post(f"/v1/offices/{office['id']}/capacities", json=body, headers=au.headers)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert (await client.get(f"/v1/offices/{office['id']}/capacities", headers=au.headers)).json()[
        "total"
    ] == 0


async def test_codes_are_normalised(client: AsyncTestClient, au: Caller) -> None:
    office = await make_office(client, au)
    capacity = await make_capacity(client, au, office["id"], countries=["cf", "td"], languages=["FR"])
    assert capacity["countries"] == ["CF", "TD"]
    assert capacity["languages"] == ["fr"]


async def test_stale_capacities_rank_lower_until_confirmed(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    office = await make_office(client, au)
    old = await make_capacity(client, au, office["id"], notes="ceasefire monitoring advice")
    new = await make_capacity(client, au, office["id"], notes="ceasefire monitoring advice")
    await owner_conn.execute("ALTER TABLE capacities NO FORCE ROW LEVEL SECURITY")
    await owner_conn.execute(
        "UPDATE capacities SET last_confirmed_at = $1 WHERE id = $2",
        datetime.now(UTC) - timedelta(days=200),
        old["id"],
    )
    await owner_conn.execute("ALTER TABLE capacities FORCE ROW LEVEL SECURITY")
    found = (await client.get("/v1/capacities", params={"q": "ceasefire"}, headers=au.headers)).json()
    assert [c["id"] for c in found["items"]] == [new["id"], old["id"]]
    assert [c["stale"] for c in found["items"]] == [False, True]
    fresh_only = (
        await client.get("/v1/capacities", params={"include_stale": "false"}, headers=au.headers)
    ).json()
    assert [c["id"] for c in fresh_only["items"]] == [new["id"]]
    confirmed = await client.post(f"/v1/capacities/{old['id']}/confirm", headers=au.headers)
    assert confirmed.status_code == 200
    assert confirmed.json()["stale"] is False


async def test_update_with_if_match_and_isolation(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    office = await make_office(client, au)
    capacity = await make_capacity(client, au, office["id"])
    ok = await client.patch(
        f"/v1/capacities/{capacity['id']}",
        json={"themes": ["transhumance"]},
        headers={**au.headers, "If-Match": '"1"'},
    )
    assert ok.status_code == 200
    assert ok.json()["themes"] == ["transhumance"]
    eu_if_match = {**eu.headers, "If-Match": '"2"'}
    assert (
        await client.patch(
            f"/v1/capacities/{capacity['id']}", json={"notes": "x"}, headers={**au.headers, "If-Match": '"1"'}
        )
    ).status_code == 412
    assert (
        await client.patch(f"/v1/capacities/{capacity['id']}", json={"notes": "x"}, headers=eu_if_match)
    ).status_code == 403
    assert (
        await client.post(f"/v1/capacities/{capacity['id']}/confirm", headers=eu.headers)
    ).status_code == 403
    assert (await client.delete(f"/v1/capacities/{capacity['id']}", headers=eu_if_match)).status_code == 403
    deleted = await client.delete(
        f"/v1/capacities/{capacity['id']}", headers={**au.headers, "If-Match": '"2"'}
    )
    assert deleted.status_code == 204


async def test_private_capacities_never_show_in_others_lists_totals_or_facets(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    office = await make_office(client, au)
    await make_capacity(client, au, office["id"], themes=["transhumance"])
    hidden = await make_capacity(
        client, au, office["id"], themes=["transhumance", "media_communication"], sharing="private"
    )
    theirs = (await client.get("/v1/capacities", headers=eu.headers)).json()
    assert theirs["total"] == 1
    assert theirs["facets"]["theme"] == {"transhumance": 1}
    assert hidden["id"] not in {c["id"] for c in theirs["items"]}
    assert (
        await client.patch(
            f"/v1/capacities/{hidden['id']}", json={"notes": "x"}, headers={**eu.headers, "If-Match": '"1"'}
        )
    ).status_code == 404
    mine = (await client.get("/v1/capacities", headers=au.headers)).json()
    assert mine["facets"]["theme"] == {"transhumance": 2, "media_communication": 1}


async def test_service_type_filter_includes_its_children(client: AsyncTestClient, au: Caller) -> None:
    office = await make_office(client, au)
    child = await make_capacity(client, au, office["id"], service_type="process_design")
    found = (
        await client.get("/v1/capacities", params={"service_type": "advisory_support"}, headers=au.headers)
    ).json()
    assert [c["id"] for c in found["items"]] == [child["id"]]


async def test_filters(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    mine, theirs = await make_office(client, au), await make_office(client, eu)
    horn = await make_capacity(
        client,
        au,
        mine["id"],
        service_type="coaching",
        themes=["transhumance"],
        countries=["SS"],
        languages=["ar"],
        notes="Pastoral corridors",
    )
    sahel = await make_capacity(
        client,
        au,
        mine["id"],
        themes=["ceasefire_security"],
        regions=["western_africa"],
        languages=["fr"],
    )
    brussels = await make_capacity(
        client, eu, theirs["id"], service_type="capacity_building", regions=["europe"], languages=["fr", "en"]
    )

    async def ids(path: str = "/v1/capacities", **params: str) -> set[str]:
        response = await client.get(path, params=params, headers=au.headers)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == len(response.json()["items"])
        return {c["id"] for c in response.json()["items"]}

    assert await ids() == {horn["id"], sahel["id"], brussels["id"]}
    assert await ids(theme="transhumance") == {horn["id"]}
    assert await ids(service_type="advisory_support") == {horn["id"], sahel["id"]}
    assert await ids(service_type="capacity_building") == {brussels["id"]}
    assert await ids(country="SS") == {horn["id"]}  # listed
    assert await ids(country="ML") == {sahel["id"]}  # in a region it covers
    assert await ids(region="eastern_africa") == {horn["id"]}  # covers a country of it
    assert await ids(region="western_africa") == {sahel["id"]}
    assert await ids(region="europe") == {brussels["id"]}
    assert await ids(language="fr") == {sahel["id"], brussels["id"]}
    assert await ids(language="fr", region="europe") == {brussels["id"]}
    assert await ids(organisation="eu") == {brussels["id"]}
    assert await ids(q="pastoral") == {horn["id"]}
    assert await ids(q="pastoral", theme="ceasefire_security") == set()
    assert await ids(f"/v1/offices/{mine['id']}/capacities") == {horn["id"], sahel["id"]}
    assert await ids(f"/v1/offices/{theirs['id']}/capacities") == {brussels["id"]}
    moved = await client.patch(
        f"/v1/capacities/{horn['id']}", json={"countries": ["NE"]}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert moved.status_code == 200, moved.text
    assert await ids(region="eastern_africa") == set()
    assert await ids(region="western_africa") == {horn["id"], sahel["id"]}
    assert await ids(region="africa") == {horn["id"]}  # Niger is in Africa; Western Africa is not a country


async def test_the_databases_areas_of_each_country_are_the_taxonomys(owner_conn: asyncpg.Connection) -> None:
    """``msnet_country_areas`` (migration 0014) holds the taxonomy's table as it was then: a change to
    the taxonomy's areas needs a migration that redefines it."""
    codes = sorted(taxonomy.country_codes())
    rows = await owner_conn.fetch(
        "SELECT country, msnet_country_areas(ARRAY[country], '{}') AS areas FROM unnest($1::text[]) country",
        codes,
    )
    assert {r["country"]: r["areas"] for r in rows} == {c: sorted(taxonomy.regions_of(c)) for c in codes}
    several = await owner_conn.fetchval(
        "SELECT msnet_country_areas(ARRAY['ML', 'NE', 'KE'], ARRAY['africa'])"
    )
    assert several == sorted({*taxonomy.regions_of("ML"), *taxonomy.regions_of("KE")} - {"africa"})


async def test_the_region_facet_counts_every_area_a_capacity_covers_once(
    client: AsyncTestClient, au: Caller
) -> None:
    office = await make_office(client, au)
    await make_capacity(client, au, office["id"], countries=["ML", "NE"], regions=["western_africa"])
    await make_capacity(client, au, office["id"], countries=["KE"])
    await make_capacity(client, au, office["id"], regions=["europe"])
    for path in ("/v1/capacities", "/v1/offices"):
        found = (await client.get(path, headers=au.headers)).json()
        regions = found["facets"]["region"]
        assert regions == (
            {"western_africa": 1, "eastern_africa": 1, "sub_saharan_africa": 2, "africa": 2, "europe": 1}
            if path == "/v1/capacities"
            else {"western_africa": 1, "eastern_africa": 1, "sub_saharan_africa": 1, "africa": 1, "europe": 1}
        )
        for region, count in regions.items():
            narrowed = (await client.get(path, params={"region": region}, headers=au.headers)).json()
            assert narrowed["total"] == count, region


async def test_capacities_carry_their_offices_name_where_the_office_is_seen(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    office = await make_office(client, au, name="Panel of the Wise Secretariat", sharing="public")
    hidden_office = await make_office(client, au, name="Liaison Cell", sharing="private")
    capacity = await make_capacity(client, au, office["id"], sharing="public")
    await make_capacity(client, au, hidden_office["id"], service_type="coaching")
    assert capacity["office"] == "Panel of the Wise Secretariat"
    mine = (await client.get("/v1/capacities", headers=au.headers)).json()
    assert {c["office"] for c in mine["items"]} == {"Panel of the Wise Secretariat", "Liaison Cell"}
    theirs = (await client.get("/v1/capacities", headers=eu.headers)).json()
    by_office = {c["office_id"]: c["office"] for c in theirs["items"]}
    assert by_office == {office["id"]: "Panel of the Wise Secretariat", hidden_office["id"]: None}
    anonymous = (await client.get(f"/v1/offices/{office['id']}/capacities")).json()
    assert [c["office"] for c in anonymous["items"]] == ["Panel of the Wise Secretariat"]
