"""Bearer-token authentication for /v1: a valid token becomes the request's principal. And the gate
that answers an address refused for failing to authenticate before anything else runs."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar.types import ASGIApp, Receive, Scope, Send

from msnet.auth import failures, service
from msnet.auth.failures import FailureKey
from msnet.auth.keys import KeyRing
from msnet.auth.principal import Principal
from msnet.errors import MsnetError
from msnet.middleware import REQUEST_ID_HEADER, incoming_request_id
from msnet.problems import PROBLEM_JSON, Problem, problem_type

API_PREFIX = "/v1/"
#: Where a client authenticates with its credentials (the OAuth controller's endpoints).
OAUTH_ENDPOINTS = frozenset({"/oauth/token", "/oauth/revoke", "/oauth/introspect"})
NOT_BEARER = "send an access token as 'Authorization: Bearer <token>'"


class BearerAuthentication:
    """No ``Authorization`` header: an anonymous request (public records only; guards say 401).
    A header that does not carry a valid access token: 401 at once (429 when its address failed too
    often: see ``msnet.auth.failures``), counted with the failed authentications."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        scope["auth"] = None
        if header is not None:
            scope["auth"] = await self._authenticate(scope, header.decode("latin-1"))
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope, header: str) -> Principal:
        try:
            return await authenticate(scope["app"].state, header)
        except service.TokenRejected as exc:
            verdict = await failures.account(scope, FailureKey(failures.source_of(scope), exc.reason))
            raise service.refused(exc.description, verdict) from None


class RefusalGate:
    """The outermost layer. An address refused for failing to authenticate (``msnet.auth.failures``)
    has its /v1 requests whose ``Authorization`` does not verify answered here, 429 with
    ``Retry-After`` once the tarpit has held the answer: no routing, log line, body read or database
    (the token is checked in memory). Its valid tokens, and its requests without one, pass as ever.
    Its requests to the OAuth endpoints wait the tarpit's hold, then are checked as ever (a client's
    secret is in the database); when the tarpit is full, they are refused unchecked. Other addresses
    pass at the cost of a dictionary lookup."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = scope["app"].state
            source = failures.source_of(scope)
            if state.auth_failures.refusal(source) is not None and await _refused(scope, send, state, source):
                return
        await self.app(scope, receive, send)


async def _refused(scope: Scope, send: Send, state: Any, source: str | None) -> bool:
    """Whether the request of a refused ``source`` was answered here."""
    path = scope["path"]
    tarpit: failures.Tarpit = state.auth_tarpit
    request_id = incoming_request_id(scope) or uuid.uuid4().hex
    if path.startswith(API_PREFIX):
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if header is None:
            return False
        try:
            await authenticate(state, header.decode("latin-1"))
        except service.TokenRejected as exc:
            verdict = await failures.account(scope, FailureKey(source, exc.reason))
            await tarpit.hold()
            await _send_problem(scope, send, service.refused(exc.description, verdict), request_id)
            return True
        return False
    if path in OAUTH_ENDPOINTS and scope["method"] == "POST":
        if await tarpit.hold():
            return False
        retry_after = state.auth_failures.refusal(source) or 1
        state.metrics.auth_refusals.labels("unchecked").inc()
        body = {
            "error": "invalid_client",
            "error_description": f"too many failed attempts from this address; retry in {retry_after} s",
        }
        headers = [
            (b"cache-control", b"no-store"),
            (b"pragma", b"no-cache"),
            (b"retry-after", str(retry_after).encode()),
        ]
        await _send(send, 429, b"application/json", msgspec.json.encode(body), headers, request_id)
        return True
    return False


async def _send_problem(scope: Scope, send: Send, error: MsnetError, request_id: str) -> None:
    """``error`` as the problem the exception handlers would make of it, without them."""
    problem = Problem(
        type=problem_type(error.type_slug),
        title=error.title,
        status=error.status,
        detail=error.detail,
        instance=scope["path"],
        request_id=request_id,
    )
    headers = [(k.lower().encode(), v.encode()) for k, v in error.extra.get("headers", {}).items()]
    body = msgspec.json.encode(problem)
    await _send(send, error.status, PROBLEM_JSON.encode(), body, headers, request_id)


async def _send(
    send: Send,
    status: int,
    content_type: bytes,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    request_id: str,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (REQUEST_ID_HEADER, request_id.encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def authenticate(state: Any, header: str) -> Principal:
    """The principal of an ``Authorization`` header's access token, checked in memory (but for a key
    this process has not seen: see ``verify_with_reload``); TokenRejected when it carries none that
    verifies."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise service.TokenRejected("not_bearer", NOT_BEARER)
    principal, _ = await verify_with_reload(state, token.strip())
    return principal


async def verify_with_reload(state, token: str):  # type: ignore[no-untyped-def]
    """Verify; a key this process does not know (rotated elsewhere) reloads the key ring, at most once
    a second however many tokens name unknown keys (one reload at a time: see ``msnet.app``)."""
    key_ring: KeyRing = state.key_ring
    try:
        return state.verifier(token, key_ring)
    except service.TokenRejected as exc:
        if exc.reason == "unknown_key" and not key_ring.recently_loaded():
            await state.reload_key_ring()
            return state.verifier(token, state.key_ring)
        raise
