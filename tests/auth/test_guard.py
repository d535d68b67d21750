"""The token guard on /v1: every rejection, scopes, the organisation, revocation, deleted clients."""

from __future__ import annotations

import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from litestar import Litestar
from litestar.testing import AsyncTestClient

from msnet.settings import Settings
from tests.helpers import add_client, bearer, token_for

CLIENTS = "/v1/organisations/au/clients"


@pytest.fixture
async def admin(client: AsyncTestClient, settings: Settings):  # type: ignore[no-untyped-def]
    return await add_client(settings, "au", ["org:admin", "audit:read"])


def _claims(app: Litestar, created, **overrides) -> dict:  # type: ignore[no-untyped-def]
    issuer = app.state.settings.issuer
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": issuer,
        "sub": created.client_id,
        "client_id": created.client_id,
        "org": "au",
        "org_id": "00000000-0000-0000-0000-000000000000",
        "scope": "org:admin",
        "jti": f"forged-{now}",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _kid(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


async def _org_id(client: AsyncTestClient) -> str:
    return (await client.get("/v1/organisations/au")).json()["id"]


def _sign(app: Litestar, claims: dict, *, typ: str = "at+jwt", key=None) -> str:  # type: ignore[no-untyped-def]
    key = key or app.state.key_ring.signing
    return jwt.encode({"alg": "RS256", "typ": typ, "kid": key.kid}, claims, key, algorithms=["RS256"])


async def test_no_token_is_401_with_a_challenge(client: AsyncTestClient, admin) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(CLIENTS)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_node_signed_token_passes(client: AsyncTestClient, app: Litestar, admin) -> None:  # type: ignore[no-untyped-def]
    token = _sign(app, _claims(app, admin, org_id=await _org_id(client)))
    assert (await client.get(CLIENTS, headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    "case",
    [
        "bad signature",
        "alg none",
        "expired",
        "not yet valid",
        "wrong aud",
        "wrong iss",
        "id token typ",
        "no typ",
        "not a bearer",
        "garbage",
    ],
)
async def test_rejected_tokens(client: AsyncTestClient, app: Litestar, admin, case: str) -> None:  # type: ignore[no-untyped-def]
    org_id = await _org_id(client)
    now = int(time.time())
    claims = _claims(app, admin, org_id=org_id)
    if case == "bad signature":
        token = _sign(
            app, claims, key=RSAKey.generate_key(2048, parameters={"kid": app.state.key_ring.signing.kid})
        )
    elif case == "alg none":
        good = _sign(app, claims).split(".")
        token = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + good[1] + "."
    elif case == "expired":
        token = _sign(app, {**claims, "iat": now - 900, "nbf": now - 900, "exp": now - 300})
    elif case == "not yet valid":
        token = _sign(app, {**claims, "nbf": now + 600, "exp": now + 900})
    elif case == "wrong aud":
        token = _sign(app, {**claims, "aud": "https://other-node.example"})
    elif case == "wrong iss":
        token = _sign(app, {**claims, "iss": "https://other-node.example"})
    elif case == "id token typ":
        token = _sign(app, claims, typ="JWT")
    elif case == "no typ":
        key = app.state.key_ring.signing
        token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key, algorithms=["RS256"])
    elif case == "not a bearer":
        response = await client.get(CLIENTS, headers={"Authorization": f"Basic {_sign(app, claims)}"})
        assert response.status_code == 401
        return
    else:
        token = "not.a.jwt"
    response = await client.get(CLIENTS, headers=bearer(token))
    assert response.status_code == 401, case
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_missing_scope_is_403_insufficient_scope(client: AsyncTestClient, settings: Settings) -> None:
    reader = await add_client(settings, "au", ["audit:read"])
    response = await client.get(CLIENTS, headers=bearer(await token_for(client, reader)))
    assert response.status_code == 403
    assert response.json()["type"].endswith("insufficient_scope")
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_another_organisations_clients_are_forbidden(
    client: AsyncTestClient, settings: Settings, admin
) -> None:  # type: ignore[no-untyped-def]
    other = await add_client(settings, "eu", ["org:admin"])
    token = await token_for(client, other)
    assert (await client.get(CLIENTS, headers=bearer(token))).status_code == 403
    created = await client.post(
        CLIENTS, json={"name": "sneaky", "scopes": ["org:admin"]}, headers=bearer(token)
    )
    assert created.status_code == 403
    deleted = await client.delete(f"{CLIENTS}/{admin.client_id}", headers=bearer(token))
    assert deleted.status_code == 403
    mine = await client.get(CLIENTS, headers=bearer(await token_for(client, admin)))
    assert mine.status_code == 200, mine.text
    assert [c["client_id"] for c in mine.json()["items"]] == [admin.client_id]


async def test_a_revoked_token_stops_at_once(client: AsyncTestClient, admin) -> None:  # type: ignore[no-untyped-def]
    token = await token_for(client, admin)
    assert (await client.get(CLIENTS, headers=bearer(token))).status_code == 200
    revoked = await client.post(
        "/oauth/revoke", data={"token": token}, auth=(admin.client_id, admin.client_secret)
    )
    assert revoked.status_code == 200
    assert (await client.get(CLIENTS, headers=bearer(token))).status_code == 401
    introspected = await client.post(
        "/oauth/introspect", data={"token": token}, auth=(admin.client_id, admin.client_secret)
    )
    assert introspected.json() == {"active": False}


async def test_a_deleted_clients_tokens_stop_at_once(
    client: AsyncTestClient, settings: Settings, admin
) -> None:  # type: ignore[no-untyped-def]
    doomed = await add_client(settings, "au", ["audit:read"])
    doomed_token = await token_for(client, doomed)
    admin_headers = bearer(await token_for(client, admin))
    assert (await client.delete(f"{CLIENTS}/{doomed.client_id}", headers=admin_headers)).status_code == 204
    assert (await client.get("/v1/audit", headers=bearer(doomed_token))).status_code == 401
    again = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(doomed.client_id, doomed.client_secret),
    )
    assert again.json()["error"] == "invalid_client"


