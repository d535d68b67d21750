"""API boundary of identity: clients, token responses, OAuth errors, server metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from msnet.api import Struct
from msnet.auth.principal import SCOPES

Scope = Literal[SCOPES]  # type: ignore[valid-type]


def as_dict(struct: Struct) -> dict[str, Any]:
    return {f: getattr(struct, f) for f in struct.__struct_fields__}


class ClientCreate(Struct):
    """A new OAuth client of the organisation: its name, the scopes it may ask for, and a public JWKS when it
    is to authenticate with private_key_jwt instead of a secret."""

    name: Annotated[str, Meta(min_length=2, max_length=200, examples=["AU roster synchronisation"])]
    scopes: Annotated[
        list[Scope], Meta(min_length=1, max_length=len(SCOPES), examples=[["roster:read", "roster:write"]])
    ]
    jwks: (
        Annotated[dict[str, Any], Meta(description="Public keys for private_key_jwt; omit for a secret.")]
        | None
    ) = None


class Client(Struct):
    """An OAuth client of the organisation (never its secret)."""

    client_id: Annotated[str, Meta(examples=["au.Xb7Hq2mZ4kPw9TfR"])]
    organisation: str
    name: Annotated[str, Meta(examples=["AU roster synchronisation"])]
    scopes: Annotated[list[str], Meta(examples=[["roster:read", "roster:write"]])]
    auth_method: Literal["client_secret_basic", "private_key_jwt"]
    created_at: datetime
    created_by: Annotated[str, Meta(examples=["client:au.Lm3Np8QrS2tUv6Wx"])]


class ClientCreated(Client):
    """A client just registered, or whose secret was just rotated: with its secret, shown in this response
    only (none for a private_key_jwt client)."""

    client_secret: Annotated[
        str | None, Meta(examples=["mss_Vq9c2X7bLr0m4TzK8sNf1HwYp6dJe3Ga5UoQiRtBxCk"])
    ] = msgspec.field(default=None)


class ClientPage(Struct):
    """A page of the organisation's OAuth clients."""

    items: list[Client]
    next_cursor: str | None
    total: int


class TokenResponse(Struct):
    """An access token (a JWT, RFC 9068) and what it allows (RFC 6749 §5.1)."""

    access_token: Annotated[
        str,
        Meta(
            examples=["eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6Im4xIn0.eyJvcmciOiJhdSJ9.c2lnbmF0dXJl"]
        ),
    ]
    token_type: Literal["Bearer"]
    expires_in: Annotated[int, Meta(examples=[600])]
    scope: Annotated[str, Meta(examples=["roster:read requests:write"])]


class OAuthError(Struct):
    """An OAuth 2.0 error (RFC 6749 §5.2), as the token, revocation and introspection endpoints answer them."""

    error: Annotated[str, Meta(examples=["invalid_client"])]
    error_description: Annotated[str | None, Meta(examples=["client authentication failed"])] = None
    error_uri: str | None = None
