"""Two writers racing on one record get what the API promises (a success and a 404, 409 or 412),
never a 500: each write endpoint against itself and against a delete, over real HTTP, at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from msnet.settings import Settings
from tests.helpers import add_client, bearer, token_for
from tests.roster.conftest import expert_body
from tests.training.conftest import publication_body, training_body

ALLOWED = {200, 201, 204, 404, 409, 412}
Make = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[str]]


async def _made(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    path: str,
    body: dict[str, Any],
    under: str | None = None,
) -> str:
    """The URL of a record created by POSTing ``body`` to ``path``; it lives under ``path`` unless
    ``under`` says where."""
    response = await http.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return f"{under or path}/{response.json()['id']}"


async def _race(calls: dict[str, Callable[[], Awaitable[httpx.Response]]], pair: str) -> list[int]:
    """The two calls ``pair`` names (``"delete+update"``) made at once: their statuses, in order,
    none of them one the API does not promise."""
    first, second = pair.split("+")
    answers = await asyncio.gather(calls[first](), calls[second]())
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= ALLOWED, [a.text for a in answers]
    return statuses


async def _office(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return await _made(http, headers, "/v1/offices", {"name": "Mediation Support Unit"})


async def _capacity(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    office = await _office(http, headers)
    return await _made(
        http, headers, f"{office}/capacities", {"service_type": "process_design"}, under="/v1/capacities"
    )


async def _expert(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return await _made(http, headers, "/v1/experts", expert_body())


async def _training(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return await _made(http, headers, "/v1/trainings", training_body())


async def _publication(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return await _made(http, headers, "/v1/publications", publication_body())


RECORDS: dict[str, tuple[Make, dict[str, Any]]] = {
    "office": (_office, {"name": "Renamed unit"}),
    "capacity": (_capacity, {"lead_time_days": 3}),
    "expert": (_expert, {"bio": "Changed."}),
    "training": (_training, {"title": "Changed course"}),
    "publication": (_publication, {"title": "Changed guidance"}),
}
SCOPES = [
    "directory:write",
    "directory:read",
    "roster:write",
    "roster:read",
    "training:write",
    "training:read",
]


@pytest.mark.parametrize("kind", list(RECORDS))
@pytest.mark.parametrize("pair", ["delete+delete", "delete+update", "update+update"])
async def test_racing_writers_get_what_the_api_promises(
    live_server: str, settings: Settings, kind: str, pair: str
) -> None:
    created = await add_client(settings, "au", SCOPES)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        headers = bearer(await token_for(http, created))
        make, change = RECORDS[kind]
        for _ in range(3):  # a race is a matter of timing: run it a few times
            url = await make(http, headers)
            calls = {
                "delete": lambda url=url: http.delete(url, headers={**headers, "If-Match": '"1"'}),
                "update": lambda url=url: http.patch(
                    url, json=change, headers={**headers, "If-Match": '"1"'}
                ),
            }
            statuses = await _race(calls, pair)
            assert sum(s < 300 for s in statuses) == 1, statuses  # exactly one of them wins


@pytest.mark.parametrize("pair", ["delete+delete", "delete+rotate", "rotate+rotate"])
async def test_racing_writers_on_a_client_get_what_the_api_promises(
    live_server: str, settings: Settings, pair: str
) -> None:
    admin = await add_client(settings, "au", ["org:admin"])
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        headers = bearer(await token_for(http, admin))
        for _ in range(3):
            made = await http.post(
                "/v1/organisations/au/clients",
                json={"name": "partner system", "scopes": ["roster:read"]},
                headers=headers,
            )
            assert made.status_code == 201, made.text
            url = f"/v1/organisations/au/clients/{made.json()['client_id']}"
            calls = {
                "delete": lambda url=url: http.delete(url, headers=headers),
                "rotate": lambda url=url: http.post(f"{url}/secret", headers=headers),
            }
            statuses = await _race(calls, pair)
            # a rotation and a delete may both succeed, one after the other (rotate first); two
            # deletes never
            if pair == "delete+delete":
                assert sum(s < 300 for s in statuses) == 1, statuses


async def test_racing_deletes_of_a_webhook_get_what_the_api_promises(
    live_server: str, settings: Settings
) -> None:
    created = await add_client(settings, "au", ["org:admin"])
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        headers = bearer(await token_for(http, created))
        for _ in range(3):
            made = await http.post(
                "/v1/webhooks",
                json={"url": "https://partner.example.org/hooks", "event_types": ["request.received"]},
                headers=headers,
            )
            assert made.status_code == 201, made.text
            url = f"/v1/webhooks/{made.json()['id']}"
            statuses = await _race(
                {"delete": lambda url=url: http.delete(url, headers=headers)}, "delete+delete"
            )
            assert statuses == [204, 404]
