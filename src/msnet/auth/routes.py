"""/oauth/* and /.well-known/*: the authorization server; /v1/organisations/{slug}/clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Cursor, Limit
from msnet.audit.service import REQUEST_KEY, RequestOrigin
from msnet.auth import schemas, service
from msnet.auth.principal import SCOPES, Principal, own_organisation, provide_principal, requires
from msnet.auth.server import ASYMMETRIC, AUTH_METHODS, Exchange, FormRequest
from msnet.organisations import service as organisations
from msnet.organisations.models import Organisation
from msnet.problems import problem_responses

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_responses() -> dict[int, ResponseSpec]:
    error = ResponseSpec(
        data_container=schemas.OAuthError,
        description="OAuth 2.0 error (RFC 6749 §5.2)",
        generate_examples=False,
    )
    return {400: error, 401: error, 429: error}


_BASIC = 'Basic realm="msnet", error="invalid_client"'
_DESCRIPTIONS = {"invalid_client": "client authentication failed"}


def _error(error: str, description: str | None = None) -> dict[str, str]:
    return {"error": error, "error_description": description or _DESCRIPTIONS[error]}


def _one_method(methods: list[str]) -> str:
    return f"authenticate with one method a request, not {' and '.join(methods)} (RFC 6749 section 2.3)"


async def _exchange(request: Request, endpoint: str) -> Response:
    """Load the client (and, for revocation and introspection, the token's standing), let Authlib
    answer, then write what it decided: a used assertion, a revoked token, the audit entry."""
    state = request.app.state
    form = await request.form()
    oauth_request = FormRequest(
        state.settings.issuer + request.url.path,
        {k: v for k, v in form.items() if isinstance(v, str)},
        request.headers,
    )
    claimed = service.claimed_client_id(oauth_request)
    if any("\x00" in value for value in (*oauth_request.form.values(), claimed or "")):
        # PostgreSQL cannot store or compare it: refused before anything is looked up or recorded
        body = _error("invalid_request", "a value may not contain NUL characters")
        return Response(body, status_code=400, headers=NO_STORE, media_type="application/json")
    server = state.oauth
    async with state.sessionmaker() as session, session.begin():
        session.info[REQUEST_KEY] = RequestOrigin.of(request.scope)
        client = await service.load_client(
            session,
            claimed,
            state.settings.secret_key,
            state.get("node_clients"),
            service.assertion_key_id(oauth_request),
        )
        if state.key_ring.stale():
            await state.reload_key_ring()
        exchange = Exchange(client=client, key_ring=state.key_ring)
        token = oauth_request.form.get("token")
        if endpoint != "token" and token:
            try:
                principal, _ = state.verifier(token, state.key_ring)
            except service.TokenRejected:
                principal = None
            if principal is not None and await service.is_denied(session, principal):
                exchange.inactive_jtis.add(principal.credential)
        methods = service.auth_methods_used(oauth_request)
        if len(methods) > 1:
            status, body, headers = 400, _error("invalid_request", _one_method(methods)), []
        elif endpoint == "token":
            status, body, headers = server.run(exchange, server.create_token_response, oauth_request)
        else:
            status, body, headers = server.run(
                exchange, server.create_endpoint_response, endpoint, oauth_request
            )
        if status == 200 and not await service.consume_assertion(session, exchange):
            status, body, headers = 401, _error("invalid_client"), []
        if body.get("error") == "invalid_client":  # one answer, whatever failed: nothing to learn from it
            status, body, headers = 401, _error("invalid_client"), [("WWW-Authenticate", _BASIC)]
        if exchange.revoked is not None:
            await service.revoke(session, exchange.revoked)
        verdict = await service.record_exchange(
            session, request.scope, endpoint, exchange, status, body.get("error") if status != 200 else None
        )
    if verdict is not None and verdict.retry_after is not None:
        status, headers = 429, [("Retry-After", str(verdict.retry_after))]
        body = _error(
            body["error"],
            f"too many failed attempts from this address; retry in {verdict.retry_after} s",
        )
    return Response(
        body, status_code=status, headers={**dict(headers), **NO_STORE}, media_type="application/json"
    )


def _form(fields: dict[str, Schema], required: list[str]) -> type[Operation]:
    """An operation whose body is a form the handler reads itself (Authlib decides, and answers as
    RFC 6749 says, so no parameter declares it): the OpenAPI document describes it from here."""
    body = RequestBody(
        required=True,
        content={
            "application/x-www-form-urlencoded": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.OBJECT, properties=fields, required=required)
            )
        },
    )

    @dataclass
    class FormOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return FormOperation


def _text(description: str, example: str, *values: str) -> Schema:
    return Schema(
        type=OpenAPIType.STRING, description=description, examples=[example], enum=list(values) or None
    )


#: How a client authenticates at the three endpoints: HTTP Basic with its id and secret, or a signed
#: ``client_assertion`` in the form (private_key_jwt, which no header carries).
CLIENT_AUTHENTICATION: list[dict[str, list[str]]] = [{"client_secret_basic": []}, {}]
_ASSERTION = {
    "client_id": _text(
        "The client's id. With client_secret_basic it goes in the Authorization header instead, with the "
        "secret (msnet takes no client_secret in the body).",
        "au.7Hq2mXb4",
    ),
    "client_assertion_type": _text(
        "With private_key_jwt.",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    ),
    "client_assertion": _text(
        "With private_key_jwt: a JWT signed with the client's registered key (RFC 7523): iss and sub the "
        "client id, aud this node's issuer, a unique jti, and at most 300 s between iat and exp.",
        "eyJhbGciOiJFUzI1NiIsImtpZCI6ImF1LTEifQ.eyJpc3MiOiJhdS43SHEybVhiNCJ9.c2lnbmF0dXJl",
    ),
}
_TOKEN_FORM = _form(
    {
        "grant_type": _text("Always client_credentials.", "client_credentials", "client_credentials"),
        "scope": _text(
            "The scopes asked for, space-separated; every scope the client holds when absent.",
            "roster:read requests:write",
        ),
        **_ASSERTION,
    },
    ["grant_type"],
)
_TOKEN_IN_FORM = _form(
    {
        "token": _text(
            "The access token.", "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJvcmciOiJhdSJ9.c2lnbmF0dXJl"
        ),
        "token_type_hint": _text("Optional: access_token, the only kind msnet issues.", "access_token"),
        **_ASSERTION,
    },
    ["token"],
)


class OAuthController(Controller):
    tags = ["oauth"]

    @post(
        "/oauth/token",
        summary="Client credentials grant (client_secret_basic or private_key_jwt)",
        status_code=200,
        operation_class=_TOKEN_FORM,
        security=CLIENT_AUTHENTICATION,
        responses=_oauth_responses(),
    )
    async def request_token(self, request: Request) -> schemas.TokenResponse:
        """The OAuth 2.0 client credentials grant: a client of your organisation authenticates with
        `client_secret_basic` (HTTP Basic with its id and secret) or `private_key_jwt`
        (`client_assertion`) and receives a short-lived JWT access token (RFC 9068) for the scopes it
        asks (space-separated `scope`; all of its own when absent). Errors are RFC 6749 JSON:
        `invalid_client` (401), `invalid_scope`, `unsupported_grant_type` (400)."""
        return await _exchange(request, "token")  # type: ignore[return-value]

    @post(
        "/oauth/revoke",
        summary="Revoke an access token (RFC 7009)",
        status_code=200,
        operation_class=_TOKEN_IN_FORM,
        security=CLIENT_AUTHENTICATION,
        responses=_oauth_responses(),
    )
    async def revoke_token(self, request: Request) -> dict[str, Any]:
        """Revoke an access token (RFC 7009): it stops working at once on this node. The calling client
        authenticates as at the token endpoint; 200 even for an unknown token."""
        return await _exchange(request, "revocation")  # type: ignore[return-value]

    @post(
        "/oauth/introspect",
        summary="Introspect an access token (RFC 7662)",
        status_code=200,
        operation_class=_TOKEN_IN_FORM,
        security=CLIENT_AUTHENTICATION,
        responses=_oauth_responses(),
    )
    async def introspect_token(self, request: Request) -> dict[str, Any]:
        """Whether an access token is active and what it stands for (RFC 7662). The calling client
        authenticates as at the token endpoint and may introspect its own organisation's tokens; errors
        follow RFC 6749."""
        return await _exchange(request, "introspection")  # type: ignore[return-value]

    @get("/.well-known/oauth-authorization-server", summary="Authorization server metadata (RFC 8414)")
    async def get_authorization_server_metadata(self, request: Request) -> dict[str, Any]:
        """The authorization server's metadata (RFC 8414): its token, revocation and introspection
        endpoints, authentication methods and scopes. Public."""
        issuer = request.app.state.settings.issuer
        return {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth/token",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "introspection_endpoint": f"{issuer}/oauth/introspect",
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": sorted(ASYMMETRIC),
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
            "scopes_supported": list(SCOPES),
        }

    @get("/.well-known/jwks.json", summary="The node's public signing keys")
    async def get_signing_keys(self, request: Request) -> dict[str, Any]:
        """The node's public signing keys (JWKS): verify its access tokens and signed documents with them.
        Public."""
        state = request.app.state
        if not state.key_ring.recently_loaded():  # a key rotated by another process is listed in seconds
            await state.reload_key_ring()
        return state.key_ring.public_jwks()


async def provide_own_organisation(
    db: NamedDependency[AsyncSession], principal: NamedDependency[Principal], slug: FromPath[str]
) -> Organisation:
    """The organisation in the path (the ``own_organisation`` guard has made sure it is the caller's);
    after ``principal`` rather than beside it, so that Litestar resolves the two one after the other
    (see :func:`msnet.auth.principal.provide_optional_principal`). It declares the path's ``slug``,
    which keeps it the first parameter of these operations in the OpenAPI document."""
    return await organisations.get_by_slug(db, slug)


class ClientController(Controller):
    path = "/v1/organisations/{slug:str}/clients"
    tags = ["clients"]
    guards = [requires("org:admin"), own_organisation]
    dependencies = {"principal": Provide(provide_principal), "org": Provide(provide_own_organisation)}

    @get("/", summary="The organisation's OAuth clients", responses=problem_responses(401, 403, 404))
    async def list_clients(
        self,
        db: NamedDependency[AsyncSession],
        org: NamedDependency[Organisation],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.ClientPage:
        """Your organisation's OAuth clients (never their secrets), keyset-paginated. Scope `org:admin`;
        another organisation's slug is 403."""
        return await service.list_clients(db, org, limit=limit, cursor=cursor)

    @post(
        "/",
        summary="Register a client: a secret (shown once) or a JWKS for private_key_jwt",
        responses=problem_responses(401, 403, 404, 415),
    )
    async def register_client(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        org: NamedDependency[Organisation],
        principal: NamedDependency[Principal],
        data: JSONBody[schemas.ClientCreate],
    ) -> schemas.ClientCreated:
        """Register an OAuth client of your organisation with the scopes it may ask for. Without `jwks` it
        gets a secret, shown in this response only (stored as an HMAC); with a public `jwks` it
        authenticates with `private_key_jwt`. Scope `org:admin`, your own organisation's slug only (403
        otherwise)."""
        return await service.register_client(
            db, principal, org, data, secret_key=request.app.state.settings.secret_key
        )

    @post(
        "/{client_id:str}/secret",
        summary="Rotate a client's secret (the new one is shown once)",
        status_code=200,
        responses=problem_responses(401, 403, 404),
    )
    async def rotate_client_secret(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        org: NamedDependency[Organisation],
        principal: NamedDependency[Principal],
        client_id: FromPath[str],
    ) -> schemas.ClientCreated:
        """Give a client a new secret, shown in this response only; the old one stops working at once.
        Scope `org:admin`; 404 for an unknown client; 422 for a client that authenticates with keys
        (`private_key_jwt`)."""
        return await service.rotate_client_secret(
            db, principal, org, client_id, secret_key=request.app.state.settings.secret_key
        )

    @delete(
        "/{client_id:str}",
        summary="Delete a client; its tokens stop working at once",
        responses=problem_responses(401, 403, 404),
    )
    async def delete_client(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        org: NamedDependency[Organisation],
        principal: NamedDependency[Principal],
        client_id: FromPath[str],
    ) -> None:
        """Delete one of your organisation's clients: its access tokens stop working at once. Scope
        `org:admin`; 404 for an unknown client."""
        await service.delete_client(
            db, principal, org, client_id, request.app.state.settings.access_token_ttl
        )
