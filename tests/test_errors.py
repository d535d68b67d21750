"""Bad requests get RFC 9457 problem responses naming every bad field; an unhandled error is a 500
with the request id only."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from litestar import Litestar, post
from litestar.params import JSONBody, QueryParameter
from litestar.testing import AsyncTestClient

from msnet.api import Struct
from msnet.app import create_app
from msnet.settings import Settings
from tests.helpers import MakeCaller

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


async def test_every_bad_query_parameter_is_named(client: AsyncTestClient) -> None:
    """``kind`` and ``start_from`` are read by the search's filter dependency, ``limit`` by the
    handler itself: Litestar stops at the first of the two, the problem names all three."""
    response = await client.get("/v1/trainings", params={"kind": "nope", "start_from": "soon", "limit": 5000})
    assert response.status_code == 422
    body = response.json()
    assert {e["field"] for e in body["errors"]} == {"kind", "start_from", "limit"}
    first = body["errors"][0]
    assert body["detail"].startswith(f"{first['field']}: {first['message']}")


async def test_a_body_with_missing_and_bad_fields_names_every_one_and_writes_nothing(
    client: AsyncTestClient, make_caller: MakeCaller
) -> None:
    au = await make_caller("au", ["requests:read", "requests:write"])
    body = {
        "title": 5,
        "service_types": ["process_design"],
        "period": {"start": "soon", "end": "2027-06-30"},
    }
    response = await client.post("/v1/requests", json=body, headers=au.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert errors.keys() == {"process_id", "office_id", "mandate", "title", "period.start"}
    assert "missing" in errors["mandate"]
    assert "str" in errors["title"]
    listed = await client.get("/v1/requests", headers=au.headers)
    assert listed.status_code == 200
    assert listed.json()["items"] == []


class Span(Struct):
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("end is before start")


class Echo(Struct):
    name: str
    count: int = 0
    span: Span | None = None
    spans: Annotated[list[Span], msgspec.Meta(max_length=2)] = []


class Boom(RuntimeError):
    pass


@post("/echo", sync_to_thread=False)
def echo(data: JSONBody[Echo], copies: Annotated[int, QueryParameter(ge=1, le=5)] = 1) -> Echo:
    return data


@post("/boom", sync_to_thread=False)
def boom(data: JSONBody[Echo]) -> Echo:
    raise Boom("secret internal detail: password=hunter2")


@pytest.fixture
async def body_client(settings: Settings) -> AsyncTestClient:
    """The app with two extra handlers that take a JSON body: /echo, whose body has every shape an
    error's path names in one struct (a nested struct with its own check, a list of them with a
    length limit), and /boom, which fails as no endpoint of msnet may."""
    app: Litestar = create_app(settings)
    app.register(echo)
    app.register(boom)
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def test_a_valid_body_passes(body_client: AsyncTestClient) -> None:
    body = {"name": "x", "count": 2, "span": {"start": 1, "end": 2}, "spans": [{"start": 3, "end": 3}]}
    response = await body_client.post("/echo", json=body, params={"copies": 2})
    assert response.status_code == 201
    assert response.json() == body


async def test_a_json_value_of_another_json_type_is_refused(body_client: AsyncTestClient) -> None:
    """JSON has numbers: a number sent as a string is a mistake the API names, not one it guesses
    around (as it must for the query string, which is all text)."""
    body = {"name": "x", "count": "2", "span": {"start": "1", "end": 2}, "spans": []}
    response = await body_client.post("/echo", json=body, params={"copies": "2"})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["count", "span.start"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"span": {"start": 1}}, ["name", "span.end"]),
        ({"name": "x", "spans": [{"start": 1, "end": 2}, {"start": "one", "end": 2}]}, ["spans.1.start"]),
        (
            {"name": "x", "spans": [{"start": 1, "end": 2}, {"end": 2}, {"start": 1, "end": []}]},
            ["spans", "spans.1.start", "spans.2.end"],
        ),
        ({"name": 3, "count": "many", "span": {"start": 2, "end": 1}}, ["name", "count", "span"]),
        (
            {"name": "x", "spans": [{"start": 2, "end": 1}, {"start": 1, "end": 1, "colour": "red"}]},
            ["spans.0", "spans.1.colour"],
        ),
        ([], ["body"]),
    ],
)
async def test_every_error_of_a_body_is_named_with_its_path(
    body_client: AsyncTestClient, body: object, fields: list[str]
) -> None:
    """Nested fields and list items by their dotted path; a struct's own check (``end`` before
    ``start``) beside the errors of other fields; a list too long beside its bad items."""
    response = await body_client.post("/echo", json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == fields


async def test_bad_query_parameters_and_a_bad_body_are_named_together(body_client: AsyncTestClient) -> None:
    response = await body_client.post("/echo", json={"count": "many"}, params={"copies": 9})
    assert response.status_code == 422
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["copies", "name", "count"]
    assert body["detail"] == "copies: Expected `int` <= 5 (and 2 more, in errors)"
    assert {e["message"] for e in body["errors"]} >= {"Object missing required field `name`"}


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
