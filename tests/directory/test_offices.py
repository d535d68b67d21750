"""Offices: CRUD, sharing levels, If-Match, Idempotency-Key, search and facets, isolation."""

from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.directory.conftest import Caller, make_capacity, make_office


async def test_create_read_update_delete(client: AsyncTestClient, au: Caller) -> None:
    office = await make_office(client, au, mandate="Supports the AU Commission's good offices", staff_size=9)
    assert office["organisation"] == "au"
    assert office["sharing"] == "network"
    assert office["version"] == 1
    one = await client.get(f"/v1/offices/{office['id']}", headers=au.headers)
    assert one.headers["etag"] == '"1"'
    changed = await client.patch(
        f"/v1/offices/{office['id']}", json={"staff_size": 11}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["staff_size"] == 11
    assert changed.headers["etag"] == '"2"'
    gone = await client.delete(f"/v1/offices/{office['id']}", headers={**au.headers, "If-Match": '"2"'})
    assert gone.status_code == 204
    assert (await client.get(f"/v1/offices/{office['id']}", headers=au.headers)).status_code == 404


async def test_a_stale_if_match_is_412_and_changes_nothing(client: AsyncTestClient, au: Caller) -> None:
    office = await make_office(client, au)
    await client.patch(
        f"/v1/offices/{office['id']}", json={"staff_size": 3}, headers={**au.headers, "If-Match": '"1"'}
    )
    stale = await client.patch(
        f"/v1/offices/{office['id']}", json={"staff_size": 99}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"/v1/offices/{office['id']}", headers=au.headers)).json()["staff_size"] == 3


