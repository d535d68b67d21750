"""Health answers."""

from __future__ import annotations

from typing import Literal

from msnet.api import Struct


class Live(Struct):
    status: Literal["ok"] = "ok"


class Ready(Struct):
    status: Literal["ready"]
    schema_revision: str
