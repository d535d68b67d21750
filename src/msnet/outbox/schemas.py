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
    """A webhook endpoint to register: where to POST the organisation's events, and which."""

    url: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=MAX_URL,
            description="An http(s) URL that accepts POSTed events.",
            examples=["https://cases.au.example.org/hooks/msnet"],
        ),
    ]
    event_types: Annotated[
        list[EventType],
        Meta(
            min_length=1,
            max_length=len(EVENT_TYPES),
            examples=[["request.received", "overlap.detected"]],
        ),
    ]
    description: Annotated[str, Meta(max_length=500, examples=["AU case management system"])] = ""


class Webhook(Struct):
    """A webhook endpoint of the organisation (without its signing secret)."""

    id: UUID
    organisation: str
    url: Annotated[str, Meta(examples=["https://cases.au.example.org/hooks/msnet"])]
    event_types: Annotated[list[str], Meta(examples=[["request.received", "overlap.detected"]])]
    description: Annotated[str, Meta(examples=["AU case management system"])]
    active: Annotated[bool, Meta(examples=[True])]
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(Webhook):
    """A webhook endpoint just registered, with its signing secret (this response only)."""

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
    """A page of the organisation's webhook endpoints."""

    items: list[Webhook]
    next_cursor: str | None
    total: int
