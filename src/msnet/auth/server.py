"""Authlib's synchronous authorization server, fed from memory.

The async handlers load what Authlib needs first (the client, the key ring) and put it in
context variables; Authlib then does the protocol work (client authentication, the client
credentials grant, revocation, introspection) without touching the database. Side effects that
need the database (a used assertion, a revoked token) are collected and written by the caller.
"""

from __future__ import annotations

import contextvars
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2 import AuthorizationServer, ClientAuthentication
from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError, InvalidScopeError, OAuth2Request
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from msnet.auth.keys import ALG, KeyRing, hash_client_secret
from msnet.auth.principal import NODE_SCOPE, SCOPES, Principal

AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]
#: What a client that does not exist is checked against: its secret is hashed and compared like a real
#: one's (and never matches), so an unknown client and a wrong secret take the same work.
_NO_SECRET_HASH = "0" * 64
MAX_ASSERTION_LIFETIME = 300
#: How far a client's clock may be off this node's, in seconds, when its assertion's times are checked:
#: peer nodes run on other machines, and a node five minutes off must still get its tokens.
CLOCK_SKEW = 300
_EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


class FormRequest(OAuth2Request):
    """A form-encoded request to an OAuth endpoint, already read by the async handler."""

    def __init__(self, uri: str, form: dict[str, str], headers: Any) -> None:
        super().__init__(method="POST", uri=uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class LoadedClient(ClientMixin):
    """An OAuth client as Authlib sees it, answered from memory; or, not ``registered``, the stand-in
    for an id that names no client, which fails every check after the same work."""

    client_id: str
    org_id: Any
    org_slug: str
    scopes: list[str]
    secret_hash: str | None
    jwks: dict[str, Any] | None
    secret_key: str
    registered: bool = True

    @classmethod
    def absent(cls, client_id: str, secret_key: str) -> LoadedClient:
        return cls(client_id, None, "", [], None, None, secret_key, registered=False)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.scopes if not scope else [s for s in scope.split() if s in self.scopes]
        return " ".join(sorted(set(allowed)))

    def check_client_secret(self, client_secret: str) -> bool:
        """Hashed and compared in constant time whether the client exists, has a secret or not."""
        expected = self.secret_hash or _NO_SECRET_HASH
        matches = hmac.compare_digest(hash_client_secret(self.secret_key, client_secret), expected)
        return matches and self.secret_hash is not None and self.registered

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if method == "client_secret_basic":
            return self.secret_hash is not None
        return method == "private_key_jwt" and self.jwks is not None


@dataclass
class Exchange:
    """What one call into Authlib may use and what it leaves for the caller to write."""

    client: LoadedClient | None
    key_ring: KeyRing
    used_assertion: tuple[str, str, int] | None = None  # (client_id, jti, until when it could be taken)
    revoked: Principal | None = None
    issued_jti: str | None = None
    inactive_jtis: set[str] = field(default_factory=set)  # revoked, or of a deleted client


_exchange: contextvars.ContextVar[Exchange] = contextvars.ContextVar("msnet_oauth_exchange")


def algorithms_for(key: Any) -> list[str]:
    """Verification algorithms from the client's registered key(s), never from the assertion's header."""
    keys = key.keys if isinstance(key, KeySet) else [key]
    algorithms: set[str] = set()
    for k in keys:
        declared = k.get("alg")
        if declared:
            algorithms.add(declared)
        elif isinstance(k, RSAKey):
            algorithms.add("RS256")
        elif isinstance(k, ECKey):
            algorithms.add(_EC_ALGORITHMS.get(k.get("crv", ""), ""))
        elif isinstance(k, OKPKey) and k.get("crv") == "Ed25519":
            algorithms.add("EdDSA")
    return sorted(algorithms & ASYMMETRIC)


class PrivateKeyJWT(JWTBearerClientAssertion):
    """RFC 7523 client authentication under its RFC 8414 name, with the checks Authlib leaves out."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, issuer: str) -> None:
        super().__init__(validate_jti=True, leeway=CLOCK_SKEW)
        self.issuer = issuer

    def get_audiences(self) -> list[str]:
        return [self.issuer]

    def resolve_client_public_key(self, client: LoadedClient) -> KeySet:
        if client.jwks is None:
            raise InvalidClientError(description="the client authenticates with a secret, not keys")
        return KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        algorithms = algorithms_for(resolve_key)
        if not algorithms:
            raise InvalidClientError(description="the client has no asymmetric key registered")
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=algorithms)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(
                description=getattr(exc, "description", None) or "invalid assertion"
            ) from exc
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: dict[str, Any]) -> None:
        if claims.get("aud") != self.issuer:
            raise InvalidClientError(description="the assertion's aud must be this node's issuer")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            raise InvalidClientError(description="the assertion needs integer iat and exp")
        if exp - iat > MAX_ASSERTION_LIFETIME:
            raise InvalidClientError(description="the assertion may live at most 5 minutes")
        if iat > time.time() + self.leeway:
            raise InvalidClientError(description="the assertion was issued in the future")
        super().verify_claims(claims)

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        if not isinstance(jti, str) or not 0 < len(jti) <= 200:
            return False
        # kept as long as the assertion could still be taken, so that it is never taken twice
        _exchange.get().used_assertion = (claims["sub"], jti, claims["exp"] + self.leeway)
        return True


class ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_token_request(self) -> None:
        """As Authlib's, and a scope the client does not hold is ``invalid_scope`` (Authlib would
        issue a token without it)."""
        super().validate_token_request()
        asked = set(scope_to_list(self.request.payload.scope) or [])
        missing = sorted(asked - set(self.request.client.scopes))
        if missing:
            raise InvalidScopeError(description=f"this client does not hold {' '.join(missing)}")


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = ("access_token",)

    def __init__(self, server: NodeAuthorizationServer) -> None:
        super().__init__(server)
        self.node = server

    def query_token(self, token_string: str, token_type_hint: str | None) -> _IssuedToken | None:
        return self.node.read_token(token_string)

    def revoke_token(self, token: _IssuedToken, request: OAuth2Request) -> None:
        _exchange.get().revoked = token.principal


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = ("access_token",)

    def __init__(self, server: NodeAuthorizationServer) -> None:
        super().__init__(server)
        self.node = server

    def query_token(self, token_string: str, token_type_hint: str | None) -> _IssuedToken | None:
        return self.node.read_token(token_string)

    def check_permission(self, token: _IssuedToken, client: LoadedClient, request: OAuth2Request) -> bool:
        """A client may introspect the tokens of its own organisation only."""
        return token.principal.org_id == client.org_id

    def introspect_token(self, token: _IssuedToken) -> dict[str, Any]:
        return {"active": True, "token_type": "Bearer", **token.claims}


@dataclass
class _IssuedToken:
    """A verified access token as Authlib's endpoints want it."""

    principal: Principal
    claims: dict[str, Any]

    def check_client(self, client: LoadedClient) -> bool:
        return self.principal.subject == client.client_id or (
            self.principal.org_id == client.org_id and "org:admin" in client.scopes
        )

    def get_scope(self) -> str:
        return " ".join(sorted(self.principal.scopes))

    def is_expired(self) -> bool:
        return self.principal.expires_at <= time.time()

    def is_revoked(self) -> bool:
        return False  # checked against the deny list by the caller before Authlib runs


