"""A cursor the API did not give out is a 400 or 422 problem naming it, on every list (issue #17, point
10), never a 500 nor a page; and an instant, in a query or a body, is RFC 3339 with a zone, nothing
else."""

from __future__ import annotations

import base64
import re
import uuid

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from msnet.api import encode_cursor
from msnet.auth.principal import SCOPES
from tests.helpers import MakeCaller
from tests.training.conftest import training_body


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_CURSORS = {
    "not base64": "!!not-base64!!",
    "not JSON": _b64(b"\xff\xfe\x00garbage"),
    "not a list": _b64(b'{"a": 1}'),
    "empty list": encode_cursor(),
    "one number": encode_cursor(7),
    "too many values": encode_cursor("a", "b", "c", "d"),
    "rank and no uuid": encode_cursor(0.5, "not-a-uuid"),
    "uuid as a number": encode_cursor(12345),
    "an instant without a zone": encode_cursor("2027-01-01T00:00:00", str(uuid.uuid4())),
    "an instant of another calendar": encode_cursor("2027-13-45T99:00:00Z", str(uuid.uuid4())),
    "a huge number": _b64(b"[" + str(2**80).encode() + b"]"),
    "nested deep": _b64(b"[" * 5000 + b"]" * 5000),
    "null": _b64(b"[null]"),
}


def _list_paths(app: Litestar) -> list[tuple[str, bool]]:
    """Every GET path of /v1 that takes a cursor, with its path parameters filled; and whether one
    names a record (a made-up id: 404 is a fair answer too)."""
    paths = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/v1/"):
            continue
        handler = route.route_handler_map.get("GET")
        if handler is None or "cursor" not in handler[0].parsed_fn_signature.parameters:
            continue
        path = re.sub(r"\{slug:str\}", "au", route.path)
        paths.append((re.sub(r"\{[a-z_]+:[a-z]+\}", str(uuid.uuid4()), path), "{" in path))
    return sorted(paths)


async def test_every_list_refuses_a_cursor_it_did_not_give_out(
    app: Litestar, client: AsyncTestClient, make_caller: MakeCaller
) -> None:
    caller = await make_caller("au", SCOPES)
    paths = _list_paths(app)
    assert len(paths) >= 12, paths  # the lists are found
    failures = []
    for path, names_a_record in paths:
        for case, cursor in BAD_CURSORS.items():
            if path == "/v1/audit" and case in ("one number", "uuid as a number"):
                continue  # the audit log's cursor is an entry's number: 7 is one
            response = await client.get(path, params={"cursor": cursor}, headers=caller.headers)
            if response.status_code not in (400, 422, *((404,) if names_a_record else ())):
                failures.append((path, case, response.status_code, response.text[:100]))
            elif response.status_code == 422:
                assert [e["field"] for e in response.json()["errors"]] == ["cursor"], (path, case)
    assert failures == [], "\n".join(map(str, failures))


@pytest.mark.parametrize(
    "value",
    ["1700000000", "1700000000.5", "2027-01-01", "2027-01-01T00:00:00", "01/02/2027", "tomorrow"],
)
async def test_an_instant_in_a_query_is_rfc3339_with_a_zone(
    client: AsyncTestClient, make_caller: MakeCaller, value: str
) -> None:
    caller = await make_caller("au", ["audit:read"])
    response = await client.get("/v1/audit", params={"since": value}, headers=caller.headers)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["since"]
    fine = await client.get(
        "/v1/audit", params={"since": "2027-01-01T00:00:00+02:00", "until": "2027-01-02 00:00:00Z"},
        headers=caller.headers,
    )  # fmt: skip
    assert fine.status_code == 200, fine.text


@pytest.mark.parametrize(
    "value",
    [
        "2027-03-08",
        "2027-03-08T09:00:00",
        "08/03/2027",
        "2027-03-08T09:00:00+25:00",
        1804140000,
        1804140000.5,
    ],
)
async def test_an_instant_in_a_body_is_rfc3339_with_a_zone(
    client: AsyncTestClient, make_caller: MakeCaller, value: object
) -> None:
    caller = await make_caller("au", ["training:write", "training:read"])
    response = await client.post("/v1/trainings", json=training_body(start=value), headers=caller.headers)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["start"]
    listed = await client.get("/v1/trainings", headers=caller.headers)
    assert listed.json()["total"] == 0  # nothing written
