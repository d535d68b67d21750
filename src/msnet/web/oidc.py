"""Sign-in through an organisation's own OpenID Connect provider (authorization code flow with PKCE,
``state`` and ``nonce``), with Authlib's client; ID tokens verified with joserfc.

A provider's discovery document and keys are fetched when first needed and kept for
:data:`METADATA_TTL`; an ID token signed with a key not in the kept set fetches the keys again (at
most every :data:`JWKS_MIN_INTERVAL`), as providers rotate them. Each organisation has a callback of
its own (``/auth/{slug}/callback``): the sign-in started for one organisation is finished only by the
callback of that organisation, with the provider that organisation registered.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

METADATA_TTL = 3600.0
JWKS_MIN_INTERVAL = 60.0
HTTP_TIMEOUT = 10.0
SCOPE = "openid email profile"
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


class SignInError(Exception):
    """A sign-in that cannot complete; ``reason`` is recorded, the person is told only that it failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def issuer_problems(issuer: str, *, private_addresses: bool) -> list[str]:
    """What is wrong with an issuer URL: https (http only on a loopback address), a host, no query
    or fragment, and a public address unless ``private_addresses``."""
    parts = urlsplit(issuer)
    problems = []
    host = parts.hostname or ""
    loopback = host == "localhost" or _is_address(host, lambda a: a.is_loopback)
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        problems.append("must be an https:// URL (http:// only on a loopback address)")
    if not host:
        problems.append("must name a host")
    if parts.query or parts.fragment or parts.username or parts.password:
        problems.append("must not carry a query, a fragment or credentials")
    if host and not private_addresses and (loopback or _is_address(host, lambda a: not a.is_global)):
        problems.append(
            "points at a loopback, private or reserved address (MSNET_IDENTITY_PROVIDER_PRIVATE_ADDRESSES=on "
            "allows it, for development only)"
        )
    return problems


def _is_address(host: str, test: Any) -> bool:
    try:
        return bool(test(ipaddress.ip_address(host)))
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Client:
    """An organisation's registration at its provider."""

    issuer: str
    client_id: str
    client_secret: str
    #: whether the provider may be on a non-public address (MSNET_IDENTITY_PROVIDER_PRIVATE_ADDRESSES)
    private_addresses: bool = False


@dataclass
class _Cached:
    metadata: dict[str, Any]
    fetched_at: float
    keys: KeySet | None = None
    keys_fetched_at: float = 0.0


@dataclass
class Providers:
    """Discovery documents and key sets of the providers, by issuer, kept for a while."""

    _cache: dict[str, _Cached] = field(default_factory=dict)

    async def metadata(self, client: Client) -> dict[str, Any]:
        cached = self._cache.get(client.issuer)
        if cached is None or time.monotonic() - cached.fetched_at > METADATA_TTL:
            cached = self._cache[client.issuer] = _Cached(await _discover(client), time.monotonic())
        return cached.metadata

    async def keys(self, client: Client, *, refresh: bool = False) -> KeySet:
        await self.metadata(client)
        cached = self._cache[client.issuer]
        stale = refresh and time.monotonic() - cached.keys_fetched_at > JWKS_MIN_INTERVAL
        if cached.keys is None or stale:
            document = await _get_json(cached.metadata["jwks_uri"], client.private_addresses)
            cached.keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            cached.keys_fetched_at = time.monotonic()
        return cached.keys

    def forget(self, issuer: str) -> None:
        self._cache.pop(issuer, None)


async def check_reachable(url: str, private_addresses: bool) -> None:
    """Refuse to call ``url`` unless it is http(s) and, without ``private_addresses``, every address
    its host resolves to is a public one (an organisation's provider must not make the node call into
    the network it runs in)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SignInError(f"the provider named an endpoint that is not an http(s) URL: {url}")
    if private_addresses:
        return
    try:
        found = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443)
    except OSError:
        raise SignInError(f"the provider's host {parts.hostname} does not resolve") from None
    if any(not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_global for info in found):
        raise SignInError(
            f"the provider's host {parts.hostname} is on a loopback, private or reserved address"
        )


async def _get_json(url: str, private_addresses: bool) -> dict[str, Any]:
    await check_reachable(url, private_addresses)
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False) as http:
            response = await http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SignInError(f"the provider did not answer {url} ({type(exc).__name__})") from None
    if not isinstance(document, dict):
        raise SignInError(f"{url} is not a JSON object")
    return document


async def _discover(client: Client) -> dict[str, Any]:
    issuer = client.issuer
    metadata = await _get_json(
        issuer.rstrip("/") + "/.well-known/openid-configuration", client.private_addresses
    )
    if metadata.get("issuer") != issuer:
        raise SignInError(
            f"the discovery document names the issuer {metadata.get('issuer')!r}, not {issuer!r}"
        )
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not metadata.get(k)]
    if missing:
        raise SignInError(f"the discovery document lacks {', '.join(missing)}")
    return metadata


def _oauth(client: Client, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=client.client_id,
        client_secret=client.client_secret,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT,
    )


async def authorization_url(
    providers: Providers, client: Client, redirect_uri: str, *, state: str, nonce: str, code_verifier: str
) -> str:
    """Where to send the browser: the provider's authorization endpoint, with PKCE, state and nonce."""
    metadata = await providers.metadata(client)
    async with _oauth(client, redirect_uri) as oauth:
        url, _ = oauth.create_authorization_url(
            metadata["authorization_endpoint"], state=state, nonce=nonce, code_verifier=code_verifier
        )
    return url


async def finish(
    providers: Providers, client: Client, redirect_uri: str, *, code: str, code_verifier: str, nonce: str
) -> dict[str, Any]:
    """Exchange the code (with the PKCE verifier) and return the verified ID token's claims."""
    metadata = await providers.metadata(client)
    await check_reachable(metadata["token_endpoint"], client.private_addresses)
    async with _oauth(client, redirect_uri) as oauth:
        try:
            token = await oauth.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
            )
        except Exception as exc:  # Authlib raises OAuthError, httpx its own: either way, no sign-in
            raise SignInError(f"the token endpoint refused the code ({type(exc).__name__}: {exc})") from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInError("the token response has no ID token")
    return await verify_id_token(providers, client, id_token, nonce)


async def verify_id_token(providers: Providers, client: Client, id_token: str, nonce: str) -> dict[str, Any]:
    """The claims of an ID token signed by the provider's keys, issued by it, for this client, with
    this sign-in's nonce, not expired (OpenID Connect Core 3.1.3.7)."""
    try:
        try:
            decoded = jwt.decode(id_token, await providers.keys(client), algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            decoded = jwt.decode(id_token, await providers.keys(client, refresh=True), algorithms=ALGORITHMS)
        claims = decoded.claims
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": client.issuer},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(claims)
    except (JoseError, ValueError) as exc:
        raise SignInError(f"the ID token is not valid ({type(exc).__name__}: {exc})") from None
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client.client_id not in audiences:
        raise SignInError("the ID token is for another client")
    if len(audiences) > 1 and claims.get("azp") != client.client_id:
        raise SignInError("the ID token is for several clients but not authorised for this one")
    return claims
