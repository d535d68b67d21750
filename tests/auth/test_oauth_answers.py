"""What the token endpoint answers when a request is wrong (issues #17, point 10, and #18): one
client authentication method a request, one answer for every failed client authentication, after the
same work, invalid_scope for a scope the client does not hold, and RSA client keys of 2048 bits."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey
from litestar.testing import AsyncTestClient

import msnet.auth.server
from msnet.settings import Settings
from tests.helpers import add_client, add_organisation, bearer, run_cli, token_for

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _b64(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes((number.bit_length() + 7) // 8)).decode().rstrip("=")


def _rsa_jwks(bits: int) -> dict:
    """A public RSA key of ``bits`` as a JWKS, made without joserfc (which warns on short keys)."""
    numbers = rsa.generate_private_key(65537, bits).public_key().public_numbers()
    return {"keys": [{"kty": "RSA", "kid": f"k{bits}", "n": _b64(numbers.n), "e": _b64(numbers.e)}]}


async def test_an_unknown_client_answers_like_a_wrong_secret_after_the_same_work(
    client: AsyncTestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await add_client(settings, "au", ["audit:read"])
    hashed: list[str] = []
    real = msnet.auth.server.hash_client_secret

    def counting(secret_key: str, client_secret: str) -> str:
        hashed.append(client_secret)
        return real(secret_key, client_secret)

    monkeypatch.setattr(msnet.auth.server, "hash_client_secret", counting)
    answers = {}
    for who, client_id, secret in (
        ("wrong secret", created.client_id, "mss_wrong-1"),
        ("unknown client", "au.nobody", "mss_wrong-2"),
        ("unknown organisation", "atlantis.x", "mss_wrong-3"),
        ("no organisation in the id", "nobody", "mss_wrong-4"),
    ):
        response = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        answers[who] = (response.status_code, response.json(), response.headers.get("www-authenticate"))
    assert hashed == ["mss_wrong-1", "mss_wrong-2", "mss_wrong-3", "mss_wrong-4"]
    assert len(set(map(repr, answers.values()))) == 1, answers
    status, body, _ = answers["wrong secret"]
    assert status == 401
    assert body["error"] == "invalid_client"


@pytest.mark.parametrize(
    "methods",
    [
        ("client_secret_basic", "client_secret_post"),
        ("client_secret_basic", "private_key_jwt"),
        ("client_secret_post", "private_key_jwt"),
    ],
)
async def test_two_authentication_methods_at_once_are_invalid_request(
    client: AsyncTestClient, settings: Settings, methods: tuple[str, str]
) -> None:
    key = RSAKey.generate_key(2048, auto_kid=True)
    created = await add_client(settings, "au", ["audit:read"])
    now = int(time.time())
    claims = {
        "iss": created.client_id,
        "sub": created.client_id,
        "aud": settings.issuer,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_hex(8),
    }
    data = {"grant_type": "client_credentials"}
    auth = None
    if "client_secret_basic" in methods:
        auth = (created.client_id, created.client_secret)
    if "client_secret_post" in methods:
        data.update(client_id=created.client_id, client_secret=created.client_secret)
    if "private_key_jwt" in methods:
        data.update(
            client_assertion_type=ASSERTION_TYPE,
            client_assertion=jwt.encode({"alg": "RS256"}, claims, key, algorithms=["RS256"]),
        )
    response = await client.post("/oauth/token", data=data, auth=auth)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert " and ".join(methods) in response.json()["error_description"]


@pytest.mark.parametrize(
    ("asked", "refused"),
    [("audit:read roster:write", "roster:write"), ("org:admin", "org:admin"), ("everything", None)],
)
async def test_a_scope_the_client_does_not_hold_is_invalid_scope(
    client: AsyncTestClient, settings: Settings, asked: str, refused: str | None
) -> None:
    created = await add_client(settings, "au", ["audit:read", "directory:read"])
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": asked},
        auth=(created.client_id, created.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    if refused:
        assert refused in response.json()["error_description"]
    held = await client.post(  # what it holds, it gets
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "directory:read"},
        auth=(created.client_id, created.client_secret),
    )
    assert held.json()["scope"] == "directory:read"


async def test_registration_refuses_rsa_keys_under_2048_bits(
    client: AsyncTestClient, settings: Settings
) -> None:
    admin = await add_client(settings, "au", ["org:admin"])
    headers = bearer(await token_for(client, admin))
    short = await client.post(
        "/v1/organisations/au/clients",
        json={"name": "short key", "scopes": ["audit:read"], "jwks": _rsa_jwks(1024)},
        headers=headers,
    )
    assert short.status_code == 422
    assert [e["field"] for e in short.json()["errors"]] == ["jwks"]
    assert "2048" in short.json()["errors"][0]["message"]
    listed = (await client.get("/v1/organisations/au/clients", headers=headers)).json()
    assert [c["name"] for c in listed["items"]] == [listed["items"][0]["name"]]  # the admin alone
    enough = await client.post(
        "/v1/organisations/au/clients",
        json={"name": "long key", "scopes": ["audit:read"], "jwks": _rsa_jwks(2048)},
        headers=headers,
    )
    assert enough.status_code == 201, enough.text


def test_the_cli_refuses_rsa_keys_under_2048_bits(settings: Settings, tmp_path: Path) -> None:
    asyncio.run(add_organisation(settings, "au"))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(_rsa_jwks(1024)))
    result = run_cli(
        settings, "client", "create", "--org", "au", "--name", "X1", "--scopes", "audit:read",
        "--jwks-file", str(jwks),
    )  # fmt: skip
    assert result.returncode == 1
    assert "2048" in result.stderr
    assert "jwks" in result.stderr
    assert result.stdout == ""
