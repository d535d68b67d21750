"""Bad requests get RFC 9457 problem responses; an unhandled error is a 500 with the request id only."""

from __future__ import annotations

import msgspec
import pytest
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from msnet.api import Struct
from msnet.app import create_app
from msnet.settings import Settings

PROBLEM = "application/problem+json"


@pytest.mark.undocumented("a path the API does not have, on purpose")
async def test_unknown_route_is_a_404_problem(client: AsyncTestClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404
    assert body["instance"] == "/v1/nothing-here"
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.undocumented("a method the path does not take, on purpose")
async def test_wrong_method_is_a_405_problem(client: AsyncTestClient) -> None:
    response = await client.delete("/v1/organisations")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


async def test_query_out_of_range_is_a_422_naming_the_field(client: AsyncTestClient) -> None:
    response = await client.get("/v1/organisations", params={"limit": 5000})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["limit"]


async def test_tampered_cursor_is_a_422_naming_the_field(client: AsyncTestClient) -> None:
    response = await client.get("/v1/organisations", params={"cursor": "not-a-cursor"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "cursor", "message": "is not a cursor this API gave out"}]


class Echo(Struct):
    name: str
    count: int = 0


class Boom(RuntimeError):
    pass


@post("/echo", sync_to_thread=False)
def echo(data: JSONBody[Echo]) -> Echo:
    return data


@post("/boom", sync_to_thread=False)
def boom(data: JSONBody[Echo]) -> Echo:
    raise Boom("secret internal detail: password=hunter2")


@pytest.fixture
async def body_client(settings: Settings) -> AsyncTestClient:
    """The app with two extra handlers that take a JSON body (no business endpoint takes one yet)."""
    app: Litestar = create_app(settings)
    app.register(echo)
    app.register(boom)
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def test_a_valid_body_passes(body_client: AsyncTestClient) -> None:
    response = await body_client.post("/echo", json={"name": "x", "count": 2})
    assert response.status_code == 201
    assert response.json() == {"name": "x", "count": 2}


async def test_malformed_json_is_a_400(body_client: AsyncTestClient) -> None:
    response = await body_client.post(
        "/echo", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["title"] == "Malformed request body"


async def test_unknown_field_is_a_422_naming_it(body_client: AsyncTestClient) -> None:
    response = await body_client.post("/echo", json={"name": "x", "colour": "red"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "colour"


async def test_wrong_type_is_a_422_naming_the_field(body_client: AsyncTestClient) -> None:
    response = await body_client.post("/echo", json={"name": "x", "count": "many"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "count"


async def test_wrong_content_type_is_a_415(body_client: AsyncTestClient) -> None:
    response = await body_client.post("/echo", content=b"name=x", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM


async def test_oversized_body_is_a_413(body_client: AsyncTestClient, settings: Settings) -> None:
    big = msgspec.json.encode({"name": "x" * (settings.max_body_bytes + 10)})
    response = await body_client.post("/echo", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_unhandled_error_is_a_500_with_the_request_id_and_nothing_internal(
    body_client: AsyncTestClient,
) -> None:
    response = await body_client.post("/boom", json={"name": "x"}, headers={"x-request-id": "trace-42"})
    assert response.status_code == 500
    body = response.json()
    assert body == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "instance": "/boom",
        "request_id": "trace-42",
    }
    assert "hunter2" not in response.text


async def test_nul_characters_are_refused_by_name(body_client: AsyncTestClient) -> None:
    query = await body_client.get("/v1/organisations", params={"kind": "\x00"})
    assert query.status_code == 422
    assert query.json()["errors"][0]["field"] == "kind"
    body = await body_client.post(
        "/echo", content=b'{"name": "a\\u0000b"}', headers={"content-type": "application/json"}
    )
    assert body.status_code == 422
    assert body.json()["errors"][0]["field"] == "body"
