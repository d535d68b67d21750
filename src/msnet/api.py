"""What every API module shares: the struct base, keyset cursors, paging and search parameters."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter
from msgspec import UNSET

from msnet.errors import InvalidInput


class Struct(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every request and response body: unknown fields are an error, not ignored."""


DEFAULT_LIMIT = 50
Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Page size.")]
Cursor = Annotated[
    str | None, QueryParameter(max_length=512, description="`next_cursor` of the previous page.")
]
Text = Annotated[str | None, QueryParameter(max_length=200, description="Free text (accents ignored).")]
Term = Annotated[str | None, QueryParameter(max_length=60, description="A taxonomy id (see /v1/taxonomy).")]
Slug = Annotated[str | None, QueryParameter(max_length=32, description="An organisation's slug.")]
Code = Annotated[str | None, QueryParameter(max_length=3, description="ISO 3166-1 alpha-2 or ISO 639 code.")]


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(values))).decode().rstrip("=")


_BIGINT = 2**63


def decode_cursor(cursor: str, *types: type) -> list[Any]:
    """The key of the last row of the previous page, one value of each of ``types``; a tampered
    cursor is a 422 naming `cursor`."""
    bad = InvalidInput.field("cursor", "is not a cursor this API gave out")
    try:
        values = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise bad from None
    if not isinstance(values, list) or len(values) != len(types):
        raise bad
    for value, expected in zip(values, types, strict=True):
        if type(value) is not expected and not (expected is float and type(value) is int):
            raise bad
        if type(value) is int and not -_BIGINT <= value < _BIGINT:
            raise bad
    return values


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def instant(field: str, value: datetime | None) -> datetime | None:
    """An instant from a request, in UTC; a naive one, or one outside 1900–9999, is a 422."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput.field(field, "needs a time zone (RFC 3339), e.g. 2027-03-01T00:00:00Z")
    try:
        normalised = value.astimezone(UTC)
    except OverflowError:
        normalised = None
    if normalised is None or not EARLIEST <= normalised < LATEST:
        raise InvalidInput.field(field, "must be between 1900 and 9999")
    return normalised


def set_fields(data: Any) -> dict[str, Any]:
    """The fields an Update struct sets (UNSET ones are left alone)."""
    return {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not UNSET}
