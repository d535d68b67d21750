"""/v1/organisations/{slug}/clients: create (secret or keys), list, rotate, delete; bad input; other
organisations. What the API says is checked against the rows the database holds."""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

import asyncpg
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from litestar.testing import AsyncTestClient

from msnet.api import encode_cursor
from msnet.settings import Settings
from tests.conftest import TEST_ISSUER
from tests.helpers import add_client, bearer, clients_as_owner, token_for

CLIENTS = "/v1/organisations/au/clients"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture
async def admin(client: AsyncTestClient, settings: Settings):  # type: ignore[no-untyped-def]
    return await add_client(settings, "au", ["org:admin"])


@pytest.fixture
async def headers(client: AsyncTestClient, admin) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return bearer(await token_for(client, admin))


@pytest.fixture
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, auto_kid=True)


async def _token(client: AsyncTestClient, client_id: str, secret: str) -> Any:
    return await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


async def _create(client: AsyncTestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(
        CLIENTS,
        json={"name": "Case management system", "scopes": ["directory:read"], **body},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _list_ids(client: AsyncTestClient, headers: dict[str, str]) -> list[str]:
    response = await client.get(CLIENTS, headers=headers, params={"limit": 200})
    assert response.status_code == 200, response.text
    return [c["client_id"] for c in response.json()["items"]]


# --- create, list --------------------------------------------------------------------------------


async def test_create_with_a_generated_secret(
    client: AsyncTestClient, admin, headers: dict[str, str], owner_conn: asyncpg.Connection
) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        CLIENTS,
        json={"name": "Case management system", "scopes": ["roster:read", "directory:read", "roster:read"]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    secret = body["client_secret"]
    assert secret.startswith("mss_")
    assert len(secret) >= 4 + 40  # 256 random bits, URL-safe base64
    assert body["client_id"].startswith("au.")
    assert body["client_id"] != admin.client_id
    assert body["organisation"] == "au"
    assert body["name"] == "Case management system"
    assert body["scopes"] == ["directory:read", "roster:read"]
    assert body["auth_method"] == "client_secret_basic"
    assert body["created_by"] == f"client:{admin.client_id}"

    row = (await clients_as_owner(owner_conn))[body["client_id"]]
    assert row["secret_hash"]
    assert row["secret_hash"] != secret
    assert secret not in row["secret_hash"]
    assert secret[4:] not in str(row)  # not stored anywhere in the row, in any form we can see
    assert HEX64.match(row["secret_hash"])
    assert row["jwks"] is None
    assert sorted(row["scopes"]) == ["directory:read", "roster:read"]

    token = await _token(client, body["client_id"], secret)
    assert token.status_code == 200, token.text
    assert set(token.json()["scope"].split()) == {"directory:read", "roster:read"}


async def test_the_list_shows_clients_without_secrets(
    client: AsyncTestClient, admin, headers: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    created = await _create(client, headers)
    response = await client.get(CLIENTS, headers=headers)
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 2
    assert page["next_cursor"] is None
    listed = {c["client_id"]: c for c in page["items"]}
    assert set(listed) == {admin.client_id, created["client_id"]}
    assert listed[created["client_id"]] == {k: v for k, v in created.items() if k != "client_secret"}
    for item in page["items"]:
        assert not any("secret" in key for key in item)
    assert created["client_secret"] not in response.text
    assert admin.client_secret not in response.text


async def test_create_with_a_public_jwks(
    client: AsyncTestClient, headers: dict[str, str], owner_conn: asyncpg.Connection, rsa_key: RSAKey
) -> None:
    jwks = {"keys": [rsa_key.as_dict(private=False)]}
    body = await _create(client, headers, name="Roster system", scopes=["roster:read"], jwks=jwks)
    assert body.get("client_secret") is None
    assert body["auth_method"] == "private_key_jwt"
    row = (await clients_as_owner(owner_conn))[body["client_id"]]
    assert row["secret_hash"] is None
    assert json.loads(row["jwks"]) == jwks  # asyncpg gives jsonb as text

    now = int(time.time())
    claims = {
        "iss": body["client_id"],
        "sub": body["client_id"],
        "aud": TEST_ISSUER,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_hex(8),
    }
    assertion = jwt.encode({"alg": "RS256", "kid": rsa_key.kid}, claims, rsa_key, algorithms=["RS256"])
    token = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "roster:read"

    rotated = await client.post(f"{CLIENTS}/{body['client_id']}/secret", headers=headers)
    assert rotated.status_code == 422
    assert [e["field"] for e in rotated.json()["errors"]] == ["client_id"]
    assert (await clients_as_owner(owner_conn))[body["client_id"]] == row


# --- rotate, delete ------------------------------------------------------------------------------


async def test_rotating_the_secret_retires_the_old_one(
    client: AsyncTestClient, headers: dict[str, str], owner_conn: asyncpg.Connection
) -> None:
    created = await _create(client, headers)
    old = created["client_secret"]
    assert (await _token(client, created["client_id"], old)).status_code == 200
    before = (await clients_as_owner(owner_conn))[created["client_id"]]
    assert before["secret_rotated_at"] is None

    response = await client.post(f"{CLIENTS}/{created['client_id']}/secret", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    new = body["client_secret"]
    assert new.startswith("mss_")
    assert new != old
    assert body["client_id"] == created["client_id"]
    assert body["auth_method"] == "client_secret_basic"

    after = (await clients_as_owner(owner_conn))[created["client_id"]]
    assert after["secret_hash"] != before["secret_hash"]
    assert new not in after["secret_hash"]
    assert after["secret_rotated_at"] is not None

    refused = await _token(client, created["client_id"], old)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert (await _token(client, created["client_id"], new)).status_code == 200


async def test_delete_removes_the_client(
    client: AsyncTestClient, admin, headers: dict[str, str], owner_conn: asyncpg.Connection
) -> None:  # type: ignore[no-untyped-def]
    created = await _create(client, headers)
    assert set(await _list_ids(client, headers)) == {admin.client_id, created["client_id"]}
    response = await client.delete(f"{CLIENTS}/{created['client_id']}", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert await _list_ids(client, headers) == [admin.client_id]
    assert created["client_id"] not in await clients_as_owner(owner_conn)
    assert (await _token(client, created["client_id"], created["client_secret"])).status_code == 401
    again = await client.delete(f"{CLIENTS}/{created['client_id']}", headers=headers)
    assert again.status_code == 404


@pytest.mark.parametrize("method", ["delete", "rotate"])
async def test_an_unknown_client_is_404(
    client: AsyncTestClient,
    settings: Settings,
    headers: dict[str, str],
    owner_conn: asyncpg.Connection,
    method: str,
) -> None:
    """Unknown, and another organisation's client named under one's own organisation, alike."""
    theirs = await add_client(settings, "eu", ["directory:read"])
    before = await clients_as_owner(owner_conn)
    for client_id in ("au.nobody", "nobody", theirs.client_id):
        if method == "delete":
            response = await client.delete(f"{CLIENTS}/{client_id}", headers=headers)
        else:
            response = await client.post(f"{CLIENTS}/{client_id}/secret", headers=headers)
        assert response.status_code == 404, (client_id, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert await clients_as_owner(owner_conn) == before
    assert (await _token(client, theirs.client_id, theirs.client_secret)).status_code == 200


# --- pagination ----------------------------------------------------------------------------------


async def test_keyset_pagination_visits_every_client_once(
    client: AsyncTestClient, admin, headers: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    made = {admin.client_id} | {
        (await _create(client, headers, name=f"system {n}"))["client_id"] for n in range(5)
    }
    seen: list[str] = []
    cursor = None
    for _ in range(len(made) + 1):
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        response = await client.get(CLIENTS, headers=headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == len(made)
        assert len(page["items"]) == 1
        seen.append(page["items"][0]["client_id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert len(seen) == len(set(seen)) == len(made)
    assert set(seen) == made
    assert seen == await _list_ids(client, headers)  # the same order as one page


TAMPERED = {
    "not base64": "not-a-cursor!",
    "two values": encode_cursor("a", "b"),
    "a number": encode_cursor(5),
    "null": encode_cursor(None),
    "an object": encode_cursor({"a": 1}),
}


@pytest.mark.parametrize("cursor", list(TAMPERED.values()), ids=list(TAMPERED))
async def test_a_tampered_cursor_is_422(
    client: AsyncTestClient, headers: dict[str, str], cursor: str
) -> None:
    response = await client.get(CLIENTS, headers=headers, params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["cursor"]


# --- bad input -----------------------------------------------------------------------------------

PRIVATE = RSAKey.generate_key(2048, auto_kid=True)


@pytest.mark.parametrize(
    ("case", "body", "field"),
    [
        ("unknown scope", {"name": "A system", "scopes": ["directory:read", "everything"]}, "scopes.1"),
        ("unknown field", {"name": "A system", "scopes": ["directory:read"], "admin": True}, "admin"),
        ("empty scopes", {"name": "A system", "scopes": []}, "scopes"),
        ("no scopes", {"name": "A system"}, "scopes"),
        ("name too short", {"name": "A", "scopes": ["directory:read"]}, "name"),
        ("name too long", {"name": "A" * 201, "scopes": ["directory:read"]}, "name"),
        (
            "a private key",
            {
                "name": "A system",
                "scopes": ["directory:read"],
                "jwks": {"keys": [PRIVATE.as_dict(private=True)]},
            },
            "jwks",
        ),
        (
            "a single key, not a set",
            {"name": "A system", "scopes": ["directory:read"], "jwks": PRIVATE.as_dict(private=False)},
            "jwks",
        ),
        (
            "keys not a list",
            {"name": "A system", "scopes": ["directory:read"], "jwks": {"keys": "none"}},
            "jwks",
        ),
        (
            "a symmetric key",
            {
                "name": "A system",
                "scopes": ["directory:read"],
                "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
            },
            "jwks",
        ),
        (
            "an empty key set",
            {"name": "A system", "scopes": ["directory:read"], "jwks": {"keys": []}},
            "jwks",
        ),
        ("jwks not an object", {"name": "A system", "scopes": ["directory:read"], "jwks": "keys"}, "jwks"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    client: AsyncTestClient,
    headers: dict[str, str],
    owner_conn: asyncpg.Connection,
    case: str,
    body: dict[str, Any],
    field: str,
) -> None:
    before = await clients_as_owner(owner_conn)
    response = await client.post(CLIENTS, json=body, headers=headers)
    assert response.status_code == 422, (case, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == [field], case
    assert problem["detail"].startswith(f"{field}: ")
    assert await clients_as_owner(owner_conn) == before


@pytest.mark.parametrize(
    ("case", "content", "content_type", "status"),
    [
        ("malformed JSON", b'{"name": "A system", "scopes": [', "application/json", 400),
        ("not JSON at all", b"name=A+system&scopes=directory:read", "application/json", 400),
        ("a form", b"name=A+system&scopes=directory:read", "application/x-www-form-urlencoded", 415),
        ("text", b'{"name": "A system", "scopes": ["directory:read"]}', "text/plain", 415),
        ("no content type", b'{"name": "A system", "scopes": ["directory:read"]}', None, 415),
    ],
)
async def test_a_body_that_is_not_json_writes_nothing(
    client: AsyncTestClient,
    headers: dict[str, str],
    owner_conn: asyncpg.Connection,
    case: str,
    content: bytes,
    content_type: str | None,
    status: int,
) -> None:
    before = await clients_as_owner(owner_conn)
    sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
    response = await client.post(CLIENTS, content=content, headers=sent)
    assert response.status_code == status, (case, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert await clients_as_owner(owner_conn) == before


# --- other organisations -------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["list", "create", "rotate", "delete"])
async def test_another_organisations_admin_is_403_and_changes_nothing(
    client: AsyncTestClient,
    settings: Settings,
    admin,  # type: ignore[no-untyped-def]
    owner_conn: asyncpg.Connection,
    action: str,
) -> None:
    outsider = await add_client(settings, "eu", ["org:admin", "audit:read"])
    their_headers = bearer(await token_for(client, outsider))
    before = await clients_as_owner(owner_conn)
    if action == "list":
        response = await client.get(CLIENTS, headers=their_headers)
    elif action == "create":
        response = await client.post(
            CLIENTS, json={"name": "Sneaky", "scopes": ["org:admin"]}, headers=their_headers
        )
    elif action == "rotate":
        response = await client.post(f"{CLIENTS}/{admin.client_id}/secret", headers=their_headers)
    else:
        response = await client.delete(f"{CLIENTS}/{admin.client_id}", headers=their_headers)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "items" not in response.json()
    assert await clients_as_owner(owner_conn) == before
    assert (await _token(client, admin.client_id, admin.client_secret)).status_code == 200


@pytest.mark.parametrize("action", ["list", "create", "rotate", "delete"])
async def test_without_org_admin_is_403_and_without_a_token_401(
    client: AsyncTestClient,
    settings: Settings,
    admin,  # type: ignore[no-untyped-def]
    owner_conn: asyncpg.Connection,
    action: str,
) -> None:
    reader = await add_client(settings, "au", ["directory:read", "directory:write", "audit:read"])
    reader_headers = bearer(await token_for(client, reader))
    before = await clients_as_owner(owner_conn)
    for sent, status in ((reader_headers, 403), ({}, 401)):
        if action == "list":
            response = await client.get(CLIENTS, headers=sent)
        elif action == "create":
            response = await client.post(
                CLIENTS, json={"name": "Mine", "scopes": ["org:admin"]}, headers=sent
            )
        elif action == "rotate":
            response = await client.post(f"{CLIENTS}/{admin.client_id}/secret", headers=sent)
        else:
            response = await client.delete(f"{CLIENTS}/{admin.client_id}", headers=sent)
        assert response.status_code == status, (sent, response.text)
    assert await clients_as_owner(owner_conn) == before
