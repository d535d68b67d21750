"""Every state-changing request of the pages carries a token bound to the person's session.

The token is an HMAC of the session's (hashed) token under a key derived from the node's secret:
forms carry it as the field ``csrf_token`` (``{{ csrf_field() }}`` in a template), htmx as the header
``X-CSRF-Token`` (set on ``<body>`` by the base template). A POST without a session, with a wrong
token, or from another site (``Origin``, ``Sec-Fetch-Site``) is refused with 403 before its handler
runs. The session cookie is SameSite=Lax besides.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit
from uuid import UUID

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import FormMultiDict
from litestar.handlers.base import BaseRouteHandler

from msnet.auth.keys import derive_key
from msnet.errors import Forbidden
from msnet.settings import Settings

FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


#: ``opt`` of a form's handler whose input is kept when it is sent after its session ended
KEEPS_INPUT = {"keeps_input": True}


class SessionEnded(Forbidden):
    """A form sent after its session ended: a 403, unless its handler's ``opt`` has
    :data:`KEEPS_INPUT` (``kept`` then holds the form's fields for its exception handler, e.g.
    :func:`msnet.web.requests.keep_input`, and ``organisation_id`` the ended session's organisation
    when the browser's cookie still named it)."""

    def __init__(
        self, detail: str, kept: FormMultiDict | None = None, organisation_id: UUID | None = None
    ) -> None:
        super().__init__(detail)
        self.kept = kept
        self.organisation_id = organisation_id


def token_for(settings: Settings, session_token_hash: str) -> str:
    key = derive_key(settings.secret_key or "", b"web-csrf")
    return hmac.new(key, session_token_hash.encode(), hashlib.sha256).hexdigest()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def check(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A guard of every page: a POST must come from this site, in a session, with its token."""
    if connection.scope["method"] in SAFE_METHODS:
        return
    settings: Settings = connection.app.state.settings
    origin = connection.headers.get("origin")
    if origin is not None and _origin(origin) != _origin(settings.issuer):
        raise Forbidden("this form was sent from another site")
    if connection.headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
        raise Forbidden("this form was sent from another site")
    signed_in = connection.scope.get("state", {}).get("signed_in")
    if signed_in is None:
        kept = (
            await Request(connection.scope, connection.receive).form()
            if handler.opt.get("keeps_input")
            else None
        )
        raise SessionEnded(
            "your session has ended: sign in again",
            kept,
            connection.scope.get("state", {}).get("ended_organisation"),
        )
    sent = connection.headers.get(HEADER)
    if sent is None:
        form = await Request(connection.scope, connection.receive).form()
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    if sent is None or not hmac.compare_digest(sent, token_for(settings, signed_in.token_hash)):
        raise Forbidden("the form has expired or was not sent from this site: reload the page and try again")
