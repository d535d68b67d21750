"""What every API module shares: the struct base, keyset cursors, paging parameters."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter

from msnet.errors import InvalidInput


class Struct(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every request and response body: unknown fields are an error, not ignored."""


DEFAULT_LIMIT = 50
Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Page size.")]
Cursor = Annotated[
    str | None, QueryParameter(max_length=512, description="`next_cursor` of the previous page.")
]


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """The key of the last row of the previous page; a tampered cursor is a 422 naming `cursor`."""
    try:
        values = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidInput.field("cursor", "is not a cursor this API gave out") from None
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidInput.field("cursor", "is not a cursor this API gave out")
    return values
