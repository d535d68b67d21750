"""Bearer-token authentication for /v1: a valid token becomes the request's principal."""

from __future__ import annotations

from litestar.types import ASGIApp, Receive, Scope, Send

from msnet.auth import failures, service
from msnet.auth.failures import FailureKey
from msnet.auth.keys import KeyRing

API_PREFIX = "/v1/"


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

    async def _authenticate(self, scope: Scope, header: str):  # type: ignore[no-untyped-def]
        state = scope["app"].state
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            verdict = await failures.account(scope, FailureKey(failures.source_of(scope), "not_bearer"))
            raise service.refused("send an access token as 'Authorization: Bearer <token>'", verdict)
        try:
            principal, _ = await verify_with_reload(state, token.strip())
        except service.TokenRejected as exc:
            verdict = await failures.account(scope, FailureKey(failures.source_of(scope), exc.reason))
            raise service.refused(exc.description, verdict) from None
        return principal


async def verify_with_reload(state, token: str):  # type: ignore[no-untyped-def]
    """Verify; a key this process has not seen yet (rotated elsewhere) reloads the key ring once."""
    key_ring: KeyRing = state.key_ring
    try:
        return state.verifier(token, key_ring)
    except service.TokenRejected:
        if not key_ring.recently_loaded():
            await state.reload_key_ring()
            return state.verifier(token, state.key_ring)
        raise
