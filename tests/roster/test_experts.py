"""Experts: sharing on every endpoint, contact details (scoped, audited), validation, If-Match,
Idempotency-Key, erasure to a tombstone, and search (text, filters, availability, facets, pages)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections import OrderedDict
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from msnet.db.embedded import DatabaseUrls
from msnet.roster import service as roster_service
from msnet.roster.service import ExpertFilter
from msnet.search import faceted as search_sql
from msnet.settings import Settings
from tests.helpers import add_client, assert_every_case, bearer, org_ids, token_for, waiting_on_locks
from tests.roster.conftest import SCOPES, Caller, as_owner, counts, expert_body, make_expert

PROBLEM = "application/problem+json"
HIDDEN = [
    pytest.param({"sharing": "private"}, id="private"),
    pytest.param({"sharing": "restricted", "share_with": ["igad"]}, id="restricted-to-igad"),
]


async def search(client: AsyncTestClient, caller: Caller | None, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/experts", params=params, headers=caller.headers if caller else {})
    assert response.status_code == 200, response.text
    return response.json()


async def ids(client: AsyncTestClient, caller: Caller | None, **params: Any) -> set[str]:
    body = await search(client, caller, **params)
    assert body["total"] == len(body["items"])
    return {e["id"] for e in body["items"]}


async def audit(client: AsyncTestClient, caller: Caller, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/audit", params=params, headers=caller.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def field_errors(response: Any) -> list[str]:
    assert response.headers["content-type"] == PROBLEM
    return [e["field"] for e in response.json()["errors"]]


def cursor_of(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


# --- sharing, on every endpoint ------------------------------------------------------------


@pytest.mark.parametrize("sharing", HIDDEN)
async def test_a_hidden_expert_is_404_on_every_endpoint_and_untouched(
    client: AsyncTestClient,
    au: Caller,
    eu: Caller,
    igad: Caller,
    owner_conn: asyncpg.Connection,
    sharing: dict,
) -> None:
    expert = await make_expert(client, au, name="Hidden Person", **sharing)
    url = f"/v1/experts/{expert['id']}"

    assert (await client.get(url, headers=eu.headers)).status_code == 404
    assert (await client.get(f"{url}/contact", headers=eu.headers)).status_code == 404
    for headers in ({**eu.headers, "If-Match": '"1"'}, {**eu.headers, "If-Match": '"9"'}):
        patched = await client.patch(url, json={"name": "Taken Over"}, headers=headers)
        assert patched.status_code == 404, patched.text
        assert patched.headers["content-type"] == PROBLEM
        erased = await client.delete(url, headers=headers)
        assert erased.status_code == 404, erased.text
    assert await ids(client, eu) == set()
    assert await ids(client, eu, q="hidden person") == set()
    assert await ids(client, eu, organisation="au") == set()

    mine = await client.get(url, headers=au.headers)
    assert mine.status_code == 200
    assert mine.json() == expert
    row = (
        await as_owner(
            owner_conn, "SELECT name, version, deleted_at FROM experts WHERE id = $1", expert["id"]
        )
    )[0]
    assert (row["name"], row["version"], row["deleted_at"]) == ("Hidden Person", 1, None)
    assert await counts(owner_conn) == (1, 1)
    assert [e for e in await audit(client, eu) if e["action"].startswith("expert.")] == []


async def test_hidden_experts_never_reach_lists_totals_or_facets(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller
) -> None:
    await make_expert(client, au, name="Network Person")
    await make_expert(client, au, name="Public Person", sharing="public")
    await make_expert(
        client,
        eu,
        name="Johanna Berg",
        bio="Gender and inclusion adviser in the Sahel.",
        expertise=[
            {"kind": "theme", "term": "gender_inclusion"},
            {"kind": "service_type", "term": "coaching"},
        ],
        languages=[{"code": "ar"}],
        nationalities=["SE"],
        experience=["SD"],
    )
    searches: list[dict[str, str]] = [
        {},
        {"q": "sahel"},
        {"theme": "ceasefire_security"},
        {"service_type": "advisory_support"},
        {"language": "fr"},
        {"region": "africa"},
        {"organisation": "au"},
    ]
    viewers: list[Caller | None] = [eu, None]
    before = [await search(client, viewer, **params) for viewer in viewers for params in searches]
    assert before[0]["total"] == 3
    assert before[0]["facets"]["organisation"] == {"au": 2, "eu": 1}

    hidden_terms = {
        "bio": "Transhumance and pastoralist mediation in the Sahel.",
        "expertise": [
            {"kind": "theme", "term": "ceasefire_security"},
            {"kind": "theme", "term": "transhumance"},
            {"kind": "service_type", "term": "mediator_selection"},
        ],
        "languages": [{"code": "fr"}, {"code": "am"}],
        "nationalities": ["ET"],
        "experience": ["ET", "ML"],
    }
    await make_expert(client, au, name="Private Person", sharing="private", **hidden_terms)
    await make_expert(
        client, au, name="Restricted Person", sharing="restricted", share_with=["igad"], **hidden_terms
    )

    after = [await search(client, viewer, **params) for viewer in viewers for params in searches]
    assert after == before
    # the same search does show them to whom they are shared with
    assert (await search(client, igad))["facets"]["theme"]["transhumance"] == 1
    assert (await search(client, au))["facets"]["theme"]["transhumance"] == 2
    assert (await search(client, au))["total"] == 5


async def test_restricted_sharing_is_visible_to_the_named_organisations_only(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller
) -> None:
    expert = await make_expert(client, au, sharing="restricted", share_with=["igad"])
    assert expert["share_with"] == ["igad"]
    url = f"/v1/experts/{expert['id']}"
    assert (await client.get(url, headers=igad.headers)).status_code == 200
    assert await ids(client, igad) == {expert["id"]}
    contact = await client.get(f"{url}/contact", headers=igad.headers)
    assert contact.status_code == 200
    assert contact.json()["email"] == "amina@example.org"
    igad_if_match = {**igad.headers, "If-Match": '"1"'}
    assert (await client.patch(url, json={"name": "Taken Over"}, headers=igad_if_match)).status_code == 403
    assert (await client.delete(url, headers=igad_if_match)).status_code == 403
    assert (await client.get(url, headers=eu.headers)).status_code == 404
    assert (await client.get(url)).status_code == 404
    assert await ids(client, eu) == set()
    assert await ids(client, None) == set()
    assert (await client.get(url, headers=au.headers)).json()["name"] == expert["name"]


async def test_a_network_expert_is_readable_by_others_but_only_its_owner_changes_it(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, owner_conn: asyncpg.Connection
) -> None:
    expert = await make_expert(client, au)
    assert expert["sharing"] == "network"
    url = f"/v1/experts/{expert['id']}"
    for other in (eu, igad):
        read = await client.get(url, headers=other.headers)
        assert read.status_code == 200
        assert read.json() == {k: v for k, v in expert.items() if k != "external_id"}  # the owner's own
        assert "contact" not in read.json()
        assert await ids(client, other) == {expert["id"]}
        for headers in ({**other.headers, "If-Match": '"1"'}, {**other.headers, "If-Match": '"9"'}):
            changed = await client.patch(url, json={"name": "Taken Over", "contact": None}, headers=headers)
            assert changed.status_code == 403, changed.text
            assert changed.headers["content-type"] == PROBLEM
            assert (await client.delete(url, headers=headers)).status_code == 403

    assert (await client.get(url, headers=au.headers)).json() == expert
    row = (await as_owner(owner_conn, "SELECT name, deleted_at FROM experts WHERE id = $1", expert["id"]))[0]
    assert (row["name"], row["deleted_at"]) == (expert["name"], None)
    assert await counts(owner_conn) == (1, 1)


async def test_contact_needs_roster_contact_and_is_audited_in_the_readers_organisation(
    client: AsyncTestClient, au: Caller, eu: Caller, eu_reader: Caller
) -> None:
    expert = await make_expert(client, au)
    url = f"/v1/experts/{expert['id']}/contact"

    denied = await client.get(url, headers=eu_reader.headers)
    assert denied.status_code == 403
    assert denied.headers["content-type"] == PROBLEM
    assert "amina@example.org" not in denied.text
    assert await audit(client, eu, action="expert.contact.read") == []

    read = await client.get(url, headers=eu.headers)
    assert read.status_code == 200, read.text
    assert read.json() == {
        "expert_id": expert["id"],
        "email": "amina@example.org",
        "phone": "+223 20 00 00 00",
    }
    entries = await audit(client, eu, action="expert.contact.read")
    assert [(e["resource_id"], e["organisation"], e["outcome"]) for e in entries] == [
        (expert["id"], "eu", "success")
    ]
    assert await audit(client, au, action="expert.contact.read") == []
    assert (await client.get(url)).status_code == 401


async def test_without_a_token_only_public_experts_are_seen(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    made = {
        level: await make_expert(
            client,
            au,
            name=f"{level.title()} Person",
            sharing=level,
            share_with=["eu"] if level == "restricted" else [],
        )
        for level in ("private", "restricted", "network", "public")
    }
    body = await search(client, None)
    assert [e["id"] for e in body["items"]] == [made["public"]["id"]]
    assert body["total"] == 1
    assert body["facets"]["organisation"] == {"au": 1}
    assert await ids(client, None, q="person") == {made["public"]["id"]}
    assert (await client.get(f"/v1/experts/{made['public']['id']}")).status_code == 200
    for level in ("private", "restricted", "network"):
        assert (await client.get(f"/v1/experts/{made[level]['id']}")).status_code == 404
    public_url = f"/v1/experts/{made['public']['id']}"
    assert (await client.get(f"{public_url}/contact")).status_code == 401
    assert (await client.patch(public_url, json={"name": "Anonymous"})).status_code == 401
    assert (await client.delete(public_url)).status_code == 401
    assert (await client.post("/v1/experts", json=expert_body())).status_code == 401
    assert (await search(client, au))["total"] == 4


async def test_roster_read_alone_reads_but_writes_nothing(
    client: AsyncTestClient,
    settings: Settings,
    au: Caller,
    eu: Caller,
    eu_reader: Caller,
    owner_conn: asyncpg.Connection,
) -> None:
    theirs = await make_expert(client, au)
    ours = await make_expert(client, eu, name="Johanna Berg")
    assert await ids(client, eu_reader) == {theirs["id"], ours["id"]}
    assert (await client.get(f"/v1/experts/{ours['id']}", headers=eu_reader.headers)).status_code == 200
    assert (
        await client.post("/v1/experts", json=expert_body(), headers=eu_reader.headers)
    ).status_code == 403
    url = f"/v1/experts/{ours['id']}"
    assert (await client.patch(url, json={"name": "Renamed"}, headers=eu_reader.headers)).status_code == 403
    assert (await client.delete(url, headers=eu_reader.headers)).status_code == 403
    assert (await client.get(f"{url}/contact", headers=eu_reader.headers)).status_code == 403
    assert (await client.get(url, headers=eu.headers)).json() == ours
    assert await counts(owner_conn) == (2, 2)

    directory_only = bearer(await token_for(client, await add_client(settings, "eu", ["directory:read"])))
    assert (await client.get("/v1/experts", headers=directory_only)).status_code == 403
    assert (await client.get(url, headers=directory_only)).status_code == 403


async def test_changing_sharing_takes_effect_for_others(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller
) -> None:
    expert = await make_expert(client, au)
    url = f"/v1/experts/{expert['id']}"
    restricted = await client.patch(
        url, json={"sharing": "restricted", "share_with": ["igad"]}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert restricted.status_code == 200, restricted.text
    assert (await client.get(url, headers=eu.headers)).status_code == 404
    assert (await client.get(url, headers=igad.headers)).status_code == 200
    private = await client.patch(url, json={"sharing": "private"}, headers={**au.headers, "If-Match": '"2"'})
    assert private.status_code == 200, private.text
    assert private.json()["share_with"] == []
    assert (await client.get(url, headers=igad.headers)).status_code == 404
    assert await ids(client, igad) == set()


async def test_row_level_security_alone_hides_what_the_service_hides(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, db_urls: DatabaseUrls
) -> None:
    made = {
        level: (
            await make_expert(
                client,
                au,
                name=f"{level.title()} Person",
                sharing=level,
                share_with=["igad"] if level == "restricted" else [],
            )
        )["id"]
        for level in ("private", "restricted", "network", "public")
    }
    conn = await asyncpg.connect(db_urls.app)
    try:
        orgs = await org_ids(conn)

        async def seen(slug: str | None) -> tuple[set[str], set[str], str]:
            async with conn.transaction():
                if slug:
                    await conn.execute("SELECT set_config('msnet.org', $1, true)", str(orgs[slug]))
                experts = {str(r["id"]) for r in await conn.fetch("SELECT id FROM experts")}
                contacts = {
                    str(r["expert_id"]) for r in await conn.fetch("SELECT expert_id FROM expert_contacts")
                }
                status = await conn.execute("UPDATE experts SET name = 'Taken Over'")
            return experts, contacts, status

        assert await seen("eu") == ({made["network"], made["public"]},) * 2 + ("UPDATE 0",)
        assert await seen("igad") == ({made["restricted"], made["network"], made["public"]},) * 2 + (
            "UPDATE 0",
        )
        assert await seen(None) == ({made["public"]},) * 2 + ("UPDATE 0",)
    finally:
        await conn.close()


# --- bad input -----------------------------------------------------------------------------

BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-theme", {"expertise": [{"kind": "theme", "term": "astrology"}]}, "expertise.0.term"),
    (
        "theme-given-as-service-type",
        {
            "expertise": [
                {"kind": "service_type", "term": "process_design"},
                {"kind": "service_type", "term": "ceasefire_security"},
            ]
        },
        "expertise.1.term",
    ),
    ("bad-kind", {"expertise": [{"kind": "region", "term": "africa"}]}, "expertise.0.kind"),
    ("unknown-nationality", {"nationalities": ["ML", "XX"]}, "nationalities.1"),
    ("alpha3-nationality", {"nationalities": ["MLI"]}, "nationalities.0"),
    ("unknown-country-of-experience", {"experience": ["XX"]}, "experience.0"),
    ("unknown-region-of-experience", {"experience": ["ML", "atlantis"]}, "experience.1"),
    ("unknown-language", {"languages": [{"code": "zz"}]}, "languages.0.code"),
    ("malformed-language", {"languages": [{"code": "en"}, {"code": "french"}]}, "languages.1.code"),
    (
        "inverted-window",
        {"availability": [{"start": "2027-02-01", "end": "2027-01-01"}]},
        "availability.0.end",
    ),
    (
        "overlapping-windows",
        {
            "availability": [
                {"start": "2027-03-01", "end": "2027-05-31"},
                {"start": "2027-01-01", "end": "2027-03-01"},
            ]
        },
        "availability.0",
    ),
    (
        "window-neither-remote-nor-in-person",
        {"availability": [{"start": "2027-01-01", "end": "2027-02-01", "remote": False, "in_person": False}]},
        "availability.0",
    ),
    ("bad-date", {"availability": [{"start": "2027-02-30", "end": "2027-03-01"}]}, "availability.0.start"),
    ("bio-too-long", {"bio": "x" * 4001}, "bio"),
    ("name-too-long", {"name": "N" * 201}, "name"),
    ("unknown-top-level-field", {"email": "amina@example.org"}, "email"),
    ("unknown-field-in-language", {"languages": [{"code": "fr", "level": "native"}]}, "languages.0.level"),
    ("unknown-field-in-contact", {"contact": {"email": "a@example.org", "skype": "amina"}}, "contact.skype"),
    ("bad-proficiency", {"languages": [{"code": "fr", "speak": "fluentish"}]}, "languages.0.speak"),
    ("bad-email", {"contact": {"email": "amina-at-example"}}, "contact.email"),
    ("bad-phone", {"contact": {"phone": "call me maybe"}}, "contact.phone"),
    ("restricted-without-share-with", {"sharing": "restricted"}, "share_with"),
    ("share-with-unknown", {"sharing": "restricted", "share_with": ["atlantis"]}, "share_with.0"),
    ("share-with-when-not-restricted", {"share_with": ["eu"]}, "share_with"),
    ("bad-sharing", {"sharing": "secret"}, "sharing"),
    ("bad-seniority", {"seniority": "legendary"}, "seniority"),
    (
        "consent-incomplete",
        {"consent": {"given_on": "2026-10-01", "purpose": "roster"}},
        "consent.recorded_by",
    ),
    ("network-contact-without-consent", {"consent": None}, "consent"),
    ("public-contact-without-consent", {"sharing": "public", "consent": None}, "consent"),
    ("external-id-like-a-formula", {"external_id": "=HYPERLINK(1)"}, "external_id"),
    ("external-id-too-long", {"external_id": "x" * 101}, "external_id"),
]


async def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    await make_expert(client, au, name="Existing Person")
    before = await counts(owner_conn)

    async def check(changes: dict[str, Any], field: str) -> None:
        response = await client.post("/v1/experts", json=expert_body(**changes), headers=au.headers)
        assert response.status_code == 422, response.text
        assert field in field_errors(response)
        assert await counts(owner_conn) == before == (1, 1)
        assert (await search(client, au))["total"] == 1

    await assert_every_case(BAD_BODIES, check)


async def test_a_bad_patch_is_422_naming_the_field_and_changes_nothing(
    client: AsyncTestClient, au: Caller
) -> None:
    expert = await make_expert(client, au)
    url = f"/v1/experts/{expert['id']}"

    async def check(changes: dict[str, Any], field: str) -> None:
        response = await client.patch(url, json=changes, headers={**au.headers, "If-Match": '"1"'})
        assert response.status_code == 422, response.text
        assert field in field_errors(response)
        assert (await client.get(url, headers=au.headers)).json() == expert
        contact = (await client.get(f"{url}/contact", headers=au.headers)).json()
        assert (contact["email"], contact["phone"]) == ("amina@example.org", "+223 20 00 00 00")

    await assert_every_case(BAD_BODIES, check)


async def test_text_at_the_limits_is_accepted(client: AsyncTestClient, au: Caller) -> None:
    expert = await make_expert(
        client,
        au,
        name="N" * 200,
        bio="x" * 4000,
        availability=[{"start": "2027-01-01", "end": "2027-01-01"}],
    )
    assert (len(expert["name"]), len(expert["bio"])) == (200, 4000)


async def test_malformed_json_is_400_and_another_media_type_415(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    expert = await make_expert(client, au)
    url = f"/v1/experts/{expert['id']}"
    json_headers = {**au.headers, "Content-Type": "application/json"}
    broken = b'{"name": "Amina Traor\xc3\xa9", "bio": '
    for response in (
        await client.post("/v1/experts", content=broken, headers=json_headers),
        await client.patch(url, content=broken, headers={**json_headers, "If-Match": '"1"'}),
    ):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == PROBLEM
    text_headers = {**au.headers, "Content-Type": "text/plain"}
    valid = json.dumps(expert_body(name="Other Person")).encode()
    for response in (
        await client.post("/v1/experts", content=valid, headers=text_headers),
        await client.post("/v1/experts", data={"name": "Other Person"}, headers=au.headers),
        await client.patch(url, content=b'{"name": "Renamed"}', headers={**text_headers, "If-Match": '"1"'}),
    ):
        assert response.status_code == 415, response.text
        assert response.headers["content-type"] == PROBLEM
    assert await counts(owner_conn) == (1, 1)
    assert (await client.get(url, headers=au.headers)).json() == expert


BAD_FILTERS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-theme", {"theme": "astrology"}, "theme"),
    ("service-type-given-as-theme", {"theme": "process_design"}, "theme"),
    ("unknown-service-type", {"service_type": "astrology"}, "service_type"),
    ("unknown-region", {"region": "atlantis"}, "region"),
    ("country-given-as-region", {"region": "KE"}, "region"),
    ("unknown-language", {"language": "zz"}, "language"),
    ("unknown-country", {"country": "XX"}, "country"),
    ("unknown-organisation", {"organisation": "atlantis"}, "organisation"),
    ("bad-seniority", {"seniority": "legendary"}, "seniority"),
    ("inverted-period", {"available_from": "2027-03-01", "available_to": "2027-02-28"}, "available_to"),
    ("bad-date", {"available_from": "2027-02-30"}, "available_from"),
    ("limit-zero", {"limit": 0}, "limit"),
    ("limit-too-large", {"limit": 201}, "limit"),
]


async def test_a_search_with_a_bad_filter_is_422_naming_the_parameter(
    client: AsyncTestClient, au: Caller
) -> None:
    await make_expert(client, au)

    async def check(params: dict[str, Any], field: str) -> None:
        response = await client.get("/v1/experts", params=params, headers=au.headers)
        assert response.status_code == 422, response.text
        assert field in field_errors(response)

    await assert_every_case(BAD_FILTERS, check)


# --- If-Match, contact replacement, Idempotency-Key ----------------------------------------


async def test_patch_honours_if_match(client: AsyncTestClient, au: Caller) -> None:
    expert = await make_expert(client, au)
    url = f"/v1/experts/{expert['id']}"
    assert (await client.get(url, headers=au.headers)).headers["etag"] == '"1"'

    changed = await client.patch(
        url, json={"seniority": "eminent"}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert (changed.json()["version"], changed.json()["seniority"]) == (2, "eminent")
    assert changed.json()["name"] == expert["name"]

    stale = await client.patch(url, json={"seniority": "junior"}, headers={**au.headers, "If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"] == PROBLEM
    stale_erase = await client.delete(url, headers={**au.headers, "If-Match": '"1"'})
    assert stale_erase.status_code == 412
    now = await client.get(url, headers=au.headers)
    assert now.headers["etag"] == '"2"'
    assert (now.json()["version"], now.json()["seniority"]) == (2, "eminent")

    weak = await client.patch(url, json={"bio": "Updated."}, headers={**au.headers, "If-Match": 'W/"2"'})
    assert weak.status_code == 200, weak.text
    assert weak.headers["etag"] == '"3"'
    garbage = await client.patch(url, json={"bio": "Again."}, headers={**au.headers, "If-Match": "yesterday"})
    assert garbage.status_code == 422
    assert "If-Match" in field_errors(garbage)

    actions = [e["action"] for e in await audit(client, au, resource_id=expert["id"])]
    assert sorted(actions) == ["expert.create", "expert.update", "expert.update"]


async def test_concurrent_patches_with_the_same_if_match_let_only_one_through(
    live_server: str, settings: Settings, owner_conn: asyncpg.Connection
) -> None:
    """Two writers over real HTTP (the test client runs one request at a time) both send If-Match "1".
    The owner holds the row locked until both are waiting on it, so neither finishes before the other
    has read the record: one must win, the other must get 412."""
    created = await add_client(settings, "au", SCOPES)
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as http:
        token = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(created.client_id, created.client_secret),
        )
        assert token.status_code == 200, token.text
        headers = bearer(token.json()["access_token"])
        made = await http.post("/v1/experts", json=expert_body(), headers=headers)
        assert made.status_code == 201, made.text
        url = f"/v1/experts/{made.json()['id']}"

        lock = owner_conn.transaction()
        await lock.start()
        try:
            au_id = (await org_ids(owner_conn))["au"]
            await owner_conn.execute("SELECT set_config('msnet.org', $1, true)", str(au_id))
            held = await owner_conn.fetch(
                "SELECT id FROM experts WHERE id = $1 FOR UPDATE", made.json()["id"]
            )
            assert len(held) == 1
            writers = [
                asyncio.ensure_future(
                    http.patch(url, json={"seniority": level}, headers={**headers, "If-Match": '"1"'})
                )
                for level in ("junior", "eminent")
            ]
            for _ in range(800):  # until both wait on the lock (a bound, not a timing assertion)
                waiting = await waiting_on_locks(owner_conn)
                if waiting >= 2 or any(w.done() for w in writers):
                    break
                await asyncio.sleep(0.025)
            assert waiting >= 2 or any(w.done() for w in writers), "the writers never reached the row"
        finally:
            await lock.rollback()
        responses = await asyncio.gather(*writers)
        assert sorted(r.status_code for r in responses) == [200, 412], [r.text for r in responses]
        now = (await http.get(url, headers=headers)).json()
    assert now["version"] == 2
    winner = next(r for r in responses if r.status_code == 200)
    assert now["seniority"] == winner.json()["seniority"]


async def test_patch_updates_what_search_uses(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    expert = await make_expert(client, au)
    url = f"/v1/experts/{expert['id']}"
    changed = await client.patch(
        url,
        json={
            "expertise": [{"kind": "service_type", "term": "coaching"}],
            "languages": [{"code": "amh"}],
            "experience": ["KE"],
            "availability": [{"start": "2028-01-01", "end": "2028-03-31"}],
            "bio": "Pastoralist dialogue facilitator.",
        },
        headers={**au.headers, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["regions"] == ["africa", "eastern_africa", "sub_saharan_africa"]
    assert body["languages"][0]["code"] == "am"
    assert await ids(client, eu, region="eastern_africa") == {expert["id"]}
    assert await ids(client, eu, region="western_africa") == set()
    assert await ids(client, eu, service_type="advisory_support") == {expert["id"]}
    assert await ids(client, eu, theme="ceasefire_security") == set()
    assert await ids(client, eu, language="am") == {expert["id"]}
    assert await ids(client, eu, language="fr") == set()
    assert await ids(client, eu, available_from="2028-02-01", available_to="2028-02-28") == {expert["id"]}
    assert await ids(client, eu, available_from="2027-02-01", available_to="2027-02-28") == set()
    assert await ids(client, eu, q="pastoralist") == {expert["id"]}
    assert await ids(client, eu, q="sahel") == set()
    facets = (await search(client, eu))["facets"]
    assert facets["theme"] == {}
    assert facets["language"] == {"am": 1}


async def test_patch_of_contact_replaces_it(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    expert = await make_expert(client, au)
    url = f"/v1/experts/{expert['id']}"

    async def contact() -> tuple[str | None, str | None]:
        body = (await client.get(f"{url}/contact", headers=au.headers)).json()
        return body["email"], body["phone"]

    renamed = await client.patch(
        url, json={"name": "Amina T. Traoré"}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert renamed.status_code == 200
    assert await contact() == ("amina@example.org", "+223 20 00 00 00")
    replaced = await client.patch(
        url, json={"contact": {"email": "a.traore@example.org"}}, headers={**au.headers, "If-Match": '"2"'}
    )
    assert replaced.status_code == 200, replaced.text
    assert "contact" not in replaced.json()
    assert await contact() == ("a.traore@example.org", None)
    assert (
        await client.patch(
            url, json={"contact": {"phone": "+254 700 000 000"}}, headers={**au.headers, "If-Match": '"3"'}
        )
    ).status_code == 200
    assert await contact() == (None, "+254 700 000 000")
    assert (
        await client.patch(url, json={"contact": None}, headers={**au.headers, "If-Match": '"4"'})
    ).status_code == 200
    assert await contact() == (None, None)
    assert (
        await as_owner(owner_conn, "SELECT * FROM expert_contacts WHERE expert_id = $1", expert["id"]) == []
    )

    bare = await make_expert(client, au, name="No Contact Yet", contact=None)
    added = await client.patch(
        f"/v1/experts/{bare['id']}",
        json={"contact": {"email": "new@example.org"}},
        headers={**au.headers, "If-Match": '"1"'},
    )
    assert added.status_code == 200, added.text
    rows = await as_owner(
        owner_conn,
        "SELECT c.email, c.organisation_id = e.organisation_id AS same_org FROM expert_contacts c "
        "JOIN experts e ON e.id = c.expert_id WHERE c.expert_id = $1",
        bare["id"],
    )
    assert [(r["email"], r["same_org"]) for r in rows] == [("new@example.org", True)]


async def test_idempotency_key_creates_once_and_answers_the_same(
    client: AsyncTestClient, au: Caller, eu: Caller, owner_conn: asyncpg.Connection
) -> None:
    headers = {**au.headers, "Idempotency-Key": "roster-amina-1"}
    refused = await client.post("/v1/experts", json=expert_body(sharing="secret"), headers=headers)
    assert refused.status_code == 422  # refused before anything was made: the key is still free
    first = await client.post("/v1/experts", json=expert_body(sharing="private"), headers=headers)
    again = await client.post("/v1/experts", json=expert_body(sharing="private"), headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await counts(owner_conn) == (1, 1)
    assert await ids(client, au) == {first.json()["id"]}

    reused = await client.post(
        "/v1/experts", json=expert_body(name="Somebody Else", sharing="private"), headers=headers
    )
    assert reused.status_code == 422, reused.text
    assert field_errors(reused) == ["Idempotency-Key"]
    assert await counts(owner_conn) == (1, 1)

    # the key is the AU's: another organisation using it gets its own expert, never the AU's answer
    theirs = await client.post(
        "/v1/experts",
        json=expert_body(sharing="private"),
        headers={**eu.headers, "Idempotency-Key": "roster-amina-1"},
    )
    assert theirs.status_code == 201, theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["organisation"] == "eu"
    assert theirs.json()["id"] != first.json()["id"]
    assert await counts(owner_conn) == (2, 2)


# --- erasure -------------------------------------------------------------------------------


async def test_erase_removes_the_personal_data_and_keeps_a_tombstone(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, owner_conn: asyncpg.Connection
) -> None:
    expert = await make_expert(client, au)
    kept = await make_expert(
        client,
        au,
        name="Kept Person",
        bio="Gender adviser.",
        expertise=[{"kind": "theme", "term": "gender_inclusion"}],
        languages=[{"code": "en"}],
        nationalities=["KE"],
        experience=["KE"],
        contact={"email": "kept@example.org"},
    )
    url = f"/v1/experts/{expert['id']}"
    erased = await client.delete(url, headers={**au.headers, "If-Match": '"1"'})
    assert erased.status_code == 204, erased.text

    row = (
        await as_owner(
            owner_conn,
            "SELECT *, available = '{}'::datemultirange AS never_available, search::text AS words "
            "FROM experts WHERE id = $1",
            expert["id"],
        )
    )[0]
    assert row["name"] == "[erased]"
    assert (row["bio"], row["seniority"], row["consent"]) == ("", None, None)
    assert row["deleted_at"] is not None
    assert row["never_available"] is True
    for column in ("expertise", "languages", "availability"):
        assert json.loads(row[column]) == [], column
    for column in (
        "themes",
        "service_types",
        "language_codes",
        "nationalities",
        "experience",
        "regions",
        "affiliations",
        "past_processes",
    ):
        assert list(row[column]) == [], column
    for word in ("amina", "traore", "bamako", "sahel", "algiers"):
        assert word not in row["words"]
    assert (
        await as_owner(owner_conn, "SELECT * FROM expert_contacts WHERE expert_id = $1", expert["id"]) == []
    )
    assert await counts(owner_conn) == (2, 1)

    for caller in (au, eu, igad):
        assert (await client.get(url, headers=caller.headers)).status_code == 404
        assert (await client.get(f"{url}/contact", headers=caller.headers)).status_code == 404
    au_if_match = {**au.headers, "If-Match": '"2"'}
    assert (await client.patch(url, json={"name": "Back Again"}, headers=au_if_match)).status_code == 404
    assert (await client.delete(url, headers=au_if_match)).status_code == 404
    for caller in (au, eu):
        body = await search(client, caller)
        assert [e["id"] for e in body["items"]] == [kept["id"]]
        assert body["total"] == 1
        assert body["facets"]["theme"] == {"gender_inclusion": 1}
        assert body["facets"]["language"] == {"en": 1}
        assert body["facets"]["organisation"] == {"au": 1}
        assert "western_africa" not in body["facets"]["region"]
        assert await ids(client, caller, q="traore") == set()
        assert await ids(client, caller, q="erased") == set()
        assert await ids(client, caller, theme="ceasefire_security") == set()
    entries = await audit(client, au, action="expert.erase")
    assert [(e["resource_id"], e["outcome"]) for e in entries] == [(expert["id"], "success")]


# --- search --------------------------------------------------------------------------------


async def test_free_text_ignores_accents_both_ways(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    traore = await make_expert(client, au, name="Amina Traoré", bio="Ceasefire adviser.")
    smith = await make_expert(client, au, name="John Smith", bio="Twenty years of negotiation support.")
    martin = await make_expert(client, au, name="Elodie Martin", bio="Spécialiste de la médiation locale.")
    for q in ("traore", "Traoré", "TRAORE", "amina traore"):
        assert await ids(client, eu, q=q) == {traore["id"]}, q
    for q in ("négotiation", "negotiation"):
        assert await ids(client, eu, q=q) == {smith["id"]}, q
    for q in ("Élodie", "specialiste mediation", "spécialiste médiation"):
        assert await ids(client, eu, q=q) == {martin["id"]}, q


async def test_english_and_french_stems_match(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    english = await make_expert(
        client, au, name="John Smith", bio="Supported the negotiation of a ceasefire."
    )
    french = await make_expert(
        client, au, name="Élodie Martin", bio="Conseiller constitutionnel auprès du médiateur."
    )
    assert await ids(client, eu, q="negotiations") == {english["id"]}
    assert await ids(client, eu, q="ceasefires") == {english["id"]}
    assert await ids(client, eu, q="constitutionnelles") == {french["id"]}
    assert await ids(client, eu, q="conseillers") == {french["id"]}


async def test_phrases_exclusions_and_nothing_to_search(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    making = await make_expert(client, au, name="Ana Lima", bio="Constitution making in transitions.")
    made = await make_expert(
        client, au, name="Omar Said", bio="Made a constitution; later, security sector reform."
    )
    assert await ids(client, eu, q='"constitution making"') == {making["id"]}
    assert await ids(client, eu, q="constitution") == {making["id"], made["id"]}
    assert await ids(client, eu, q="constitution -security") == {making["id"]}
    assert await ids(client, eu, q="constitution or security") == {making["id"], made["id"]}
    page = await search(client, eu, q="!!! -")
    assert (page["items"], page["total"]) == ([], 0)


async def test_filters(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    kenya = await make_expert(
        client,
        au,
        name="Wanjiru Kamau",
        seniority="mid",
        expertise=[
            {"kind": "service_type", "term": "process_design"},
            {"kind": "theme", "term": "natural_resources"},
        ],
        languages=[{"code": "sw"}, {"code": "en"}],
        nationalities=["UG"],
        experience=["KE"],
    )
    mali = await make_expert(
        client,
        au,
        name="Amina Traoré",
        seniority="senior",
        expertise=[
            {"kind": "theme", "term": "ceasefire_security"},
            {"kind": "service_type", "term": "capacity_building"},
        ],
        languages=[{"code": "fr"}],
        nationalities=["ML"],
        experience=["BF"],
    )
    horn = await make_expert(
        client,
        eu,
        name="Dawit Bekele",
        seniority="eminent",
        expertise=[{"kind": "service_type", "term": "advisory_support"}],
        languages=[{"code": "am"}],
        nationalities=["ET"],
        experience=["eastern_africa"],
    )
    assert kenya["regions"] == ["africa", "eastern_africa", "sub_saharan_africa"]
    assert {"africa", "sub_saharan_africa", "eastern_africa"} <= set(horn["regions"])

    async def found(**params: str) -> set[str]:
        return await ids(client, au, **params)

    assert await found() == {kenya["id"], mali["id"], horn["id"]}
    assert await found(theme="natural_resources") == {kenya["id"]}
    assert await found(theme="ceasefire_security") == {mali["id"]}
    assert await found(service_type="advisory_support") == {kenya["id"], horn["id"]}
    assert await found(service_type="process_design") == {kenya["id"]}
    assert await found(service_type="capacity_building") == {mali["id"]}
    assert await found(language="sw") == {kenya["id"]}
    assert await found(language="swa") == {kenya["id"]}
    assert await found(language="fr") == {mali["id"]}
    assert await found(country="UG") == {kenya["id"]}  # a nationality
    assert await found(country="KE") == {kenya["id"]}  # experience
    assert await found(country="ke") == {kenya["id"]}
    assert await found(country="ML") == {mali["id"]}
    assert await found(country="BF") == {mali["id"]}
    assert await found(region="eastern_africa") == {kenya["id"], horn["id"]}
    assert await found(region="sub_saharan_africa") == {kenya["id"], mali["id"], horn["id"]}
    assert await found(region="africa") == {kenya["id"], mali["id"], horn["id"]}
    assert await found(region="western_africa") == {mali["id"]}
    assert await found(region="europe") == set()
    assert await found(seniority="senior") == {mali["id"]}
    assert await found(seniority="eminent") == {horn["id"]}
    assert await found(region="africa", language="en") == {kenya["id"]}
    assert await found(organisation="eu") == {horn["id"]}
    assert await found(organisation="eu", region="western_africa") == set()


async def test_search_statements_kept_are_bounded_and_rebuilt_when_dropped(
    client: AsyncTestClient, au: Caller, eu: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_sql, "_BUILT", OrderedDict())
    monkeypatch.setattr(search_sql, "BUILT_AT_MOST", 2)
    kenya = await make_expert(client, au, languages=[{"code": "sw"}], experience=["KE"], nationalities=["KE"])
    mali = await make_expert(client, au, languages=[{"code": "fr"}], experience=["ML"])
    shapes = [{"language": "sw"}, {"country": "ML"}, {"language": "fr", "country": "ML"}]
    expected = [{kenya["id"]}, {mali["id"]}, {mali["id"]}]
    for _ in range(2):  # the second round rebuilds what the bound dropped
        for params, found in zip(shapes, expected, strict=True):
            assert await ids(client, eu, **params) == found
            assert len(search_sql._BUILT) <= 2
    names = [key[1] for key in search_sql._BUILT]
    assert names == [frozenset({"country"}), frozenset({"language", "country"})]  # the least recent went
    assert await ids(client, eu, country="ML") == {mali["id"]}
    assert [key[1] for key in search_sql._BUILT][-1] == frozenset({"country"})  # a hit is the most recent


async def test_theme_language_and_region_together_match_them_on_the_same_expert(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    """Two or three of these filters are searched as pairs of terms (``term_pairs``): each expert
    below has two of a combination without the third, and the answer of every combination is
    worked out here from what each expert was given."""
    given = {
        "ceasefire-fr-africa": (["ceasefire_security"], ["fr"], ["ML"]),
        "ceasefire-en-europe": (["ceasefire_security"], ["en"], ["FR"]),
        "gender-fr-europe": (["gender_inclusion"], ["fr"], ["FR"]),
        "gender-en-africa": (["gender_inclusion"], ["en"], ["western_africa"]),
        "transhumance-land-ar-sw-kenya": (["transhumance", "land"], ["ar", "sw"], ["KE"]),
    }
    made = {
        name: await make_expert(
            client,
            au,
            name=name,
            expertise=[{"kind": "theme", "term": theme} for theme in themes],
            languages=[{"code": language} for language in languages],
            experience=experience,
        )
        for name, (themes, languages, experience) in given.items()
    }
    has = {
        made[name]["id"]: {
            "theme": set(themes),
            "language": set(languages),
            "region": set(made[name]["regions"]),
        }
        for name, (themes, languages, _) in given.items()
    }
    options = {
        "theme": [None, "ceasefire_security", "gender_inclusion", "land", "humanitarian_mediation"],
        "language": [None, "fr", "en", "sw"],
        "region": [None, "africa", "western_europe", "eastern_africa", "asia"],
    }
    tried = 0
    for theme in options["theme"]:
        for language in options["language"]:
            for region in options["region"]:
                params = {
                    k: v for k, v in (("theme", theme), ("language", language), ("region", region)) if v
                }
                if len(params) < 2:
                    continue
                expected = {
                    i
                    for i, e in has.items()
                    if (theme is None or theme in e["theme"])
                    and (language is None or language in e["language"])
                    and (region is None or region in e["region"])
                }
                assert await ids(client, eu, **params) == expected, params
                assert await ids(client, eu, q="sahel", **params) == expected, params
                tried += 1
    assert tried == 88
    assert await ids(client, eu, theme="ceasefire_security", language="fr", region="africa") == {
        made["ceasefire-fr-africa"]["id"]
    }

    changed = await client.patch(
        f"/v1/experts/{made['gender-fr-europe']['id']}",
        json={"experience": ["KE"]},
        headers={**au.headers, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert await ids(client, eu, theme="gender_inclusion", region="europe") == set()
    assert await ids(client, eu, theme="gender_inclusion", language="fr", region="africa") == {
        made["gender-fr-europe"]["id"]
    }


def test_two_or_three_of_theme_language_and_region_are_asked_as_their_pairs() -> None:
    """The pairs stand in for the separate filters (whose terms GIN would step through in full)."""
    three = roster_service._values(ExpertFilter(theme="ceasefire_security", language="fra", region="africa"))
    assert three == {"pairs": ["tl:ceasefire_security:fr", "tr:ceasefire_security:africa"]}
    two = roster_service._values(ExpertFilter(language="fr", region="africa", seniority="senior"))
    assert two == {"pairs": ["lr:fr:africa"], "seniority": "senior"}
    assert roster_service._values(ExpertFilter(theme="land", country="KE")) == {
        "theme": ["land"],
        "country": ["KE"],
    }


async def test_availability_over_a_period(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    spring = await make_expert(
        client, au, name="Spring Person", availability=[{"start": "2027-03-01", "end": "2027-05-31"}]
    )
    split = await make_expert(
        client,
        au,
        name="Split Person",
        availability=[
            {"start": "2027-05-01", "end": "2027-06-30", "remote": False},
            {"start": "2027-02-01", "end": "2027-03-31"},
        ],
    )
    busy = await make_expert(client, au, name="Busy Person", availability=[])
    assert [w["start"] for w in split["availability"]] == ["2027-02-01", "2027-05-01"]

    async def found(start: str, end: str | None = None) -> set[str]:
        params = {"available_from": start} | ({"available_to": end} if end else {})
        return await ids(client, eu, **params)

    assert await found("2027-03-01", "2027-05-31") == {spring["id"]}  # the whole window, ends included
    assert await found("2027-04-01", "2027-04-30") == {spring["id"]}
    assert await found("2027-03-15", "2027-03-31") == {spring["id"], split["id"]}
    assert await found("2027-03-15", "2027-04-15") == {spring["id"]}  # split covers only part of it
    assert await found("2027-05-15", "2027-06-15") == {split["id"]}  # spring ends on 31 May
    assert await found("2027-01-15", "2027-02-15") == set()
    assert await found("2027-02-28", "2027-06-01") == set()
    assert await found("2027-06-30") == {split["id"]}
    assert await found("2027-07-01") == set()
    assert await ids(client, eu) == {spring["id"], split["id"], busy["id"]}


@pytest.mark.parametrize("q", [None, "mediator"])
async def test_keyset_pagination_visits_every_expert_once(
    client: AsyncTestClient, au: Caller, eu: Caller, q: str | None
) -> None:
    matching = set()
    for n in range(7):
        made = await make_expert(
            client, au if n % 2 else eu, name=f"Person {n}", bio="mediator " * (1 + n % 3) + "in the field."
        )
        matching.add(made["id"])
    other = await make_expert(client, au, name="Other Expert", bio="Ceasefire adviser.")
    expected = matching if q else matching | {other["id"]}

    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params: dict[str, Any] = (
            {"limit": 2} | ({"q": q} if q else {}) | ({"cursor": cursor} if cursor else {})
        )
        body = await search(client, au, **params)
        assert body["total"] == len(expected)
        assert len(body["items"]) <= 2
        seen += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected


TAMPERED_CURSORS: list[tuple[str, str]] = [
    ("not-base64", "%%%%"),
    ("not-json", base64.urlsafe_b64encode(b"not json").decode()),
    ("bad-id", cursor_of("not-a-uuid")),
    ("bad-ranked-id", cursor_of(0.5, "not-a-uuid")),
    ("bad-rank", cursor_of(None, "0190a7c4-0000-7000-8000-000000000000")),
    ("an-object", cursor_of({"id": 1})),
    ("empty", cursor_of()),
]


async def test_a_tampered_cursor_is_422(client: AsyncTestClient, au: Caller) -> None:
    await make_expert(client, au, bio="mediator")

    async def check(q: str | None, cursor: str) -> None:
        params = {"cursor": cursor} | ({"q": q} if q else {})
        response = await client.get("/v1/experts", params=params, headers=au.headers)
        assert response.status_code == 422, response.text
        assert field_errors(response) == ["cursor"]

    cases = [
        (f"{name}-{q or 'no-q'}", q, cursor) for q in (None, "mediator") for name, cursor in TAMPERED_CURSORS
    ]
    await assert_every_case(cases, check)


async def test_a_cursor_from_another_kind_of_search_is_422(client: AsyncTestClient, au: Caller) -> None:
    for n in range(3):
        await make_expert(client, au, name=f"Person {n}", bio="mediator")
    plain = (await search(client, au, limit=1))["next_cursor"]
    ranked = (await search(client, au, limit=1, q="mediator"))["next_cursor"]
    assert plain
    assert ranked
    for params in ({"cursor": plain, "q": "mediator"}, {"cursor": ranked}):
        response = await client.get("/v1/experts", params=params, headers=au.headers)
        assert response.status_code == 422, response.text
        assert field_errors(response) == ["cursor"]


async def test_facets_count_every_visible_expert(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    await make_expert(
        client,
        au,
        name="Theme Only",
        expertise=[{"kind": "theme", "term": "gender_inclusion"}],
        languages=[{"code": "ar"}],
        experience=["SD"],
    )
    await make_expert(
        client,
        au,
        name="Two Services",
        expertise=[
            {"kind": "theme", "term": "gender_inclusion"},
            {"kind": "service_type", "term": "coaching"},
            {"kind": "service_type", "term": "process_design"},
        ],
        languages=[{"code": "ar"}, {"code": "en"}],
        experience=["SD"],
    )
    await make_expert(client, eu, name="Nothing Declared", expertise=[], languages=[], experience=[])
    body = await search(client, eu)
    assert body["total"] == 3
    facets = body["facets"]
    assert facets["organisation"] == {"au": 2, "eu": 1}
    assert facets["theme"] == {"gender_inclusion": 2}
    assert facets["language"] == {"ar": 2, "en": 1}
    assert facets["region"] == {"northern_africa": 2, "africa": 2}
    assert (facets["service_type"]["coaching"], facets["service_type"]["process_design"]) == (1, 1)
    narrowed = (await search(client, eu, language="ar"))["facets"]
    assert narrowed["organisation"] == {"au": 2}
    assert narrowed["language"] == {"ar": 2, "en": 1}
