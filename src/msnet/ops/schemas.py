"""Health answers."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from msnet.api import Struct


class Live(Struct):
    """The process is up."""

    status: Literal["ok"] = "ok"


class Ready(Struct):
    """The database answers and its schema is at this release's head."""

    status: Literal["ready"]
    schema_revision: Annotated[str, Meta(examples=["0019"])]
