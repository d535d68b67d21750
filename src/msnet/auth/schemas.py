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
    name: Annotated[str, Meta(min_length=2, max_length=200)]
    scopes: Annotated[list[Scope], Meta(min_length=1, max_length=len(SCOPES))]
    jwks: (
        Annotated[dict[str, Any], Meta(description="Public keys for private_key_jwt; omit for a secret.")]
        | None
    ) = None


class Client(Struct):
    client_id: str
    organisation: str
    name: str
    scopes: list[str]
    auth_method: Literal["client_secret_basic", "private_key_jwt"]
    created_at: datetime
    created_by: str


class ClientCreated(Client):
    client_secret: str | None = msgspec.field(default=None)


class ClientPage(Struct):
    items: list[Client]
    next_cursor: str | None
    total: int


class TokenResponse(Struct):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


class OAuthError(Struct):
    error: str
    error_description: str | None = None
    error_uri: str | None = None
