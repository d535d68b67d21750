"""Calls to a peer node as the OAuth client this node is of it: client credentials with
``private_key_jwt`` signed by this node's current key, scope ``federation``."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
from joserfc import jwt

from msnet.auth.keys import ALG, KeyRing
from msnet.auth.principal import NODE_SCOPE
from msnet.settings import Settings

ASSERTION_LIFETIME = 60  # seconds (the token endpoint takes at most 300)
TIMEOUT = 10.0
#: a token is renewed this many seconds before it expires
EXPIRY_MARGIN = 30


class PeerError(Exception):
    """The peer would not give this node a token (its answer in ``response``)."""

    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


class PeerClient:
    """An HTTP client to ``peer_issuer`` whose requests carry an access token of the peer's, got from
    its ``/oauth/token`` and kept until shortly before it expires. Use as an async context manager
    (or ``aclose()``). ``key_ring``: this node's keys as they are when the client is made."""

    def __init__(
        self, settings: Settings, key_ring: KeyRing, peer_issuer: str, timeout: float = TIMEOUT
    ) -> None:
        self.issuer = settings.issuer
        self.peer = peer_issuer
        self.key_ring = key_ring
        self.http = httpx.AsyncClient(base_url=peer_issuer, timeout=timeout)
        self._token: str | None = None
        self._expires = 0.0

    async def __aenter__(self) -> PeerClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    def assertion(self) -> str:
        """A client assertion (RFC 7523) for the peer's token endpoint, signed by this node's key."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.issuer,
            "aud": self.peer,
            "jti": secrets.token_urlsafe(18),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        key = self.key_ring.signing
        return jwt.encode({"alg": ALG, "kid": key.kid}, claims, key, algorithms=[ALG])

    async def token(self) -> str:
        """An access token of the peer's with the scope ``federation``. Raises ``PeerError``."""
        if self._token is not None and time.monotonic() < self._expires:
            return self._token
        response = await self.http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "scope": NODE_SCOPE,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.assertion(),
            },
        )
        if response.status_code != 200:
            raise PeerError(f"{self.peer}/oauth/token answered {response.status_code}", response)
        try:
            body = response.json()
            token, expires_in = str(body["access_token"]), int(body["expires_in"])
        except (ValueError, TypeError, KeyError):
            raise PeerError(f"{self.peer}/oauth/token answered no token", response) from None
        self._token = token
        self._expires = time.monotonic() + expires_in - EXPIRY_MARGIN
        return self._token

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """``method path`` with a token; a 401 (a token revoked, or a key rotated) gets a new token and
        is tried once more."""
        response = await self._send(method, path, **kwargs)
        if response.status_code == 401:
            self._token = None
            response = await self._send(method, path, **kwargs)
        return response

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {await self.token()}"}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: Any = None) -> httpx.Response:
        return await self.request("POST", path, json=json)
