"""Optimistic concurrency: a record's ``version`` is its ETag. A change or deletion of a versioned
record sends back the ETag it read in ``If-Match``: without one it is refused with 428, with a stale
one with 412."""

from __future__ import annotations

import re
from typing import Annotated

from litestar import Request
from litestar.handlers import HTTPRouteHandler
from litestar.params import HeaderParameter

from msnet.errors import InvalidInput, PreconditionFailed, PreconditionRequired

IF_MATCH = "If-Match"
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name=IF_MATCH,
        required=True,
        max_length=100,
        description='The ETag (version) you read, e.g. `"3"`: required (428 without it); a stale one is '
        "refused with 412.",
    ),
]
OptionalIfMatch = Annotated[
    str | None,
    HeaderParameter(
        name=IF_MATCH,
        max_length=100,
        description='The ETag (version) you read, e.g. `"3"`, if you want to be sure nothing changed since; '
        "a stale one is refused with 412.",
    ),
]
_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


def requires_if_match(handler: HTTPRouteHandler) -> bool:
    """Whether ``handler`` takes :data:`IfMatch` (the required one)."""
    return any(
        isinstance(kwarg := definition.kwarg_definition, HeaderParameter)
        and kwarg.name == IF_MATCH
        and kwarg.required
        for definition in handler.parsed_fn_signature.parameters.values()
    )


def require_if_match(request: Request) -> None:
    """A request without ``If-Match`` to a handler that requires it is refused with 428 before the
    handler reads anything."""
    if IF_MATCH not in request.headers and requires_if_match(request.route_handler):
        raise PreconditionRequired(
            "send If-Match with the ETag of the record as you read it (the ETag header of its GET, or its "
            'version in quotes: a capacity has no GET of its own), e.g. If-Match: "3"'
        )


def check_version(if_match: str | None, current: int) -> None:
    """Nothing to check without ``If-Match`` (or with ``*``); otherwise the versions must agree."""
    if if_match is None or if_match.strip() == "*":
        return
    versions = [_ETAG.match(part) for part in if_match.split(",")]
    if not all(versions):
        raise InvalidInput.field(IF_MATCH, 'must be an ETag this API gave out, e.g. "3"')
    if current not in {int(m.group(1)) for m in versions if m}:
        raise PreconditionFailed(f"the record is at version {current}; read it again and retry")
