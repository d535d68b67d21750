"""The requests' services record their own audit entries, whoever acts: a person or a peer node calling
them directly (as the staff pages or the node inbox will) leaves the entries an API client leaves,
naming itself, and gets the same Idempotency-Key replay."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

from msnet.idempotency.service import Replayed
from msnet.organisations.models import Organisation
from msnet.requests import responses, schemas, service
from msnet.settings import Settings
from tests.audit.actors import acting, digest, entries, entry, node, person
from tests.requests.conftest import Network, request_body

PERSON = "person:https://idp.example#alice"
NODE = "node:https://node.example"


async def _not_clients(owner_conn: asyncpg.Connection, org: Organisation) -> list[dict[str, Any]]:
    """The organisation's entries but those of the API clients that built the network."""
    return [e for e in await entries(owner_conn, org) if not e["actor"].startswith("client:")]


async def test_a_person_and_a_node_leave_entries_naming_them(
    client: AsyncTestClient, settings: Settings, network: Network, owner_conn: asyncpg.Connection
) -> None:
    body = request_body(network.process["id"], network.au_office["id"], addressees=[network.eu_office["id"]])
    create = msgspec.convert(body, schemas.RequestCreate)
    hold, resume = schemas.RequestUpdate(state="on-hold"), schemas.RequestUpdate(state="submitted")
    offer = schemas.ResponseCreate(office_id=UUID(network.eu_office["id"]), kind="offer", note="Two experts.")
    outcome = schemas.Outcome(delivered=True, modality="remote")
    async with acting(settings, "au") as (session, au):
        made = await service.create_request(
            session, person(au), create, origin=settings.issuer, idempotency_key="request-1"
        )
        assert isinstance(made, schemas.RequestDetail)
    async with acting(settings, "au") as (session, au):
        again = await service.create_request(
            session, person(au), create, origin=settings.issuer, idempotency_key="request-1"
        )
        assert isinstance(again, Replayed)
        assert msgspec.json.decode(again.body)["id"] == str(made.id)
        await service.submit_request(session, node(au), made.id)
        await service.update_request(session, person(au), made.id, hold, None)
        await service.update_request(session, person(au), made.id, resume, None)
        draft = await service.create_request(session, node(au), create, origin=settings.issuer)
        assert isinstance(draft, schemas.RequestDetail)
        await service.withdraw_request(session, node(au), draft.id)
    async with acting(settings, "eu") as (session, eu):
        response = await responses.respond(session, node(eu), made.id, offer, origin=settings.issuer)
        assert isinstance(response, schemas.RequestResponse)
    async with acting(settings, "au") as (session, au):
        await responses.accept_response(session, person(au), made.id, response.id)
        await service.close_request(session, person(au), made.id, outcome)

    assert await _not_clients(owner_conn, au) == [
        entry(PERSON, "request.create", "request", made.id, digest(create)),
        entry(NODE, "request.submit", "request", made.id),
        entry(PERSON, "request.hold", "request", made.id, digest(hold)),
        entry(PERSON, "request.resume", "request", made.id, digest(resume)),
        entry(NODE, "request.create", "request", draft.id, digest(create)),
        entry(NODE, "request.withdraw", "request", draft.id),
        entry(PERSON, "request.accept", "request_response", response.id),
        entry(PERSON, "request.close", "request", made.id, digest(outcome)),
    ]
    assert await _not_clients(owner_conn, eu) == [
        entry(NODE, "request.respond", "request_response", response.id, digest(offer))
    ]