async def test_idempotency_key_answers_the_first_response(client: AsyncTestClient, au: Caller) -> None:
    headers = {**au.headers, "Idempotency-Key": "office-1"}
    first = await client.post("/v1/offices", json={"name": "Unit A"}, headers=headers)
    again = await client.post("/v1/offices", json={"name": "Unit A"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    listing = await client.get("/v1/offices", params={"organisation": "au"}, headers=au.headers)
    assert listing.json()["total"] == 1
    reused = await client.post("/v1/offices", json={"name": "Unit B"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X"}, "name"),
        ({"name": "Unit", "colour": "red"}, "colour"),
        ({"name": "Unit", "sharing": "secret"}, "sharing"),
        ({"name": "Unit", "staff_size": -1}, "staff_size"),
        ({"name": "Unit", "role_mailbox": "not-an-email"}, "role_mailbox"),
        ({"name": "Unit", "mandate": "x" * 5000}, "mandate"),
        ({"name": "Unit", "sharing": "restricted"}, "share_with"),
        ({"name": "Unit", "sharing": "restricted", "share_with": ["atlantis"]}, "share_with.0"),
        ({"name": "Unit", "share_with": ["eu"]}, "share_with"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: AsyncTestClient, au: Caller, body: dict, field: str
) -> None:
    response = await client.post("/v1/offices", json=body, headers=au.headers)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert (await client.get("/v1/offices", headers=au.headers)).json()["total"] == 0


async def test_sharing_levels(client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller) -> None:
    private = await make_office(client, au, name="Private unit", sharing="private")
    restricted = await make_office(
        client, au, name="Restricted unit", sharing="restricted", share_with=["igad"]
    )
    network = await make_office(client, au, name="Network unit")
    public = await make_office(client, au, name="Public unit", sharing="public")

    async def seen(headers: dict[str, str] | None) -> set[str]:
        body = (await client.get("/v1/offices", headers=headers or {})).json()
        assert body["total"] == len(body["items"])
        return {o["id"] for o in body["items"]}

    assert await seen(au.headers) == {private["id"], restricted["id"], network["id"], public["id"]}
    assert await seen(igad.headers) == {restricted["id"], network["id"], public["id"]}
    assert await seen(eu.headers) == {network["id"], public["id"]}
    assert await seen(None) == {public["id"]}
    for office in (private, restricted):
        assert (await client.get(f"/v1/offices/{office['id']}", headers=eu.headers)).status_code == 404
    assert (await client.get(f"/v1/offices/{private['id']}")).status_code == 404
    assert (await client.get(f"/v1/offices/{public['id']}")).status_code == 200


async def test_another_organisation_cannot_change_or_delete(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    office = await make_office(client, au)
    hidden = await make_office(client, au, name="Hidden unit", sharing="private")
    eu_if_match = {**eu.headers, "If-Match": '"1"'}
    assert (
        await client.patch(f"/v1/offices/{office['id']}", json={"name": "Taken"}, headers=eu_if_match)
    ).status_code == 403
    assert (await client.delete(f"/v1/offices/{office['id']}", headers=eu_if_match)).status_code == 403
    assert (
        await client.patch(f"/v1/offices/{hidden['id']}", json={"name": "Taken"}, headers=eu_if_match)
    ).status_code == 404
    adding = await client.post(
        f"/v1/offices/{office['id']}/capacities", json={"service_type": "coaching"}, headers=eu.headers
    )
    assert adding.status_code == 403
    assert (await client.get(f"/v1/offices/{office['id']}", headers=au.headers)).json()["name"] == office[
        "name"
    ]


async def test_writes_need_a_token_and_the_scope(client: AsyncTestClient, au: Caller) -> None:
    assert (await client.post("/v1/offices", json={"name": "Unit"})).status_code == 401


async def test_search_text_ignores_accents_and_facets_count_only_what_is_visible(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    bangui = await make_office(
        client, au, name="Cellule d'appui à la médiation", mandate="Médiation en République centrafricaine"
    )
    await make_capacity(
        client, au, bangui["id"], themes=["gender_inclusion"], countries=["CF"], languages=["fr"]
    )
    secret = await make_office(client, au, name="Cellule secrète de médiation", sharing="private")
    await make_capacity(
        client, au, secret["id"], themes=["gender_inclusion"], countries=["CF"], sharing="private"
    )
    found = (await client.get("/v1/offices", params={"q": "mediation republique"}, headers=eu.headers)).json()
    assert [o["id"] for o in found["items"]] == [bangui["id"]]
    assert found["facets"]["theme"] == {"gender_inclusion": 1}
    assert found["facets"]["organisation"] == {"au": 1}
    mine = (await client.get("/v1/offices", params={"q": "mediation"}, headers=au.headers)).json()
    assert mine["total"] == 2
    assert mine["facets"]["theme"] == {"gender_inclusion": 2}


async def test_facets_count_offices_not_their_capacities(client: AsyncTestClient, au: Caller) -> None:
    office = await make_office(client, au)
    for service_type in ("coaching", "process_design"):
        await make_capacity(
            client,
            au,
            office["id"],
            service_type=service_type,
            themes=["land"],
            languages=["fr"],
            regions=["africa"],
        )
    other = await make_office(client, au, name="AU Liaison Office")
    await make_capacity(client, au, other["id"], themes=["land", "transhumance"], languages=["en"])
    found = (await client.get("/v1/offices", headers=au.headers)).json()
    assert found["total"] == 2
    assert found["facets"]["theme"] == {"land": 2, "transhumance": 1}
    assert found["facets"]["language"] == {"fr": 1, "en": 1}
    assert found["facets"]["service_type"] == {"coaching": 1, "process_design": 2}
    assert found["facets"]["region"] == {"africa": 1}
    assert found["facets"]["organisation"] == {"au": 2}
    narrowed = (await client.get("/v1/offices", params={"theme": "land"}, headers=au.headers)).json()
    assert narrowed["facets"]["organisation"] == {"au": 2}


async def test_facets_follow_a_capacity_edited_or_deleted(client: AsyncTestClient, au: Caller) -> None:
    office = await make_office(client, au, name="Mediation support unit")
    kept = await make_capacity(client, au, office["id"], themes=["land"], languages=["fr"])
    changed = await make_capacity(
        client, au, office["id"], service_type="coaching", themes=["land"], languages=["fr", "en"]
    )

    async def facets(**params: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        found = (await client.get("/v1/offices", params=params, headers=au.headers)).json()
        return found["total"], found["facets"]

    total, before = await facets(language="fr")
    assert total == 1
    assert before["theme"] == {"land": 1}
    assert before["language"] == {"fr": 1, "en": 1}
    edited = await client.patch(
        f"/v1/capacities/{changed['id']}",
        json={"themes": ["transhumance"], "languages": ["ar"]},
        headers={**au.headers, "If-Match": '"1"'},
    )
    assert edited.status_code == 200, edited.text
    total, after_edit = await facets(language="fr")
    assert total == 1
    assert after_edit["theme"] == {"land": 1}
    assert after_edit["language"] == {"fr": 1}
    assert after_edit["service_type"] == {"process_design": 1}
    assert (await facets(language="ar"))[1]["theme"] == {"transhumance": 1}
    deleted = await client.delete(f"/v1/capacities/{kept['id']}", headers={**au.headers, "If-Match": '"1"'})
    assert deleted.status_code == 204
    total, none_left = await facets(language="fr")
    assert total == 0
    assert none_left["theme"] == none_left["language"] == none_left["organisation"] == {}
    total, unfiltered = await facets()
    assert total == 1
    assert unfiltered["theme"] == {"transhumance": 1}
    assert unfiltered["language"] == {"ar": 1}
    assert unfiltered["service_type"] == {"coaching": 1}


async def test_only_visible_capacities_match_or_count(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    shared = await make_office(client, au, name="Public unit", sharing="public")
    await make_capacity(client, au, shared["id"], service_type="coaching", themes=["land"], sharing="public")
    await make_capacity(
        client, au, shared["id"], themes=["transhumance"], languages=["ar"], sharing="private"
    )
    await make_capacity(client, au, shared["id"], themes=["land"], languages=["sw"], sharing="network")
    empty = await make_office(client, au, name="New unit")  # no capacity yet

    async def search(headers: dict[str, str], **params: str) -> dict:  # type: ignore[type-arg]
        response = await client.get("/v1/offices", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    everything = await search(eu.headers)
    assert {o["id"] for o in everything["items"]} == {shared["id"], empty["id"]}
    assert everything["total"] == 2
    assert everything["facets"]["organisation"] == {"au": 2}  # an office without capacities counts too
    assert everything["facets"]["theme"] == {"land": 1}
    assert everything["facets"]["service_type"] == {"coaching": 1, "process_design": 1}
    assert everything["facets"]["language"] == {"sw": 1}
    for filters in ({"theme": "transhumance"}, {"language": "ar"}):
        found = await search(eu.headers, **filters)
        assert (found["items"], found["total"], found["facets"]["organisation"]) == ([], 0, {})
    assert (await search(au.headers, language="ar"))["total"] == 1
    anonymous = await search({})
    assert [o["id"] for o in anonymous["items"]] == [shared["id"]]
    assert anonymous["facets"]["theme"] == {"land": 1}
    assert anonymous["facets"]["service_type"] == {"coaching": 1}
    assert anonymous["facets"]["language"] == {}
    narrowed = await search(eu.headers, theme="land", language="sw")
    assert narrowed["total"] == 1
    assert narrowed["facets"]["service_type"] == {"process_design": 1}


async def test_include_stale_false_matches_and_counts_fresh_capacities_only(
    client: AsyncTestClient, au: Caller, eu: Caller, owner_conn: asyncpg.Connection
) -> None:
    fresh, old, bare = [await make_office(client, au, name=name) for name in ("Fresh", "Old", "Bare")]
    await make_capacity(client, au, fresh["id"], themes=["land"])
    stale = await make_capacity(client, au, old["id"], themes=["transhumance"])
    await make_capacity(client, au, old["id"], themes=["land"])
    aged = await make_capacity(client, au, fresh["id"], themes=["gender_inclusion"])
    await owner_conn.execute("ALTER TABLE capacities NO FORCE ROW LEVEL SECURITY")
    await owner_conn.execute(
        "UPDATE capacities SET last_confirmed_at = now() - interval '200 days' WHERE id = ANY($1::uuid[])",
        [stale["id"], aged["id"]],
    )
    await owner_conn.execute("ALTER TABLE capacities FORCE ROW LEVEL SECURITY")

    async def search(**params: str) -> dict:  # type: ignore[type-arg]
        response = await client.get("/v1/offices", params=params, headers=eu.headers)
        assert response.status_code == 200, response.text
        return response.json()

    everything = await search()
    assert everything["total"] == 3
    assert everything["facets"]["theme"] == {"land": 2, "transhumance": 1, "gender_inclusion": 1}
    fresh_only = await search(include_stale="false")
    assert {o["id"] for o in fresh_only["items"]} == {fresh["id"], old["id"]}  # not the office without any
    assert fresh_only["facets"]["theme"] == {"land": 2}
    assert (await search(include_stale="false", theme="transhumance"))["total"] == 0
    assert {o["id"] for o in (await search(theme="transhumance"))["items"]} == {old["id"]}
    assert bare["id"] in {o["id"] for o in everything["items"]}
    bad = await client.get("/v1/offices", params={"include_stale": "perhaps"}, headers=eu.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "include_stale"


async def test_filters_by_taxonomy_through_capacities(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    a = await make_office(client, au, name="Horn of Africa desk support")
    b = await make_office(client, eu, name="EEAS mediation support team")
    await make_capacity(
        client, au, a["id"], service_type="coaching", countries=["SS"], languages=["en", "ar"]
    )
    await make_capacity(client, eu, b["id"], service_type="process_design", regions=["eastern_africa"])

    async def ids(**params: str) -> set[str]:
        return {
            o["id"]
            for o in (await client.get("/v1/offices", params=params, headers=au.headers)).json()["items"]
        }

    assert await ids(language="ar") == {a["id"]}
    assert await ids(service_type="process_design") == {b["id"]}
    assert await ids(country="SS") == {a["id"], b["id"]}  # South Sudan is in Eastern Africa
    assert await ids(organisation="eu") == {b["id"]}
    bad = await client.get("/v1/offices", params={"theme": "astrology"}, headers=au.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "theme"


async def test_pagination_visits_each_once(client: AsyncTestClient, au: Caller) -> None:
    made = {(await make_office(client, au, name=f"Unit {n}"))["id"] for n in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = (await client.get("/v1/offices", params=params, headers=au.headers)).json()
        seen += [o["id"] for o in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made)


async def test_writes_are_audited(client: AsyncTestClient, au: Caller) -> None:
    office = await make_office(client, au)
    entries = (await client.get("/v1/audit", params={"resource_id": office["id"]}, headers=au.headers)).json()
    assert [e["action"] for e in entries["items"]] == ["office.create"]
