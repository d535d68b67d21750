"""The authorization server, exercised by a real OAuth client library (Authlib's httpx client)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from msnet.settings import Settings
from tests.helpers import add_client


class FreshPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's client method with a short-lived assertion and a new jti each time."""

    def sign(self, auth, token_endpoint):  # type: ignore[no-untyped-def]
        self.claims = {"exp": int(time.time()) + 120}
        return super().sign(auth, token_endpoint)


@pytest.fixture
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, auto_kid=True)


def _public_jwks(key) -> dict:  # type: ignore[no-untyped-def]
    return {"keys": [key.as_dict(private=False)]}


def _assertion(key, client_id: str, audience: str, *, alg: str = "RS256", **overrides) -> str:  # type: ignore[no-untyped-def]
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_hex(8),
    }
    claims.update(overrides)
    return jwt.encode({"alg": alg}, {k: v for k, v in claims.items() if v is not None}, key, algorithms=[alg])


def _b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _assertion_request(live_server: str, assertion: str) -> httpx.Response:
    return httpx.post(
        f"{live_server}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )


def test_metadata_and_jwks(live_server: str) -> None:
    meta = httpx.get(f"{live_server}/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == live_server
    assert meta["token_endpoint"] == f"{live_server}/oauth/token"
    assert set(meta["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "private_key_jwt"}
    assert "HS256" not in meta["token_endpoint_auth_signing_alg_values_supported"]
    keys = httpx.get(meta["jwks_uri"]).json()["keys"]
    assert keys
    assert all("d" not in k for k in keys)


def test_client_secret_basic_with_authlib(live_server: str, settings: Settings) -> None:
    created = asyncio.run(add_client(settings, "au", ["org:admin", "audit:read"]))
    with OAuth2Client(
        created.client_id, created.client_secret, token_endpoint_auth_method="client_secret_basic"
    ) as oauth:
        token = oauth.fetch_token(f"{live_server}/oauth/token", grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        assert set(token["scope"].split()) == {"org:admin", "audit:read"}
        header = json.loads(base64.urlsafe_b64decode(token["access_token"].split(".")[0] + "=="))
        assert header["typ"] == "at+jwt"
        claims = jwt.decode(token["access_token"], _jwks(live_server)).claims
        assert claims["iss"] == claims["aud"] == live_server
        assert claims["org"] == "au"
        assert claims["client_id"] == claims["sub"] == created.client_id
        assert claims["exp"] - claims["iat"] == settings.access_token_ttl
        response = oauth.get(f"{live_server}/v1/organisations/au/clients")
    assert response.status_code == 200
    assert [c["client_id"] for c in response.json()["items"]] == [created.client_id]


def _jwks(live_server: str):  # type: ignore[no-untyped-def]
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(httpx.get(f"{live_server}/.well-known/jwks.json").json())


def test_narrower_scope_on_request(live_server: str, settings: Settings) -> None:
    created = asyncio.run(add_client(settings, "au", ["org:admin", "audit:read"]))
    with OAuth2Client(created.client_id, created.client_secret) as oauth:
        token = oauth.fetch_token(
            f"{live_server}/oauth/token", grant_type="client_credentials", scope="audit:read"
        )
    assert token["scope"] == "audit:read"


def test_unknown_scope_is_refused(live_server: str, settings: Settings) -> None:
    created = asyncio.run(add_client(settings, "au", ["audit:read"]))
    response = httpx.post(
        f"{live_server}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "everything"},
        auth=(created.client_id, created.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


@pytest.mark.parametrize("who", ["wrong secret", "unknown client", "unknown organisation"])
def test_bad_client_credentials(live_server: str, settings: Settings, who: str) -> None:
    created = asyncio.run(add_client(settings, "au", ["audit:read"]))
    client_id, secret = {
        "wrong secret": (created.client_id, "mss_wrong"),
        "unknown client": ("au.nobody", created.client_secret),
        "unknown organisation": ("atlantis.x", created.client_secret),
    }[who]
    response = httpx.post(
        f"{live_server}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"
    assert response.headers["cache-control"] == "no-store"


def test_unsupported_grant(live_server: str, settings: Settings) -> None:
    created = asyncio.run(add_client(settings, "au", ["audit:read"]))
    response = httpx.post(
        f"{live_server}/oauth/token",
        data={"grant_type": "password"},
        auth=(created.client_id, created.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_private_key_jwt_with_authlib(live_server: str, settings: Settings, rsa_key: RSAKey) -> None:
    created = asyncio.run(add_client(settings, "eu", ["audit:read"], jwks=_public_jwks(rsa_key)))
    assert created.client_secret is None
    with OAuth2Client(
        created.client_id,
        rsa_key,
        token_endpoint_auth_method=FreshPrivateKeyJWT(live_server, alg="RS256"),
    ) as oauth:
        first = oauth.fetch_token(f"{live_server}/oauth/token", grant_type="client_credentials")
        second = oauth.fetch_token(f"{live_server}/oauth/token", grant_type="client_credentials")
    assert first["access_token"] != second["access_token"]
    assert jwt.decode(first["access_token"], _jwks(live_server)).claims["org"] == "eu"


def test_private_key_jwt_with_an_ec_key(live_server: str, settings: Settings) -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    created = asyncio.run(add_client(settings, "eu", ["audit:read"], jwks=_public_jwks(key)))
    response = _assertion_request(live_server, _assertion(key, created.client_id, live_server, alg="ES256"))
    assert response.status_code == 200, response.text


def test_a_secret_client_cannot_use_an_assertion(
    live_server: str, settings: Settings, rsa_key: RSAKey
) -> None:
    created = asyncio.run(add_client(settings, "eu", ["audit:read"]))
    response = _assertion_request(live_server, _assertion(rsa_key, created.client_id, live_server))
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("case", "overrides"),
    [
        ("audience is the token endpoint, not the issuer", {"aud": "TOKEN_ENDPOINT"}),
        ("audience as a list", {"aud": ["ISSUER"]}),
        ("lives longer than five minutes", {"exp": 600}),
        ("expired longer ago than the clocks may differ", {"iat": -400, "exp": -340}),
        ("issued further ahead than the clocks may differ", {"iat": 340, "exp": 400}),
        ("no iat", {"iat": None}),
        ("no jti", {"jti": None}),
        ("iss differs from sub", {"iss": "someone-else"}),
    ],
)
def test_bad_assertions_are_rejected(
    live_server: str, settings: Settings, rsa_key: RSAKey, case: str, overrides: dict
) -> None:
    """``iat`` and ``exp`` given as numbers are seconds from now, when the test runs (not when it
    was collected, which may be minutes earlier on a busy machine)."""
    created = asyncio.run(add_client(settings, "eu", ["audit:read"], jwks=_public_jwks(rsa_key)))
    replaced = {
        k: (live_server if v == "ISSUER" else f"{live_server}/oauth/token" if v == "TOKEN_ENDPOINT" else v)
        for k, v in overrides.items()
    }
    for claim in ("iat", "exp"):
        if isinstance(overrides.get(claim), int):
            replaced[claim] = int(time.time()) + overrides[claim]
    if isinstance(overrides.get("aud"), list):
        replaced["aud"] = [live_server]
    response = _assertion_request(
        live_server, _assertion(rsa_key, created.client_id, live_server, **replaced)
    )
    assert response.status_code in (400, 401), case
    assert response.json()["error"] == "invalid_client", case


def test_an_assertion_signed_by_another_key_is_rejected(
    live_server: str, settings: Settings, rsa_key: RSAKey
) -> None:
    created = asyncio.run(add_client(settings, "eu", ["audit:read"], jwks=_public_jwks(rsa_key)))
    other = RSAKey.generate_key(2048, parameters={"kid": rsa_key.kid})
    response = _assertion_request(live_server, _assertion(other, created.client_id, live_server))
    assert response.json()["error"] == "invalid_client"


def test_hs256_with_the_public_key_as_secret_is_rejected(
    live_server: str, settings: Settings, rsa_key: RSAKey
) -> None:
    """The algorithm comes from the registered key, never from the assertion (CVE-2024-37568)."""
    created = asyncio.run(add_client(settings, "eu", ["audit:read"], jwks=_public_jwks(rsa_key)))
    now = int(time.time())
    claims = {
        "iss": created.client_id,
        "sub": created.client_id,
        "aud": live_server,
        "iat": now,
        "exp": now + 60,
        "jti": "hs",
    }
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    mac = hmac.new(rsa_key.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    response = _assertion_request(live_server, forged)
    assert response.json()["error"] == "invalid_client"


def test_alg_none_assertion_is_rejected(live_server: str, settings: Settings, rsa_key: RSAKey) -> None:
    created = asyncio.run(add_client(settings, "eu", ["audit:read"], jwks=_public_jwks(rsa_key)))
    now = int(time.time())
    body = {
        "iss": created.client_id,
        "sub": created.client_id,
        "aud": live_server,
        "iat": now,
        "exp": now + 60,
        "jti": "n1",
    }

    response = _assertion_request(live_server, f"{_b64({'alg': 'none'})}.{_b64(body)}.")
    assert response.json()["error"] == "invalid_client"


def test_a_replayed_assertion_is_rejected(live_server: str, settings: Settings, rsa_key: RSAKey) -> None:
    created = asyncio.run(add_client(settings, "eu", ["audit:read"], jwks=_public_jwks(rsa_key)))
    assertion = _assertion(rsa_key, created.client_id, live_server)
    assert _assertion_request(live_server, assertion).status_code == 200
    replay = _assertion_request(live_server, assertion)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"


@pytest.mark.parametrize("skew", [-280, 280])
def test_a_client_whose_clock_is_minutes_off_gets_a_token_and_no_replay(
    live_server: str, settings: Settings, rsa_key: RSAKey, skew: int
) -> None:
    """A peer node's clock may be nearly five minutes off this node's: its assertion (here a minute
    long, expired or not yet issued by this node's clock) is taken once, and a replay is refused even
    after the assertion's own expiry."""
    created = asyncio.run(add_client(settings, "eu", ["audit:read"], jwks=_public_jwks(rsa_key)))
    now = int(time.time()) + skew
    assertion = _assertion(rsa_key, created.client_id, live_server, iat=now, exp=now + 60)
    assert _assertion_request(live_server, assertion).status_code == 200
    replay = _assertion_request(live_server, assertion)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"


def test_racing_replays_let_exactly_one_through(
    live_server: str, settings: Settings, rsa_key: RSAKey
) -> None:
    created = asyncio.run(add_client(settings, "eu", ["audit:read"], jwks=_public_jwks(rsa_key)))
    assertion = _assertion(rsa_key, created.client_id, live_server)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: _assertion_request(live_server, assertion).status_code, range(8)))
    assert sorted(statuses) == [200] + [401] * 7