async def test_introspection(client: AsyncTestClient, settings: Settings, admin) -> None:  # type: ignore[no-untyped-def]
    token = await token_for(client, admin)
    body = (
        await client.post(
            "/oauth/introspect", data={"token": token}, auth=(admin.client_id, admin.client_secret)
        )
    ).json()
    assert body["active"] is True
    assert body["client_id"] == admin.client_id
    assert body["org"] == "au"
    assert set(body["scope"].split()) == {"org:admin", "audit:read"}
    outsider = await add_client(settings, "eu", ["audit:read"])
    theirs = await client.post(
        "/oauth/introspect", data={"token": token}, auth=(outsider.client_id, outsider.client_secret)
    )
    assert theirs.json() == {"active": False}


async def test_another_organisation_cannot_revoke_my_token(
    client: AsyncTestClient,
    settings: Settings,
    admin,  # type: ignore[no-untyped-def]
) -> None:
    token = await token_for(client, admin)
    outsider = await add_client(settings, "eu", ["org:admin"])
    await client.post(
        "/oauth/revoke", data={"token": token}, auth=(outsider.client_id, outsider.client_secret)
    )
    assert (await client.get(CLIENTS, headers=bearer(token))).status_code == 200


async def test_key_rotation_keeps_old_tokens_valid(
    client: AsyncTestClient, app: Litestar, settings: Settings, admin
) -> None:  # type: ignore[no-untyped-def]
    from msnet.auth.keys import create_signing_key
    from msnet.db.runtime import cli_session

    old_token = await token_for(client, admin)
    old_kid = app.state.key_ring.signing.kid
    async with cli_session(settings.database_url) as session:
        new_kid = await create_signing_key(session, settings.secret_key)
    app.state.key_ring.loaded_at -= 3600  # as if the reload interval had passed
    new_token = await token_for(client, admin)
    assert _kid(new_token) == new_kid
    assert _kid(old_token) == old_kid
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} >= {old_kid, new_kid}
    assert app.state.key_ring.signing.kid == new_kid
    for token in (old_token, new_token):
        assert (await client.get(CLIENTS, headers=bearer(token))).status_code == 200
