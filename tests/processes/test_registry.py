"""The process registry: proposing with every field, bad input naming the field (and writing nothing),
sharing on every endpoint, merging with aliases that still resolve, If-Match, Idempotency-Key."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.helpers import MakeCaller
from tests.requests.conftest import (
    PROBLEM,
    Caller,
    count,
    field_errors,
    get,
    make_office,
    post,
    request_body,
)

PROCESSES = "/v1/processes"


def process_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Central African Republic peace process",
        "countries": ["CF"],
        "conflict_parties": ["Government of CAR", "Coalition des patriotes pour le changement"],
    }
    body.update(fields)
    return body


async def propose(client: AsyncTestClient, caller: Caller, **fields: Any) -> dict[str, Any]:
    return await post(client, caller, PROCESSES, process_body(**fields))


async def listed(client: AsyncTestClient, caller: Caller | None, **params: Any) -> tuple[set[str], int]:
    response = await client.get(PROCESSES, params=params, headers=caller.headers if caller else {})
    assert response.status_code == 200, response.text
    body = response.json()
    return {p["id"] for p in body["items"]}, body["total"]


async def audited(client: AsyncTestClient, caller: Caller, resource_id: str) -> list[str]:
    body = await get(client, caller, "/v1/audit", resource_id=resource_id)
    return sorted(e["action"] for e in body["items"])


# --- proposing -------------------------------------------------------------------------------


async def test_a_member_proposes_a_process_with_every_field(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    made = await propose(
        client,
        au,
        name="Chad–CAR border dialogue",
        description="Cross-border local dialogue on transhumance corridors.",
        countries=["td", "CF", "TD"],
        region="middle_africa",
        level="subnational",
        track="1.5",
        lead_mediators=["au", "eu", "au"],
        phase="pre_negotiation",
        references={
            "ucdp_conflict_id": 11342,
            "peace_agreement_ids": ["PA-X:2137", "UNPM/CF/2019", "PA-X:2137"],
        },
    )
    assert made["organisation"] == "au"
    assert made["countries"] == ["CF", "TD"]
    assert made["region"] == "middle_africa"
    assert {"middle_africa", "sub_saharan_africa", "africa"} <= set(made["regions"])
    assert (made["level"], made["track"], made["phase"]) == ("subnational", "1.5", "pre_negotiation")
    assert made["lead_mediators"] == ["au", "eu"]
    assert made["conflict_parties"] == ["Government of CAR", "Coalition des patriotes pour le changement"]
    assert made["references"] == {
        "ucdp_conflict_id": 11342,
        "peace_agreement_ids": ["PA-X:2137", "UNPM/CF/2019"],
    }
    assert (made["sharing"], made["share_with"], made["aliases"]) == ("network", [], [])
    assert made["version"] == 1

    response = await client.get(f"{PROCESSES}/{made['id']}", headers=eu.headers)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    assert response.json() == made
    assert made["id"] in (await listed(client, eu, country="TD", level="subnational", track="1.5"))[0]
    assert made["id"] in (await listed(client, eu, q="transhumance"))[0]
    assert made["id"] not in (await listed(client, eu, phase="negotiation"))[0]
    assert await audited(client, au, made["id"]) == ["process.create"]

    # a region alone is enough
    regional = await propose(client, au, countries=[], region="eastern_africa", level="local", track="2")
    assert (regional["countries"], regional["regions"]) == ([], ["eastern_africa"])


# --- bad input -------------------------------------------------------------------------------

BAD_PROCESS_FIELDS = [
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
    pytest.param({"name": "N" * 201}, "name", id="name-too-long"),
    pytest.param({"name": "N"}, "name", id="name-too-short"),
    pytest.param({"description": "x" * 4001}, "description", id="description-too-long"),
    pytest.param({"countries": ["CF", "XX"]}, "countries.1", id="unknown-country"),
    pytest.param({"countries": ["CAF"]}, "countries.0", id="alpha3-country"),
    pytest.param({"region": "atlantis"}, "region", id="unknown-region"),
    pytest.param({"region": "KE"}, "region", id="country-as-region"),
    pytest.param({"level": "regional"}, "level", id="bad-level"),
    pytest.param({"track": "3"}, "track", id="bad-track"),
    pytest.param({"phase": "war"}, "phase", id="bad-phase"),
    pytest.param({"lead_mediators": ["au", "atlantis"]}, "lead_mediators.1", id="unknown-mediator"),
    pytest.param({"conflict_parties": ["x"]}, "conflict_parties.0", id="party-too-short"),
    pytest.param({"references": {"ucdp_conflict_id": 0}}, "references.ucdp_conflict_id", id="bad-ucdp-id"),
    pytest.param(
        {"references": {"peace_agreement_ids": ["ok-1", "not an id!"]}},
        "references.peace_agreement_ids.1",
        id="bad-agreement-id",
    ),
    pytest.param({"references": {"pax": 1}}, "references.pax", id="unknown-reference"),
    pytest.param({"sharing": "secret"}, "sharing", id="bad-sharing"),
    pytest.param({"sharing": "restricted"}, "share_with", id="restricted-without-share-with"),
    pytest.param(
        {"sharing": "restricted", "share_with": ["atlantis"]}, "share_with.0", id="share-with-unknown"
    ),
    pytest.param({"share_with": ["eu"]}, "share_with", id="share-with-when-not-restricted"),
]


async def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    await propose(client, au)
    cases = [(p.values[0], p.values[1], p.id) for p in BAD_PROCESS_FIELDS]
    cases += [
        ({"countries": [], "region": None}, "countries", "neither-country-nor-region"),
        ({"name": None}, "name", "null-name"),
    ]
    for changes, field, case in cases:
        response = await client.post(PROCESSES, json=process_body(**changes), headers=au.headers)
        assert response.status_code == 422, (case, response.text)
        assert field in field_errors(response), (case, response.text)
    missing = await client.post(PROCESSES, json={"countries": ["CF"]}, headers=au.headers)
    assert missing.status_code == 422
    assert "name" in field_errors(missing)
    broken = await client.post(
        PROCESSES,
        content=b'{"name": "Sahel", "countries": ',
        headers={**au.headers, "content-type": "application/json"},
    )
    assert broken.status_code == 400, broken.text
    assert broken.headers["content-type"] == PROBLEM
    assert (await listed(client, au))[1] == 1
    assert await count(owner_conn, "processes") == 1

    # the same on PATCH: a problem naming the field, and the process unchanged
    made = (await get(client, au, PROCESSES))["items"][0]
    url = f"{PROCESSES}/{made['id']}"
    cases = [(p.values[0], p.values[1], p.id) for p in BAD_PROCESS_FIELDS]
    cases.append(({"countries": []}, "countries", "no-country-left-and-no-region"))
    for changes, field, case in cases:
        response = await client.patch(url, json=changes, headers={**au.headers, "If-Match": '"1"'})
        assert response.status_code == 422, (case, response.text)
        assert field in field_errors(response), (case, response.text)
    broken = await client.patch(
        url, content=b"{name", headers={**au.headers, "content-type": "application/json", "If-Match": '"1"'}
    )
    assert broken.status_code == 400
    assert broken.headers["content-type"] == PROBLEM
    assert await get(client, au, url) == made


# --- sharing ---------------------------------------------------------------------------------


async def test_a_hidden_process_is_404_everywhere_and_absent_from_lists(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller
) -> None:
    private = await propose(client, au, name="Quiet channel", sharing="private")
    restricted = await propose(client, au, name="Shared channel", sharing="restricted", share_with=["eu"])
    public = await propose(client, au, name="Open process", sharing="public")
    network = await propose(client, au, name="Network process")
    everything = {p["id"] for p in (private, restricted, public, network)}

    assert await listed(client, au) == (everything, 4)
    assert await listed(client, eu) == (everything - {private["id"]}, 3)
    assert await listed(client, igad) == ({public["id"], network["id"]}, 2)
    assert await listed(client, None) == ({public["id"]}, 1)
    assert await listed(client, igad, organisation="au", country="CF") == ({public["id"], network["id"]}, 2)

    for caller, hidden in ((eu, [private]), (igad, [private, restricted])):
        office = await make_office(client, caller)
        for process in hidden:
            url = f"{PROCESSES}/{process['id']}"
            assert (await client.get(url, headers=caller.headers)).status_code == 404
            changed = await client.patch(
                url, json={"name": "Taken over"}, headers={**caller.headers, "If-Match": '"1"'}
            )
            assert changed.status_code == 404, changed.text
            merged = await client.post(f"{url}/merge", json={"into": network["id"]}, headers=caller.headers)
            assert merged.status_code == 404, merged.text
            # a request cannot refer to it, nor a process be merged into it
            asked = await client.post(
                "/v1/requests", json=request_body(process["id"], office["id"]), headers=caller.headers
            )
            assert asked.status_code == 422, asked.text
            assert field_errors(asked) == ["process_id"]
            own = await propose(client, caller, name=f"{caller.slug} duplicate")
            into = await client.post(
                f"{PROCESSES}/{own['id']}/merge", json={"into": process["id"]}, headers=caller.headers
            )
            assert into.status_code == 422, into.text
            assert field_errors(into) == ["into"]
    assert (await client.get(f"{PROCESSES}/{private['id']}")).status_code == 404
    assert (await client.get(f"{PROCESSES}/{public['id']}")).status_code == 200

    # a visible process of another organisation cannot be changed or merged by it
    url = f"{PROCESSES}/{restricted['id']}"
    assert (
        await client.patch(url, json={"name": "Taken over"}, headers={**eu.headers, "If-Match": '"1"'})
    ).status_code == 403
    merge = await client.post(f"{url}/merge", json={"into": network["id"]}, headers=eu.headers)
    assert merge.status_code == 403
    for process in (private, restricted, public, network):
        assert (await get(client, au, f"{PROCESSES}/{process['id']}"))["version"] == 1


async def test_tokens_and_scopes(client: AsyncTestClient, au: Caller, make_caller: MakeCaller) -> None:
    made = await propose(client, au)
    url = f"{PROCESSES}/{made['id']}"
    for response in (
        await client.post(PROCESSES, json=process_body()),
        await client.patch(url, json={"name": "Renamed"}),
        await client.post(f"{url}/merge", json={"into": made["id"]}),
    ):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == PROBLEM
    reader = await make_caller("au", ["requests:read"])
    for response in (
        await client.post(PROCESSES, json=process_body(), headers=reader.headers),
        await client.patch(url, json={"name": "Renamed"}, headers=reader.headers),
        await client.post(f"{url}/merge", json={"into": made["id"]}, headers=reader.headers),
    ):
        assert response.status_code == 403, response.text
    assert (await client.get(url, headers=reader.headers)).status_code == 200
    directory = await make_caller("au", ["directory:read"])
    assert (await client.get(url, headers=directory.headers)).status_code == 403
    assert (await client.get(PROCESSES, headers=directory.headers)).status_code == 403
    assert (await listed(client, au))[1] == 1
    assert (await get(client, au, url))["name"] == made["name"]


# --- merging ---------------------------------------------------------------------------------


async def test_merge_keeps_the_alias_and_requests_follow(
    client: AsyncTestClient, au: Caller, eu: Caller, igad: Caller
) -> None:
    duplicate = await propose(client, au, name="CAR talks (AU entry)")
    survivor = await propose(client, eu, name="CAR peace process")
    office = await make_office(client, au)
    on_duplicate = await post(client, au, "/v1/requests", request_body(duplicate["id"], office["id"]))
    assert on_duplicate["process"]["id"] == duplicate["id"]

    merged = await post(
        client, au, f"{PROCESSES}/{duplicate['id']}/merge", {"into": survivor["id"]}, status=200
    )
    assert merged["id"] == survivor["id"]
    assert merged["aliases"] == [duplicate["id"]]

    for caller in (au, eu, igad):
        response = await client.get(f"{PROCESSES}/{duplicate['id']}", headers=caller.headers)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == survivor["id"]
        assert response.json()["aliases"] == [duplicate["id"]]
        ids, total = await listed(client, caller)
        assert (ids, total) == ({survivor["id"]}, 1)
        assert (await listed(client, caller, q="AU entry"))[1] == 0

    # requests on the alias are found under the survivor (and under the alias)
    for process_id in (survivor["id"], duplicate["id"]):
        found = await get(client, au, "/v1/requests", process_id=process_id)
        assert [r["id"] for r in found["items"]] == [on_duplicate["id"]]
        assert found["total"] == 1
    # a new request naming the alias refers to the survivor
    later = await post(client, au, "/v1/requests", request_body(duplicate["id"], office["id"]))
    assert later["process"]["id"] == survivor["id"]

    # the alias is no longer changed or merged; the merge is audited
    stale = await client.patch(
        f"{PROCESSES}/{duplicate['id']}", json={"name": "Again"}, headers={**au.headers, "If-Match": '"2"'}
    )
    assert stale.status_code == 409, stale.text
    again = await client.post(
        f"{PROCESSES}/{duplicate['id']}/merge", json={"into": survivor["id"]}, headers=au.headers
    )
    assert again.status_code == 409, again.text
    assert await audited(client, au, duplicate["id"]) == ["process.create", "process.merge"]


async def test_merges_chain_and_a_process_never_merges_into_itself(
    client: AsyncTestClient, au: Caller, eu: Caller
) -> None:
    first = await propose(client, au, name="First entry")
    second = await propose(client, au, name="Second entry")
    survivor = await propose(client, eu, name="The process")
    await post(client, au, f"{PROCESSES}/{first['id']}/merge", {"into": survivor["id"]}, status=200)
    # merging into an alias goes to what it resolves to
    merged = await post(client, au, f"{PROCESSES}/{second['id']}/merge", {"into": first["id"]}, status=200)
    assert merged["id"] == survivor["id"]
    assert sorted(merged["aliases"]) == sorted([first["id"], second["id"]])
    assert (await get(client, eu, f"{PROCESSES}/{second['id']}"))["id"] == survivor["id"]

    # the survivor cannot be merged into itself, nor into its own alias
    for into in (survivor["id"], first["id"]):
        response = await client.post(
            f"{PROCESSES}/{survivor['id']}/merge", json={"into": into}, headers=eu.headers
        )
        assert response.status_code == 422, response.text
        assert field_errors(response) == ["into"]
    # a process that does not exist, or not an id at all
    for into in ("0190a8f0-0000-7000-8000-000000000000", "not-a-uuid"):
        response = await client.post(
            f"{PROCESSES}/{survivor['id']}/merge", json={"into": into}, headers=eu.headers
        )
        assert response.status_code == 422, response.text
        assert field_errors(response) == ["into"]
    for body, field in (({}, "into"), ({"into": first["id"], "why": "dup"}, "why")):
        response = await client.post(f"{PROCESSES}/{survivor['id']}/merge", json=body, headers=eu.headers)
        assert response.status_code == 422, response.text
        assert field in field_errors(response)
    broken = await client.post(
        f"{PROCESSES}/{survivor['id']}/merge",
        content=b'{"into": ',
        headers={**eu.headers, "content-type": "application/json"},
    )
    assert broken.status_code == 400
    now = await get(client, eu, f"{PROCESSES}/{survivor['id']}")
    assert (now["version"], len(now["aliases"])) == (1, 2)
    assert (await listed(client, eu))[1] == 1


# --- If-Match and Idempotency-Key --------------------------------------------------------------


async def test_patch_and_merge_honour_if_match_and_creation_an_idempotency_key(
    client: AsyncTestClient, au: Caller, owner_conn: asyncpg.Connection
) -> None:
    headers = {**au.headers, "Idempotency-Key": "propose-car-1"}
    first = await client.post(PROCESSES, json=process_body(), headers=headers)
    again = await client.post(PROCESSES, json=process_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    other = await client.post(PROCESSES, json=process_body(name="Another process"), headers=headers)
    assert other.status_code == 422
    assert field_errors(other) == ["Idempotency-Key"]
    assert await count(owner_conn, "processes") == 1

    made = first.json()
    url = f"{PROCESSES}/{made['id']}"
    changed = await client.patch(
        url, json={"phase": "agreement", "region": "middle_africa"}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert (changed.json()["phase"], changed.json()["version"]) == ("agreement", 2)
    assert changed.json()["name"] == made["name"]
    stale = await client.patch(url, json={"phase": "suspended"}, headers={**au.headers, "If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"] == PROBLEM
    now = await client.get(url, headers=au.headers)
    assert now.headers["etag"] == '"2"'
    assert now.json()["phase"] == "agreement"
    assert await audited(client, au, made["id"]) == ["process.create", "process.update"]

    survivor = await propose(client, au, name="The process")
    stale = await client.post(
        f"{url}/merge", json={"into": survivor["id"]}, headers={**au.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"] == PROBLEM
    assert (await listed(client, au))[1] == 2
    fresh = await client.post(
        f"{url}/merge", json={"into": survivor["id"]}, headers={**au.headers, "If-Match": '"2"'}
    )
    assert fresh.status_code == 200, fresh.text
    assert (await listed(client, au))[1] == 1
