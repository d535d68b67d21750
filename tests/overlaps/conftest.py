"""Fixtures of the deconfliction tests: the request tests' callers and network, a fourth
organisation (the UN) that is party to nothing, webhooks for everyone, and helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.helpers import Caller, MakeCaller
from tests.requests import conftest as requests_fixtures
from tests.requests.conftest import SCOPES, Network, get, make_office, post, request_body, rows

au, eu, igad, network = (
    requests_fixtures.au,
    requests_fixtures.eu,
    requests_fixtures.igad,
    requests_fixtures.network,
)
__all__ = ["get", "post", "request_body", "rows"]

EVENTS = ["overlap.detected", "overlap.message", "overlap.resolved", "request.state_changed"]


@pytest.fixture
async def un(make_caller: MakeCaller) -> Caller:
    return await make_caller("un", SCOPES)


@dataclass
class World:
    network: Network
    au: Caller
    eu: Caller
    igad: Caller
    un: Caller
    un_office: dict


@pytest.fixture
async def world(
    client: AsyncTestClient,
    make_caller: MakeCaller,
    network: Network,
    au: Caller,
    eu: Caller,
    igad: Caller,
    un: Caller,
) -> World:
    """AU, EU and IGAD as in the request tests, and the UN with an office of its own; every one with
    a webhook for the overlap events."""
    un_office = await make_office(client, un)
    for caller in (au, eu, igad, un):
        await post(
            client,
            await make_caller(caller.slug, ["org:admin"]),
            "/v1/webhooks",
            {"url": f"https://{caller.slug}.example.org/hooks", "event_types": EVENTS},
        )
    return World(network, au, eu, igad, un, un_office)


async def ask(
    client: AsyncTestClient,
    caller: Caller,
    office_id: str,
    addressees: list[str],
    process_id: str,
    *,
    submit: bool = True,
    **fields: Any,
) -> dict:
    """A request of ``caller``'s office on ``process_id`` (defaults of the request tests: process
    design, ceasefire, from a month from now for two months), submitted unless told otherwise."""
    body = request_body(process_id, office_id, addressees=addressees, **fields)
    made = await post(client, caller, "/v1/requests", body)
    if submit:
        made = await post(client, caller, f"/v1/requests/{made['id']}/submit", status=200)
    return made


async def cases(client: AsyncTestClient, caller: Caller) -> dict:
    return await get(client, caller, "/v1/overlaps")


async def events(owner_conn: asyncpg.Connection, slug: str, event_type: str) -> list[dict]:
    """The ``event_type`` webhooks queued for organisation ``slug``, oldest first (their data)."""
    found = await rows(
        owner_conn,
        "SELECT m.payload FROM outbox_messages m JOIN organisations o ON o.id = m.organisation_id "
        "WHERE o.slug = $1 AND m.event_type = $2 ORDER BY m.created_at, m.id",
        slug,
        event_type,
    )
    return [json.loads(r["payload"])["data"] for r in found]
