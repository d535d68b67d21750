"""Lessons: the after-action notes of requests closed through the API, visible to whoever may read
the request, searchable; and the same lifecycle reaching the track record through the triggers and
one run of the reports.refresh job."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from tests.helpers import Caller, MakeCaller, assert_every_case
from tests.requests.conftest import make_office, make_process, post, request_body

from msnet.jobs import reports, runner
from msnet.middleware import Metrics
from msnet.settings import Settings

SCOPES = ["requests:read", "requests:write", "directory:write"]
LANGUAGES = "Agree the working languages with the parties before the first session."
ROADS = "Ask earlier: the rainy season closes the roads to the north."


async def lessons(client: AsyncTestClient, who: Caller, **params: Any) -> list[str]:
    response = await client.get("/v1/lessons", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return [item["lesson"] for item in body["items"]]


async def _asked(
    client: AsyncTestClient, au: Caller, process: str, office: str, to: str, **fields: Any
) -> str:
    request = await post(client, au, "/v1/requests", request_body(process, office, addressees=[to], **fields))
    await post(client, au, f"/v1/requests/{request['id']}/submit", status=200)
    return request["id"]


async def _offered_and_accepted(
    client: AsyncTestClient, au: Caller, eu: Caller, request_id: str, office: str
) -> None:
    offer = await post(
        client, eu, f"/v1/requests/{request_id}/responses", {"office_id": office, "kind": "offer"}
    )
    await post(client, au, f"/v1/requests/{request_id}/responses/{offer['id']}/accept", status=200)


async def test_lessons_follow_the_requests_sharing_and_the_figures_follow_the_lifecycle(
    client: AsyncTestClient,
    make_caller: MakeCaller,
    settings: Settings,
    sessionmaker: async_sessionmaker,
    owner_conn: asyncpg.Connection,
) -> None:
    au, eu, igad = [await make_caller(slug, SCOPES) for slug in ("au", "eu", "igad")]
    au_office, eu_office, igad_office = [(await make_office(client, c))["id"] for c in (au, eu, igad)]
    process = (await make_process(client, au))["id"]

    delivered = await _asked(client, au, process, au_office, eu_office)
    await _offered_and_accepted(client, au, eu, delivered, eu_office)
    await post(
        client,
        au,
        f"/v1/requests/{delivered}/close",
        {"delivered": True, "modality": "remote", "note": LANGUAGES},
        status=200,
    )
    declined = await _asked(client, au, process, au_office, igad_office, themes=["gender_inclusion"])
    await post(
        client,
        igad,
        f"/v1/requests/{declined}/responses",
        {"office_id": igad_office, "kind": "decline", "reason": "no francophone adviser free"},
    )
    await post(
        client,
        au,
        f"/v1/requests/{declined}/close",
        {"delivered": False, "reason": "every office declined", "note": ROADS},
        status=200,
    )
    silent = await _asked(client, au, process, au_office, eu_office)
    await _offered_and_accepted(client, au, eu, silent, eu_office)
    await post(
        client, au, f"/v1/requests/{silent}/close", {"delivered": True, "modality": "both"}, status=200
    )

    assert await lessons(client, au) == [ROADS, LANGUAGES]  # most recently closed first; no empty note
    assert await lessons(client, eu) == [LANGUAGES]  # EU was asked for the first only
    assert await lessons(client, igad) == [ROADS]
    assert await lessons(client, au, q="languages parties") == [LANGUAGES]
    assert await lessons(client, au, q="saison des pluies") == []
    assert await lessons(client, au, theme="gender_inclusion") == [ROADS]
    assert await lessons(client, au, region="middle_africa", process_id=process) == [ROADS, LANGUAGES]
    assert await lessons(client, au, region="eastern_africa") == []
    first = (await client.get("/v1/lessons", params={"limit": 1}, headers=au.headers)).json()
    assert (first["total"], [i["lesson"] for i in first["items"]]) == (2, [ROADS])
    item = first["items"][0]
    assert (item["delivered"], item["reason"], item["organisation"], item["themes"]) == (
        False,
        "every office declined",
        "au",
        ["gender_inclusion"],
    )
    rest = await client.get(
        "/v1/lessons", params={"limit": 1, "cursor": first["next_cursor"]}, headers=au.headers
    )
    assert ([i["lesson"] for i in rest.json()["items"]], rest.json()["next_cursor"]) == ([LANGUAGES], None)

    async def bad(params: dict[str, str], fields: list[str]) -> None:
        response = await client.get("/v1/lessons", params=params, headers=au.headers)
        assert response.status_code == 422, response.text
        assert sorted(e["field"] for e in response.json()["errors"]) == sorted(fields)

    await assert_every_case(
        [
            (
                "all at once",
                {
                    "theme": "cooking",
                    "region": "atlantis",
                    "process_id": igad_office,
                    "cursor": "bm90IGEgY3Vyc29y",
                },
                ["cursor", "process_id", "region", "theme"],
            ),
        ],
        bad,
    )

    # the lifecycle's triggers marked the requests; one run of the job brings them into the figures
    assert await owner_conn.fetchval("SELECT count(*) FROM report_dirty") == 3
    before = (await client.get("/v1/reports/track-record", headers=au.headers)).json()["total"]["asked"]
    assert before["requests"] == 0  # answered (and kept) before the refresh
    stop = asyncio.Event()
    job = asyncio.create_task(reports.Refresh().run(runner.Context(sessionmaker, settings, Metrics()), stop))
    for _ in range(200):
        if not await owner_conn.fetchval("SELECT count(*) FROM report_dirty"):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await job
    figures = (await client.get("/v1/reports/track-record", headers=au.headers)).json()["total"]["asked"]
    assert {k: figures[k] for k in ("requests", "offers", "offers_accepted", "declines")} == {
        "requests": 3,
        "offers": 2,
        "offers_accepted": 2,
        "declines": 1,
    }
    assert (figures["delivered"], figures["not_delivered"], figures["not_delivered_reasons"]) == (
        2,
        1,
        ["every office declined"],
    )
    assert figures["first_response_hours"]["median"] is not None
    eu_received = (await client.get("/v1/reports/track-record", headers=eu.headers)).json()["total"][
        "received"
    ]
    assert (eu_received["requests"], eu_received["offers_accepted"], eu_received["delivered"]) == (2, 2, 2)
