"""API boundary of webhooks, and the one list of event types msnet emits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from msnet.api import Struct

EVENT_TYPES = (
    "request.received",
    "request.response",
    "request.accepted",
    "request.state_changed",
    "overlap.detected",
    "overlap.message",
    "overlap.resolved",
)
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
MAX_URL = 2000


class WebhookCreate(Struct):
    url: Annotated[
        str,
        Meta(min_length=1, max_length=MAX_URL, description="An http(s) URL that accepts POSTed events."),
    ]
    event_types: Annotated[list[EventType], Meta(min_length=1, max_length=len(EVENT_TYPES))]
    description: Annotated[str, Meta(max_length=500)] = ""


class Webhook(Struct):
    id: UUID
    organisation: str
    url: str
    event_types: list[str]
    description: str
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(Webhook):
    secret: (
        Annotated[
            str,
            Meta(
                description="The signing secret (`whsec_` + base64), shown in this response only: "
                "absent when an Idempotency-Key replays it."
            ),
        ]
        | None
    ) = msgspec.field(default=None)


class WebhookPage(Struct):
    items: list[Webhook]
    next_cursor: str | None
    total: int
