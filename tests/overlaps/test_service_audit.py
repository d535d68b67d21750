"""Deconfliction's services record their own audit entries, whoever acts: a person or a peer node
submitting, sharing, writing and resolving through the services directly leaves the entries an API
client leaves, naming itself."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar.testing import AsyncTestClient

from msnet.organisations.models import Organisation
from msnet.overlaps import schemas
from msnet.overlaps import service as overlaps
from msnet.requests import service as requests
from msnet.settings import Settings
from tests.audit.actors import acting, digest, entries, entry, node, person
from tests.overlaps.conftest import ask
from tests.requests.conftest import Caller, Network

PERSON = "person:https://idp.example#alice"
NODE = "node:https://node.example"


async def _not_clients(owner_conn: asyncpg.Connection, org: Organisation) -> list[dict[str, Any]]:
    """The organisation's entries but those of the API clients that built the network."""
    return [e for e in await entries(owner_conn, org) if not e["actor"].startswith("client:")]


async def test_a_person_and_a_node_leave_entries_naming_them(
    client: AsyncTestClient,
    settings: Settings,
    network: Network,
    au: Caller,
    igad: Caller,
    owner_conn: asyncpg.Connection,
) -> None:
    eu_office = network.eu_office["id"]
    a = await ask(client, au, network.au_office["id"], [eu_office], network.process["id"])
    b = await ask(client, igad, network.igad_office["id"], [eu_office], network.process["id"], submit=False)
    b_id = UUID(b["id"])
    async with acting(settings, "igad") as (session, igad_org):
        await requests.submit_request(session, node(igad_org), b_id)
        (case,) = (
            await overlaps.list_cases(session, node(igad_org), status=None, limit=5, cursor=None)
        ).items
    share = schemas.Share(request_id=UUID(a["id"]))
    proposal = schemas.Resolution(kind="complementary", note="AU on design, IGAD on monitoring.")
    async with acting(settings, "au") as (session, au_org):
        await overlaps.share(session, person(au_org), case.id, share)
        proposed = await overlaps.resolve(session, person(au_org), case.id, proposal)
    assert proposed.proposal is not None
    agree = schemas.Resolution(agree=proposed.proposal.id)
    hello = schemas.MessageCreate(body="Shall we split the work?")
    async with acting(settings, "igad") as (session, igad_org):
        message = await overlaps.post_message(session, node(igad_org), case.id, hello)
        await overlaps.resolve(session, node(igad_org), case.id, agree)
    async with acting(settings, "eu") as (session, eu_org):
        resolved = await overlaps.resolve(session, person(eu_org), case.id, agree)
    assert resolved.status == "resolved"

    assert await _not_clients(owner_conn, igad_org) == [
        entry(NODE, "overlap.detected", "overlap_case", case.id, digest({"request_id": str(b_id)})),
        entry(NODE, "request.submit", "request", b_id),
        entry(NODE, "overlap.message", "overlap_message", message.id, digest(hello)),
        entry(NODE, "overlap.agree", "overlap_case", case.id, digest(agree)),
    ]
    assert await _not_clients(owner_conn, au_org) == [
        entry(PERSON, "overlap.share", "overlap_case", case.id, digest(share)),
        entry(PERSON, "overlap.propose", "overlap_case", case.id, digest(proposal)),
    ]
    assert await _not_clients(owner_conn, eu_org) == [
        entry(PERSON, "overlap.agree", "overlap_case", case.id, digest(agree)),
    ]
