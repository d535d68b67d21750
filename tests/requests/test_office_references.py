"""An office that support requests or their responses name cannot be deleted: a 409 that changes
nothing, whoever's rows name it — also when row-level security hides them from its owner."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.helpers import Caller
from tests.requests.conftest import PROBLEM, Network, get, make_request, post


async def _delete(client: AsyncTestClient, caller: Caller, office: dict) -> None:
    etag = (await client.get(f"/v1/offices/{office['id']}", headers=caller.headers)).headers["etag"]
    response = await client.delete(
        f"/v1/offices/{office['id']}", headers={**caller.headers, "If-Match": etag}
    )
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "support requests" in response.json()["detail"]
    await get(client, caller, f"/v1/offices/{office['id']}")


async def test_the_requesters_office_stays(client: AsyncTestClient, au: Caller, network: Network) -> None:
    await make_request(client, au, network, submit=False)
    await _delete(client, au, network.au_office)


async def test_an_office_that_answered_stays(
    client: AsyncTestClient, au: Caller, eu: Caller, network: Network
) -> None:
    request = await make_request(client, au, network)
    await post(
        client,
        eu,
        f"/v1/requests/{request['id']}/responses",
        {"office_id": network.eu_office["id"], "kind": "decline", "reason": "No capacity this quarter."},
    )
    await _delete(client, eu, network.eu_office)


async def test_an_office_no_request_names_is_deleted(
    client: AsyncTestClient, igad: Caller, network: Network
) -> None:
    office = network.igad_office
    etag = (await client.get(f"/v1/offices/{office['id']}", headers=igad.headers)).headers["etag"]
    response = await client.delete(f"/v1/offices/{office['id']}", headers={**igad.headers, "If-Match": etag})
    assert response.status_code == 204, response.text
    await get(client, igad, f"/v1/offices/{office['id']}", status=404)
