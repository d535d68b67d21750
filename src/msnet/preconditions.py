"""Optimistic concurrency: a record's ``version`` is its ETag; ``If-Match`` with a stale one is 412."""

from __future__ import annotations

import re
from typing import Annotated

from litestar.params import HeaderParameter

from msnet.errors import InvalidInput, PreconditionFailed

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        max_length=100,
        description='The ETag (version) you read, e.g. `"3"`; a stale one is refused with 412.',
    ),
]
_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


def check_version(if_match: str | None, current: int) -> None:
    """Nothing to check without ``If-Match`` (or with ``*``); otherwise the versions must agree."""
    if if_match is None or if_match.strip() == "*":
        return
    versions = [_ETAG.match(part) for part in if_match.split(",")]
    if not all(versions):
        raise InvalidInput.field("If-Match", 'must be an ETag this API gave out, e.g. "3"')
    if current not in {int(m.group(1)) for m in versions if m}:
        raise PreconditionFailed(f"the record is at version {current}; read it again and retry")