class NodeAuthorizationServer(AuthorizationServer):
    def __init__(self, issuer: str, token_ttl: int, verify: Any) -> None:
        super().__init__(scopes_supported=[*SCOPES, NODE_SCOPE])
        self.issuer = issuer
        self.token_ttl = token_ttl
        self._verify = verify
        self._client_auth = ClientAuthentication(self.query_client)
        self.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT(issuer))
        self.register_grant(ClientCredentials)
        self.register_token_generator("default", self._generate)
        self.register_endpoint(Revocation(self))
        self.register_endpoint(Introspection(self))

    def run(self, exchange: Exchange, action: Any, *args: Any) -> tuple[int, Any, list]:
        token = _exchange.set(exchange)
        try:
            return action(*args)
        finally:
            _exchange.reset(token)

    def query_client(self, client_id: str) -> LoadedClient:
        client = _exchange.get().client
        if client is not None and client.client_id == client_id:
            return client
        return LoadedClient.absent(client_id, client.secret_key if client is not None else "")

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are self-contained JWTs: nothing to store (the audit names their jti)."""

    def read_token(self, token_string: str) -> _IssuedToken | None:
        exchange = _exchange.get()
        try:
            principal, claims = self._verify(token_string, exchange.key_ring)
        except Exception:  # any token this node cannot verify is simply not one of its tokens
            return None
        if principal.credential in exchange.inactive_jtis:
            return None
        return _IssuedToken(principal, claims)

    def _generate(self, grant_type: str, client: LoadedClient, scope: str | None = None, **_: Any) -> dict:
        now = int(time.time())
        scope = client.get_allowed_scope(
            scope
        )  # what was asked for and is allowed; all allowed if nothing was
        key = _exchange.get().key_ring.signing
        claims = {
            "iss": self.issuer,
            "aud": self.issuer,
            "sub": client.client_id,
            "client_id": client.client_id,
            "org": client.org_slug,
            "org_id": str(client.org_id),
            "scope": scope or "",
            "jti": secrets.token_urlsafe(18),
            "iat": now,
            "nbf": now,
            "exp": now + self.token_ttl,
        }
        _exchange.get().issued_jti = claims["jti"]
        access_token = jwt.encode(
            {"alg": ALG, "typ": "at+jwt", "kid": key.kid}, claims, key, algorithms=[ALG]
        )
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "scope": scope,
        }

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list) -> tuple[int, Any, list]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None
