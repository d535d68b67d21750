"""Publications: CRUD, sharing, validation, If-Match, Idempotency-Key, search with facets and pages."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.helpers import MakeCaller
from tests.training.conftest import Caller, counts, make_publication, publication_body

PROBLEM = "application/problem+json"


async def search(client: AsyncTestClient, who: Caller | None, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/publications", params=params, headers=who.headers if who else {})
    assert response.status_code == 200, response.text
    return response.json()


async def titles(client: AsyncTestClient, who: Caller | None, **params: Any) -> list[str]:
    return [p["title"] for p in (await search(client, who, **params))["items"]]


def field_errors(response: Any) -> list[str]:
    assert response.headers["content-type"] == PROBLEM
    return [e["field"] for e in response.json()["errors"]]


async def test_create_read_update_delete(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    created = await make_publication(client, au)
    assert (created["organisation"], created["sharing"], created["version"]) == ("au", "network", 1)
    url = f"/v1/publications/{created['id']}"
    read = await client.get(url, headers=eu.headers)
    assert (read.json(), read.headers["etag"]) == (created, '"1"')
    changed = await client.patch(
        url, json={"themes": ["transhumance"]}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert (changed.status_code, changed.json()["themes"], changed.headers["etag"]) == (
        200,
        ["transhumance"],
        '"2"',
    )
    stale = await client.patch(url, json={"summary": "Later"}, headers={**au.headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    eu_if_match = {**eu.headers, "If-Match": '"2"'}
    assert (await client.patch(url, json={"summary": "x"}, headers=eu_if_match)).status_code == 403
    assert (await client.delete(url, headers={**au.headers, "If-Match": '"2"'})).status_code == 204
    assert (await client.get(url, headers=au.headers)).status_code == 404
    audited = [
        e["action"]
        for e in (await client.get("/v1/audit", headers=au.headers)).json()["items"]
        if e["resource_type"] == "publication"
    ]
    assert audited == ["publication.delete", "publication.update", "publication.create"]


@pytest.mark.parametrize(
    "sharing",
    [{"sharing": "private"}, {"sharing": "restricted", "share_with": ["igad"]}],
    ids=["private", "restricted"],
)
async def test_a_hidden_publication_is_404_and_never_listed(
    client: AsyncTestClient,
    au: Caller,
    eu: Caller,
    igad: Caller,
    sharing: dict,
    owner_conn: asyncpg.Connection,
) -> None:
    await make_publication(client, au, title="Network note")
    before = await search(client, eu)
    hidden = await make_publication(client, au, title="Hidden note", themes=["transhumance"], **sharing)
    url = f"/v1/publications/{hidden['id']}"
    assert (await client.get(url, headers=eu.headers)).status_code == 404
    eu_if_match = {**eu.headers, "If-Match": '"1"'}
    assert (await client.patch(url, json={"title": "Taken"}, headers=eu_if_match)).status_code == 404
    assert (await client.delete(url, headers=eu_if_match)).status_code == 404
    assert await search(client, eu) == before
    assert (await search(client, eu, theme="transhumance"))["total"] == 0
    assert before["facets"]["organisation"] == {"au": 1}
    assert (await client.get(url, headers=au.headers)).json() == hidden
    assert (await counts(owner_conn))["publications"] == 2


async def test_without_a_token_only_public_publications(
    client: AsyncTestClient, au: Caller, make_caller: MakeCaller
) -> None:
    await make_publication(client, au, title="Network note")
    await make_publication(client, au, title="Public handbook", sharing="public")
    assert await titles(client, None) == ["Public handbook"]
    assert (await client.post("/v1/publications", json=publication_body())).status_code == 401
    reader = await make_caller("au", ["training:read"])
    forbidden = await client.post("/v1/publications", json=publication_body(), headers=reader.headers)
    assert forbidden.status_code == 403
    roster = await make_caller("eu", ["roster:read"])
    assert (await client.get("/v1/publications", headers=roster.headers)).status_code == 403


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url": "publications.example.org/x"}, "url"),
        ({"url": "ftp://publications.example.org/x"}, "url"),
        ({"themes": ["astrology"]}, "themes.0"),
        ({"languages": ["zz"]}, "languages.0"),
        ({"published_on": "2026-02-30"}, "published_on"),
        ({"title": "T" * 301}, "title"),
        ({"summary": "x" * 4001}, "summary"),
        ({"doi": "10.1000/182"}, "doi"),
        ({"sharing": "restricted"}, "share_with"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection, changes: dict, field: str
) -> None:
    response = await client.post("/v1/publications", json=publication_body(**changes), headers=au.headers)
    assert response.status_code == 422, response.text
    assert field in field_errors(response)
    created = await make_publication(client, au)
    url = f"/v1/publications/{created['id']}"
    patched = await client.patch(url, json=changes, headers={**au.headers, "If-Match": '"1"'})
    assert patched.status_code == 422
    assert field in field_errors(patched)
    assert (await client.get(url, headers=au.headers)).json() == created
    assert (await counts(owner_conn))["publications"] == 1


async def test_malformed_json_is_400(client: AsyncTestClient, au: Caller) -> None:
    response = await client.post(
        "/v1/publications", content=b'{"title": ', headers={**au.headers, "Content-Type": "application/json"}
    )
    assert (response.status_code, response.headers["content-type"]) == (400, PROBLEM)


async def test_idempotency_key_creates_once(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    headers = {**au.headers, "Idempotency-Key": "note-1"}
    first = await client.post("/v1/publications", json=publication_body(), headers=headers)
    again = await client.post("/v1/publications", json=publication_body(), headers=headers)
    assert (first.status_code, again.status_code, again.headers["idempotent-replayed"]) == (201, 201, "true")
    assert first.json() == again.json()
    assert (await counts(owner_conn))["publications"] == 1


async def test_search_filters_facets_and_pages(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    await make_publication(client, au)
    await make_publication(
        client,
        eu,
        title="Manuel sur les accords de cessez-le-feu",
        summary="Options pour la surveillance et la vérification.",
        themes=["ceasefire_security"],
        languages=["fr"],
        published_on="2026-06-01",
    )
    for n in range(3):
        await make_publication(
            client,
            eu,
            title=f"Lessons learned {n}",
            themes=[],
            languages=["en"],
            published_on=f"2025-0{n + 1}-01",
        )
    assert await titles(client, au, theme="ceasefire_security") == ["Manuel sur les accords de cessez-le-feu"]
    assert await titles(client, au, q="verification") == ["Manuel sur les accords de cessez-le-feu"]
    assert await titles(client, au, language="fr", organisation="au") == [
        "Guidance on gender and inclusive mediation strategies"
    ]
    assert await titles(client, au, published_from="2026-01-01") == [
        "Guidance on gender and inclusive mediation strategies",
        "Manuel sur les accords de cessez-le-feu",
    ]  # newest first
    assert await titles(client, au, published_to="2025-01-31") == ["Lessons learned 0"]
    body = await search(client, au)
    assert body["total"] == 5
    assert body["facets"]["organisation"] == {"au": 1, "eu": 4}
    assert body["facets"]["language"] == {"en": 4, "fr": 2}
    assert body["facets"]["theme"] == {"gender_inclusion": 1, "ceasefire_security": 1}
    seen, cursor = [], None
    while True:
        page = await search(client, au, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [p["id"] for p in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [p["id"] for p in body["items"]]
    bad = await client.get("/v1/publications", params={"theme": "astrology"}, headers=au.headers)
    assert field_errors(bad) == ["theme"]
    inverted = await client.get(
        "/v1/publications",
        params={"published_from": "2026-01-02", "published_to": "2026-01-01"},
        headers=au.headers,
    )
    assert field_errors(inverted) == ["published_to"]
