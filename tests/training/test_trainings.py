"""Trainings: CRUD, sharing on every endpoint, validation, If-Match, Idempotency-Key, search, facets, pages."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from msnet.db.embedded import DatabaseUrls
from tests.helpers import MakeCaller, assert_every_case, org_ids
from tests.training.conftest import Caller, counts, make_training, training_body

PROBLEM = "application/problem+json"
HIDDEN = [
    pytest.param({"sharing": "private"}, id="private"),
    pytest.param({"sharing": "restricted", "share_with": ["igad"]}, id="restricted-to-igad"),
]


async def search(client: AsyncTestClient, who: Caller | None, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/trainings", params=params, headers=who.headers if who else {})
    assert response.status_code == 200, response.text
    return response.json()


async def titles(client: AsyncTestClient, who: Caller | None, **params: Any) -> list[str]:
    body = await search(client, who, limit=200, **params)
    assert body["total"] == len(body["items"])
    return [t["title"] for t in body["items"]]


def field_errors(response: Any) -> list[str]:
    assert response.headers["content-type"] == PROBLEM
    return [e["field"] for e in response.json()["errors"]]


# --- CRUD ----------------------------------------------------------------------------------


async def test_create_read_update_delete_and_audit(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    created = await make_training(client, au)
    assert created["organisation"] == "au"
    assert created["start"] == "2027-03-08T06:00:00Z"  # stored and answered in UTC
    assert created["end"] == "2027-03-12T14:00:00Z"
    assert created["application_deadline"] == "2027-01-31T20:59:00Z"
    assert created["time_zone"] == "Africa/Addis_Ababa"
    assert created["sharing"] == "network"
    assert created["audience"] == ["envoy_teams", "member_staff"]
    assert (created["version"], created["origin"]) == (1, "http://127.0.0.1")
    url = f"/v1/trainings/{created['id']}"

    read = await client.get(url, headers=eu.headers)
    assert read.status_code == 200
    assert read.json() == created
    assert read.headers["etag"] == '"1"'

    changed = await client.patch(
        url, json={"seats": 30, "city": "Nairobi", "country": "KE"}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["seats"], changed.json()["country"], changed.json()["version"]) == (30, "KE", 2)
    assert changed.headers["etag"] == '"2"'
    assert await titles(client, eu, region="eastern_africa") == [created["title"]]

    assert (await client.delete(url, headers={**au.headers, "If-Match": '"2"'})).status_code == 204
    assert (await client.get(url, headers=au.headers)).status_code == 404
    actions = [
        e["action"]
        for e in (await client.get("/v1/audit", headers=au.headers)).json()["items"]
        if e["resource_type"] == "training"
    ]
    assert actions == ["training.delete", "training.update", "training.create"]


async def test_an_online_training_needs_no_place(client: AsyncTestClient, au: Caller) -> None:
    online = await make_training(
        client, au, format="online", city=None, country=None, time_zone="UTC", kind="webinar"
    )
    assert (online["format"], online["country"]) == ("online", None)


# --- sharing -------------------------------------------------------------------------------


@pytest.mark.parametrize("sharing", HIDDEN)
async def test_a_hidden_training_is_404_everywhere_and_untouched(
    client: AsyncTestClient,
    au: Caller,
    eu: Caller,
    igad: Caller,
    owner_conn: asyncpg.Connection,
    sharing: dict,
) -> None:
    training = await make_training(client, au, title="Hidden retreat", kind="envoy_retreat", **sharing)
    url = f"/v1/trainings/{training['id']}"
    assert (await client.get(url, headers=eu.headers)).status_code == 404
    for headers in ({**eu.headers, "If-Match": '"1"'}, {**eu.headers, "If-Match": '"9"'}):
        patched = await client.patch(url, json={"title": "Taken over"}, headers=headers)
        assert patched.status_code == 404, patched.text
        assert patched.headers["content-type"] == PROBLEM
        assert (await client.delete(url, headers=headers)).status_code == 404
    for params in ({}, {"q": "hidden retreat"}, {"organisation": "au"}, {"kind": "envoy_retreat"}):
        body = await search(client, eu, **params)
        assert (body["items"], body["total"]) == ([], 0)
        assert body["facets"]["organisation"] == {}
    for feed in ("/v1/trainings.ics", "/v1/trainings.atom"):
        assert "Hidden retreat" not in (await client.get(feed, headers=eu.headers)).text
    assert (await client.get(url, headers=au.headers)).json() == training
    assert (await counts(owner_conn))["trainings"] == 1
    igad_sees = await client.get(url, headers=igad.headers)
    assert igad_sees.status_code == (200 if sharing["sharing"] == "restricted" else 404)


async def test_hidden_trainings_never_reach_lists_totals_or_facets(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller
) -> None:
    await make_training(client, au, title="Network course")
    await make_training(client, au, title="Public webinar", sharing="public", format="online", kind="webinar")
    await make_training(
        client, eu, title="EU peer exchange", kind="peer_exchange", country="BE", city="Brussels"
    )
    searches: list[dict[str, Any]] = [
        {},
        {"q": "course"},
        {"theme": "gender_inclusion"},
        {"language": "fr"},
        {"country": "ET"},
        {"region": "africa"},
        {"organisation": "au"},
        {"open": "true"},
    ]
    viewers: list[Caller | None] = [eu, None]
    before = [await search(client, v, **p) for v in viewers for p in searches]
    hidden = {"themes": ["national_dialogue", "transhumance"], "languages": ["fr", "ar"], "country": "ET"}
    await make_training(client, au, title="Private course", sharing="private", **hidden)
    await make_training(
        client, au, title="Restricted course", sharing="restricted", share_with=["igad"], **hidden
    )
    after = [await search(client, v, **p) for v in viewers for p in searches]
    assert after == before
    assert before[0]["facets"]["organisation"] == {"au": 2, "eu": 1}
    assert (await search(client, au))["facets"]["theme"]["transhumance"] == 2


async def test_without_a_token_only_public_trainings(client: AsyncTestClient, au: Caller) -> None:
    await make_training(client, au, title="Network course")
    public = await make_training(client, au, title="Public webinar", sharing="public")
    assert await titles(client, None) == ["Public webinar"]
    assert (await client.get(f"/v1/trainings/{public['id']}")).status_code == 200
    write = await client.post("/v1/trainings", json=training_body())
    assert write.status_code == 401
    assert write.headers["www-authenticate"].startswith("Bearer")
    for response in (
        await client.patch(f"/v1/trainings/{public['id']}", json={"seats": 3}),
        await client.delete(f"/v1/trainings/{public['id']}"),
    ):
        assert response.status_code == 401


async def test_training_read_alone_reads_and_writes_nothing(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection, make_caller: MakeCaller
) -> None:
    training = await make_training(client, au)
    reader = await make_caller("au", ["training:read"])
    other = await make_caller("eu", ["directory:read"])
    assert (await client.get("/v1/trainings", headers=reader.headers)).status_code == 200
    url = f"/v1/trainings/{training['id']}"
    for response in (
        await client.post("/v1/trainings", json=training_body(), headers=reader.headers),
        await client.patch(url, json={"seats": 3}, headers=reader.headers),
        await client.delete(url, headers=reader.headers),
        await client.get("/v1/trainings", headers=other.headers),
        await client.get(url, headers=other.headers),
        await client.get("/v1/trainings.ics", headers=other.headers),
        await client.get("/v1/trainings.atom", headers=other.headers),
    ):
        assert response.status_code == 403, response.text
        assert "insufficient_scope" in response.headers["www-authenticate"]
    assert (await counts(owner_conn))["trainings"] == 1


async def test_only_the_owner_changes_a_network_training(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    training = await make_training(client, au)
    url = f"/v1/trainings/{training['id']}"
    eu_if_match = {**eu.headers, "If-Match": '"1"'}
    assert (await client.patch(url, json={"seats": 1}, headers=eu_if_match)).status_code == 403
    assert (await client.delete(url, headers=eu_if_match)).status_code == 403
    assert (await client.get(url, headers=au.headers)).json() == training


async def test_row_level_security_alone_hides_what_the_service_hides(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, db_urls: DatabaseUrls
) -> None:
    made = {
        level: (
            await make_training(
                client, au, sharing=level, share_with=["igad"] if level == "restricted" else []
            )
        )["id"]
        for level in ("private", "restricted", "network", "public")
    }
    conn = await asyncpg.connect(db_urls.app)
    try:
        orgs = await org_ids(conn)

        async def seen(slug: str | None) -> tuple[set[str], str]:
            async with conn.transaction():
                if slug:
                    await conn.execute("SELECT set_config('msnet.org', $1, true)", str(orgs[slug]))
                rows = {str(r["id"]) for r in await conn.fetch("SELECT id FROM trainings")}
                status = await conn.execute("UPDATE trainings SET title = 'Taken over'")
            return rows, status

        assert await seen("eu") == ({made["network"], made["public"]}, "UPDATE 0")
        assert await seen("igad") == ({made["restricted"], made["network"], made["public"]}, "UPDATE 0")
        assert await seen(None) == ({made["public"]}, "UPDATE 0")
    finally:
        await conn.close()


# --- bad input -----------------------------------------------------------------------------

# (case, changes to a valid training, the field the problem must name)
BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("end-before-start", {"end": "2027-03-07T17:00:00+03:00"}, "end"),
    ("deadline-after-start", {"application_deadline": "2027-03-09T00:00:00+03:00"}, "application_deadline"),
    ("unknown-time-zone", {"time_zone": "Africa/Atlantis"}, "time_zone"),
    ("offset-as-time-zone", {"time_zone": "+03:00"}, "time_zone"),
    ("start-without-offset", {"start": "2027-03-08T09:00:00"}, "start"),
    ("start-not-a-date", {"start": "next monday"}, "start"),
    ("url-without-scheme", {"apply_url": "training.example.org/apply"}, "apply_url"),
    ("javascript-url", {"apply_url": "javascript:alert(1)"}, "apply_url"),
    ("url-with-space", {"apply_url": "https://exa mple.org"}, "apply_url"),
    ("no-way-to-apply", {"apply_url": None}, "apply_url"),
    ("bad-email", {"apply_email": "apply-at-example"}, "apply_email"),
    ("unknown-theme", {"themes": ["national_dialogue", "astrology"]}, "themes.1"),
    ("service-type-as-theme", {"themes": ["process_design"]}, "themes.0"),
    ("unknown-country", {"country": "XX"}, "country"),
    ("in-person-without-country", {"country": None}, "country"),
    ("unknown-language", {"languages": ["en", "zz"]}, "languages.1"),
    ("bad-kind", {"kind": "lecture"}, "kind"),
    ("bad-format", {"format": "radio"}, "format"),
    ("bad-audience", {"audience": ["everyone"]}, "audience.0"),
    ("no-seats", {"seats": 0}, "seats"),
    ("title-too-long", {"title": "T" * 201}, "title"),
    ("description-too-long", {"description": "x" * 4001}, "description"),
    ("cost-too-long", {"cost": "x" * 301}, "cost"),
    ("unknown-field", {"venue": "Africa Hall"}, "venue"),
    ("restricted-without-share-with", {"sharing": "restricted"}, "share_with"),
    ("unknown-share-with", {"sharing": "restricted", "share_with": ["atlantis"]}, "share_with.0"),
    ("bad-sharing", {"sharing": "secret"}, "sharing"),
]


def not_naming(response: Any, field: str) -> str | None:
    """Why ``response`` is not a 422 problem naming ``field``; None when it is."""
    if response.status_code != 422:
        return f"{response.status_code} {response.text}"
    if response.headers["content-type"] != PROBLEM:
        return f"content-type {response.headers['content-type']}"
    named = [e["field"] for e in response.json()["errors"]]
    return None if field in named else f"names {named}, not {field!r}"


async def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    """Every case of BAD_BODIES on one database; after each, no training more than before it (none)."""
    failures: list[str] = []
    stored = 0
    for case, changes, field in BAD_BODIES:
        response = await client.post("/v1/trainings", json=training_body(**changes), headers=au.headers)
        if why := not_naming(response, field):
            failures.append(f"{case}: {why}")
        if (now := (await counts(owner_conn))["trainings"]) != stored:
            failures.append(f"{case}: {now - stored} training(s) stored")
            stored = now
    assert failures == [], "\n".join(failures)


async def test_a_bad_patch_is_422_naming_the_field_and_changes_nothing(
    client: AsyncTestClient, au: Caller
) -> None:
    """Every case of BAD_BODIES against one training; after each, the training is as it was."""
    training = await make_training(client, au, apply_email="training@au.example.org")
    failures: list[str] = []
    for case, changes, field in BAD_BODIES:
        url = f"/v1/trainings/{training['id']}"
        patch = {**changes, "apply_email": None} if case == "no-way-to-apply" else changes
        response = await client.patch(url, json=patch, headers={**au.headers, "If-Match": '"1"'})
        if why := not_naming(response, field):
            failures.append(f"{case}: {why}")
        if (now := (await client.get(url, headers=au.headers)).json()) != training:
            failures.append(f"{case}: changed the training to {now}")
            training = await make_training(client, au, apply_email="training@au.example.org")
    assert failures == [], "\n".join(failures)


async def test_a_patch_is_checked_against_the_fields_it_leaves(client: AsyncTestClient, au: Caller) -> None:
    training = await make_training(client, au)
    url = f"/v1/trainings/{training['id']}"
    if_match = {**au.headers, "If-Match": '"1"'}
    late_start = await client.patch(url, json={"start": "2027-03-20T09:00:00+03:00"}, headers=if_match)
    assert late_start.status_code == 422
    assert field_errors(late_start) == ["end"]
    early_start = await client.patch(url, json={"start": "2027-01-15T09:00:00+03:00"}, headers=if_match)
    assert field_errors(early_start) == ["application_deadline"]
    assert (await client.get(url, headers=au.headers)).json() == training


async def test_text_at_the_limits_is_accepted(client: AsyncTestClient, au: Caller) -> None:
    training = await make_training(client, au, title="T" * 200, description="x" * 4000, cost="c" * 300)
    assert (len(training["title"]), len(training["description"])) == (200, 4000)


async def test_malformed_json_is_400_and_another_media_type_415(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    training = await make_training(client, au)
    url = f"/v1/trainings/{training['id']}"
    json_headers = {**au.headers, "Content-Type": "application/json"}
    broken = b'{"title": "Mediation course", "kind": '
    for response in (
        await client.post("/v1/trainings", content=broken, headers=json_headers),
        await client.patch(url, content=broken, headers={**json_headers, "If-Match": '"1"'}),
    ):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == PROBLEM
    text_headers = {**au.headers, "Content-Type": "text/plain"}
    response = await client.post("/v1/trainings", content=json.dumps(training_body()), headers=text_headers)
    assert response.status_code == 415
    assert (await counts(owner_conn))["trainings"] == 1


# (query parameters, the parameter the problem must name)
BAD_FILTERS: list[tuple[dict[str, Any], str]] = [
    ({"theme": "astrology"}, "theme"),
    ({"country": "XX"}, "country"),
    ({"language": "zz"}, "language"),
    ({"region": "atlantis"}, "region"),
    ({"organisation": "atlantis"}, "organisation"),
    ({"kind": "lecture"}, "kind"),
    ({"format": "radio"}, "format"),
    ({"audience": "everyone"}, "audience"),
    ({"start_from": "2027-03-01", "start_to": "2027-02-01"}, "start_to"),
    ({"start_from": "2027-02-30"}, "start_from"),
]
BAD_PAGES: list[tuple[dict[str, Any], str]] = [  # /v1/trainings only: the feeds take no limit or cursor
    ({"limit": 0}, "limit"),
    ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
]
FILTER_CASES = [
    (path, params, field)
    for path in ("/v1/trainings", "/v1/trainings.ics", "/v1/trainings.atom")
    for params, field in BAD_FILTERS + (BAD_PAGES if path == "/v1/trainings" else [])
]


async def test_a_bad_filter_is_422_naming_the_parameter(client: AsyncTestClient, au: Caller) -> None:
    async def check(path: str, params: dict, field: str) -> None:
        why = not_naming(await client.get(path, params=params, headers=au.headers), field)
        assert why is None, why

    cases = [(f"{path} {params}", path, params, field) for path, params, field in FILTER_CASES]
    await assert_every_case(cases, check)


# --- If-Match and Idempotency-Key ----------------------------------------------------------


async def test_patch_and_delete_honour_if_match(client: AsyncTestClient, au: Caller) -> None:
    training = await make_training(client, au)
    url = f"/v1/trainings/{training['id']}"
    assert (
        await client.patch(url, json={"seats": 10}, headers={**au.headers, "If-Match": '"1"'})
    ).status_code == 200
    stale = await client.patch(url, json={"seats": 12}, headers={**au.headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == PROBLEM
    assert (await client.delete(url, headers={**au.headers, "If-Match": '"1"'})).status_code == 412
    assert (await client.get(url, headers=au.headers)).json()["seats"] == 10
    assert (
        await client.patch(url, json={"seats": 12}, headers={**au.headers, "If-Match": '"2"'})
    ).status_code == 200


async def test_idempotency_key_creates_once(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    headers = {**au.headers, "Idempotency-Key": "training-2027-03"}
    first, second = await asyncio.gather(
        client.post("/v1/trainings", json=training_body(), headers=headers),
        client.post("/v1/trainings", json=training_body(), headers=headers),
    )
    assert {first.status_code, second.status_code} == {201}
    assert first.json() == second.json()
    assert "true" in (first.headers.get("idempotent-replayed"), second.headers.get("idempotent-replayed"))
    other = await client.post("/v1/trainings", json=training_body(seats=3), headers=headers)
    assert other.status_code == 422
    assert field_errors(other) == ["Idempotency-Key"]
    assert (await counts(owner_conn))["trainings"] == 1


# --- search --------------------------------------------------------------------------------


async def test_filters(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    await make_training(client, au)  # Addis Ababa, March 2027, deadline end of January
    await make_training(
        client,
        eu,
        title="Envoy retreat on ceasefire arrangements",
        description="Retraite des envoyés: arrangements de cessez-le-feu.",
        kind="envoy_retreat",
        themes=["ceasefire_security"],
        format="hybrid",
        city="Brussels",
        country="BE",
        start="2027-06-01T09:00:00+02:00",
        end="2027-06-03T13:00:00+02:00",
        time_zone="Europe/Brussels",
        application_deadline=None,
        languages=["fr"],
        audience=["envoy_teams"],
    )
    await make_training(
        client,
        eu,
        title="Webinar on media and mediation",
        kind="webinar",
        themes=["media_communication"],
        format="online",
        city=None,
        country=None,
        start="2026-01-10T14:00:00Z",
        end="2026-01-10T15:30:00Z",
        time_zone="UTC",
        application_deadline="2026-01-09T12:00:00Z",
        languages=["en"],
        audience=["partners"],
    )
    design, retreat, webinar = (
        "Mediation process design course",
        "Envoy retreat on ceasefire arrangements",
        "Webinar on media and mediation",
    )
    assert await titles(client, au) == [webinar, design, retreat]  # soonest first
    assert await titles(client, au, theme="ceasefire_security") == [retreat]
    assert await titles(client, au, kind="webinar") == [webinar]
    assert await titles(client, au, format="hybrid") == [retreat]
    assert await titles(client, au, country="be") == [retreat]
    assert await titles(client, au, region="europe") == [retreat]
    assert await titles(client, au, region="eastern_africa") == [design]
    assert await titles(client, au, language="fr") == [design, retreat]
    assert await titles(client, au, language="fra") == [design, retreat]
    assert await titles(client, au, audience="partners") == [webinar]
    assert await titles(client, au, organisation="eu") == [webinar, retreat]
    assert await titles(client, au, start_from="2027-03-08", start_to="2027-06-01") == [design, retreat]
    assert await titles(client, au, start_to="2027-03-07") == [webinar]
    assert await titles(client, au, open="true") == [design, retreat]
    assert await titles(client, au, q="cessez le feu") == [retreat]
    assert await titles(client, au, q="envoyes") == [retreat]  # accents ignored
    assert await titles(client, au, q="addis") == [design]
    assert await titles(client, au, q="sahel", kind="course") == [design]


async def test_facets_count_what_the_caller_may_see(client: AsyncTestClient, au: Caller, eu: Caller) -> None:
    await make_training(client, au)
    await make_training(client, au, format="online", city=None, country=None, kind="webinar", themes=[])
    await make_training(client, eu, country="BE", city="Brussels", languages=["fr"])
    body = await search(client, eu)
    assert body["total"] == 3
    facets = body["facets"]
    assert facets["organisation"] == {"au": 2, "eu": 1}
    assert facets["kind"] == {"course": 2, "webinar": 1}
    assert facets["format"] == {"in_person": 2, "online": 1}
    assert facets["country"] == {"ET": 1, "BE": 1}
    assert facets["language"] == {"en": 2, "fr": 3}
    assert facets["theme"] == {"national_dialogue": 2, "gender_inclusion": 2}
    assert facets["audience"] == {"member_staff": 3, "envoy_teams": 3}
    assert facets["region"]["africa"] == 1
    assert facets["region"]["europe"] == 1
    narrowed = await search(client, eu, organisation="au")
    assert (narrowed["total"], narrowed["facets"]["organisation"]) == (2, {"au": 2})


@pytest.mark.parametrize("params", [{}, {"q": "mediation"}], ids=["by-start", "by-relevance"])
async def test_keyset_pages_visit_every_training_once(
    client: AsyncTestClient, au: Caller, params: dict
) -> None:
    for day in range(1, 8):
        await make_training(
            client,
            au,
            title=f"Mediation course {day}",
            start=f"2027-05-0{day}T09:00:00Z",
            end=f"2027-05-0{day}T17:00:00Z",
            application_deadline=None,
        )
    await make_training(
        client,
        au,
        title="Same day course",
        start="2027-05-03T09:00:00Z",
        end="2027-05-03T17:00:00Z",
        application_deadline=None,
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = await search(client, au, limit=3, **params, **({"cursor": cursor} if cursor else {}))
        assert page["total"] == 8
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 8
    if not params:
        everything = await search(client, au)
        starts = [t["start"] for t in everything["items"]]
        assert starts == sorted(starts)
        assert seen == [t["id"] for t in everything["items"]]
