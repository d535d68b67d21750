"""No input reaches an unhandled exception: every operation of the OpenAPI document, called with
hostile path, query, header and body values, anonymously and with a token holding every scope,
answers something other than 500 (a 4xx problem naming what was wrong, or what it answers anyway)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from msnet.auth.principal import SCOPES
from tests.helpers import MakeCaller

DOCUMENT = json.loads((Path(__file__).parents[1] / "openapi" / "openapi.json").read_text())
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if method in ("get", "post", "put", "patch", "delete")
]

#: Values as they travel in a URL (already percent-encoded where they must be), one of each kind
#: that has broken a parser or a driver somewhere: a path takes them all, a query the first seven.
HOSTILE = {
    "nul-inside": "abc%00def",
    "invalid-utf8": "%FF%FE",
    "lone-surrogate": "%ED%A0%80",
    "long": "a" * 5000,
    "huge-number": "9" * 40,
    "float-overflow": "1e309",
    "bad-date": "2027-02-30",
    "control": "%01%1B%7F",
    "traversal": "..%2F..%2Fetc%2Fpasswd",
    "uuid-like": "00000000-0000-0000-0000-00000000000g",
}
IN_QUERY = dict(list(HOSTILE.items())[:7])

#: Bodies that no JSON handler may choke on.
DEEP = b"[" * 100_000 + b"]" * 100_000
BODIES = {
    "deeply-nested": DEEP,
    "deeply-nested-object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "huge-number": b'{"name": ' + b"9" * 5000 + b"}",
    "nul-in-string": b'{"name": "a\\u0000b", "title": "a\\u0000b"}',
    "lone-surrogate": b'{"name": "\\ud800", "title": "\\udfff"}',
    "not-an-object": b'"just a string"',
    "invalid-utf8": b'{"name": "\xff\xfe"}',
}


def _url(path: str, value: str) -> str:
    return re.sub(r"{\w+}", value or "x", path)


async def _no_500(client: AsyncTestClient, headers: dict[str, str]) -> list[str]:
    failures = []
    some_id = "00000000-0000-0000-0000-000000000000"
    for method, path, operation in OPERATIONS:
        if (await client.request(method, _url(path, some_id), headers=headers)).status_code == 401:
            continue  # refused before anything is read: nothing hostile gets further
        queries = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        calls = [(name, _url(path, value)) for name, value in HOSTILE.items() if "{" in path]
        calls += [
            (name, f"{_url(path, some_id)}?{q}={value}") for q in queries for name, value in IN_QUERY.items()
        ]
        for name, url in calls:
            response = await client.request(method, url, headers=headers)
            if response.status_code >= 500:
                failures.append(f"{method} {url[:120]} ({name}): {response.status_code}")
        if "requestBody" in operation:
            for name, body in BODIES.items():
                response = await client.request(
                    method,
                    _url(path, some_id),
                    content=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
                if response.status_code >= 500:
                    failures.append(f"{method} {path} (body {name}): {response.status_code}")
    return failures


@pytest.mark.undocumented("hostile input: only the absence of a 500 is checked here")
async def test_no_hostile_value_is_a_500_anonymously(client: AsyncTestClient) -> None:
    assert await _no_500(client, {}) == []


@pytest.mark.undocumented("hostile input: only the absence of a 500 is checked here")
async def test_no_hostile_value_is_a_500_with_every_scope(
    client: AsyncTestClient, make_caller: MakeCaller
) -> None:
    caller = await make_caller("au", SCOPES)
    # with If-Match, which changes of versioned records need before their input is read at all
    assert await _no_500(client, {**caller.headers, "If-Match": '"1"'}) == []


@pytest.mark.undocumented("hostile input: only the absence of a 500 is checked here")
@pytest.mark.parametrize(
    "authorization",
    ["Bearer " + "a" * 10_000, "Bearer a.b.c", "Bearer ..", "Basic Og==", "Bearer", "Bearer é".encode()],
)
async def test_no_hostile_credential_is_a_500(client: AsyncTestClient, authorization: str | bytes) -> None:
    for method, path, _ in OPERATIONS:
        response = await client.request(
            method,
            _url(path, "00000000-0000-0000-0000-000000000000"),
            headers={"Authorization": authorization},
        )
        assert response.status_code < 500, f"{method} {path}: {response.status_code}"


@pytest.mark.parametrize("endpoint", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
@pytest.mark.parametrize(
    ("form", "basic"),
    [
        ({"grant_type": "client_credentials", "client_id": "a\x00b"}, None),
        ({"grant_type": "client_credentials", "token": "x\x00y"}, None),
        ({"grant_type": "client_credentials"}, "a\x00b:secret"),
    ],
    ids=["client_id", "token", "basic"],
)
async def test_a_nul_in_an_oauth_request_is_an_invalid_request(
    client: AsyncTestClient, endpoint: str, form: dict[str, str], basic: str | None
) -> None:
    """PostgreSQL can neither store nor compare a NUL character: the OAuth endpoints refuse it before
    they look anything up."""
    headers = {"Authorization": "Basic " + base64.b64encode(basic.encode()).decode()} if basic else {}
    response = await client.post(endpoint, data=form, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
