"""What a request's life tells the parties' webhooks: the outbox rows written in each step's
transaction, for whom, with what (no delivery: no worker runs here)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from msnet.settings import Settings
from tests.helpers import MakeCaller, org_ids
from tests.requests.conftest import (
    Caller,
    Network,
    make_office,
    make_request,
    patch,
    post,
)

REQUEST_EVENTS = ["request.received", "request.response", "request.accepted", "request.state_changed"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No delivery worker in the app: the rows stay as written."""
    return replace(settings, worker=False)


class Outbox:
    """The webhook messages written so far, read as the schema owner (it sees every organisation's)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.seen = 0

    async def new(self) -> Counter:
        """The messages written since the last call, as (organisation, type, data) counted."""
        slugs = {v: k for k, v in (await org_ids(self.conn)).items()}
        rows = await self.conn.fetch(
            "SELECT organisation_id, kind, event_type, payload FROM outbox_messages ORDER BY created_at, id"
        )
        fresh, self.seen = rows[self.seen :], len(rows)
        found: Counter = Counter()
        for row in fresh:
            assert row["kind"] == "webhook"
            body = json.loads(row["payload"])
            assert body["type"] == row["event_type"]
            found[(slugs[row["organisation_id"]], row["event_type"], _frozen(body["data"]))] += 1
        return found


def _frozen(data: Any) -> Any:
    if isinstance(data, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in data.items()))
    if isinstance(data, list):
        return tuple(_frozen(v) for v in data)
    return data


def expect(*events: tuple[str, str, dict]) -> Counter:
    return Counter((slug, kind, _frozen(data)) for slug, kind, data in events)


@pytest.fixture
async def outbox(
    client: AsyncTestClient,
    owner_conn: asyncpg.Connection,
    au: Caller,
    eu: Caller,
    igad: Caller,
    make_caller: MakeCaller,
) -> Outbox:
    """Each organisation listens for every request event on one endpoint."""
    for slug in ("au", "eu", "igad"):
        admin = await make_caller(slug, ["org:admin"])
        await post(
            client,
            admin,
            "/v1/webhooks",
            {"url": f"https://cases.{slug}.example/hooks/msnet", "event_types": REQUEST_EVENTS},
        )
    return Outbox(owner_conn)


def changed(request_id: str, before: str, after: str) -> dict:
    return {"request_id": request_id, "from": before, "to": after}


async def test_each_step_tells_the_parties(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller, network: Network, outbox: Outbox
) -> None:
    made = await make_request(client, au, network, submit=False)
    rid = made["id"]
    url = f"/v1/requests/{rid}"
    await patch(client, au, url, {"title": "Ceasefire monitoring design"})
    assert await outbox.new() == Counter()  # a draft tells no one

    await post(client, au, f"{url}/submit", status=200)
    assert await outbox.new() == expect(
        ("eu", "request.received", {"request_id": rid, "offices": [network.eu_office["id"]]}),
        ("au", "request.state_changed", changed(rid, "draft", "submitted")),
        ("eu", "request.state_changed", changed(rid, "draft", "submitted")),
    )

    # an office added later is told; those already addressed are not told again
    addressees = [network.eu_office["id"], network.igad_office["id"]]
    await patch(client, au, url, {"addressees": addressees})
    assert await outbox.new() == expect(
        ("igad", "request.received", {"request_id": rid, "offices": [network.igad_office["id"]]})
    )

    offer = await post(
        client, eu, f"{url}/responses", {"office_id": network.eu_office["id"], "kind": "offer"}
    )
    assert await outbox.new() == expect(
        (
            "au",
            "request.response",
            {
                "request_id": rid,
                "response_id": offer["id"],
                "office_id": network.eu_office["id"],
                "kind": "offer",
            },
        ),
        *(
            (slug, "request.state_changed", changed(rid, "submitted", "received"))
            for slug in ("au", "eu", "igad")
        ),
    )

    decline = await post(
        client,
        igad,
        f"{url}/responses",
        {"office_id": network.igad_office["id"], "kind": "decline", "reason": "outside our region"},
    )
    assert await outbox.new() == expect(
        (
            "au",
            "request.response",
            {
                "request_id": rid,
                "response_id": decline["id"],
                "office_id": network.igad_office["id"],
                "kind": "decline",
            },
        )
    )

    await post(client, au, f"{url}/responses/{offer['id']}/accept", status=200)
    assert await outbox.new() == expect(
        ("eu", "request.accepted", {"request_id": rid, "response_id": offer["id"], "accepted": True}),
        ("igad", "request.accepted", {"request_id": rid, "response_id": decline["id"], "accepted": False}),
        *(
            (slug, "request.state_changed", changed(rid, "received", "accepted"))
            for slug in ("au", "eu", "igad")
        ),
    )

    await post(client, au, f"{url}/close", {"delivered": True, "modality": "remote"}, status=200)
    assert await outbox.new() == expect(
        *(
            (slug, "request.state_changed", changed(rid, "accepted", "completed"))
            for slug in ("au", "eu", "igad")
        )
    )

    # offices a request is routed to are told at submit
    routed = await make_request(client, au, network, submit=False, route="best_matches", addressees=[])
    await post(client, au, f"/v1/requests/{routed['id']}/submit", status=200)
    assert (
        expect(("eu", "request.received", {"request_id": routed["id"], "offices": [network.eu_office["id"]]}))
        <= await outbox.new()
    )


async def test_a_refused_step_tells_no_one_and_a_withdrawn_draft_only_the_requester(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network, outbox: Outbox
) -> None:
    sent = await make_request(client, au, network)
    body = {"office_id": network.eu_office["id"], "kind": "offer"}
    await post(client, eu, f"/v1/requests/{sent['id']}/responses", body)
    await outbox.new()
    again = await client.post(f"/v1/requests/{sent['id']}/responses", json=body, headers=eu.headers)
    assert again.status_code == 409
    refused = await client.post(f"/v1/requests/{sent['id']}/submit", headers=au.headers)
    assert refused.status_code == 409
    url = f"/v1/requests/{sent['id']}"
    etag = (await client.get(url, headers=au.headers)).headers["etag"]
    held = await client.patch(
        url, json={"title": "Renamed", "state": "completed"}, headers={**au.headers, "If-Match": etag}
    )
    assert held.status_code == 409
    assert await outbox.new() == Counter()

    # the addressees of a draft never saw it: its withdrawal is the requester's news alone
    made = await make_request(client, au, network, submit=False)
    await post(client, au, f"/v1/requests/{made['id']}/withdraw", status=200)
    assert await outbox.new() == expect(
        ("au", "request.state_changed", changed(made["id"], "draft", "cancelled"))
    )


async def test_a_second_office_of_an_addressed_organisation_is_told_it_received_the_request(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network, outbox: Outbox
) -> None:
    desk = await make_office(client, eu, "EU Brussels desk")
    made = await make_request(client, au, network)
    await outbox.new()
    await patch(
        client, au, f"/v1/requests/{made['id']}", {"addressees": [network.eu_office["id"], desk["id"]]}
    )
    received = [dict(data) for slug, kind, data in await outbox.new() if kind == "request.received"]
    assert len(received) == 1, received
    assert received[0]["request_id"] == made["id"]
    assert desk["id"] in received[0]["offices"]
