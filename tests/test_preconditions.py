"""If-Match is required on a change or deletion of a versioned record (issue #18): without it the
answer is a 428 problem saying how to make the request conditional, before anything is read or
written; with the ETag the caller read, the change goes through. The endpoints come from the route
table: a new handler taking ``IfMatch`` is checked here without being named."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from msnet.auth.principal import SCOPES
from msnet.preconditions import requires_if_match
from msnet.settings import Settings
from tests.helpers import MakeCaller
from tests.requests.conftest import make_office
from tests.test_route_guards import BODIES, Endpoint, endpoints, owned_records, takes_body

PROBLEM = "application/problem+json"


def versioned(app: Litestar) -> list[Endpoint]:
    """The endpoints whose handler requires If-Match, changes before deletions (a capacity's before
    its office's, which takes the capacity with it)."""
    found = [e for e in endpoints(app) if requires_if_match(e.handler)]
    return sorted(found, key=lambda e: (e.method != "PATCH", "capacity_id" not in e.params, e.path))


def test_if_match_is_required_on_the_changes_and_deletions_of_versioned_records(app: Litestar) -> None:
    assert {str(e) for e in versioned(app)} == {
        "PATCH /v1/offices/{office_id}",
        "DELETE /v1/offices/{office_id}",
        "PATCH /v1/capacities/{capacity_id}",
        "DELETE /v1/capacities/{capacity_id}",
        "PATCH /v1/experts/{expert_id}",
        "DELETE /v1/experts/{expert_id}",
        "PATCH /v1/processes/{process_id}",
        "PATCH /v1/requests/{request_id}",
        "PATCH /v1/trainings/{training_id}",
        "DELETE /v1/trainings/{training_id}",
        "PATCH /v1/publications/{publication_id}",
        "DELETE /v1/publications/{publication_id}",
    }
    document = app.openapi_schema.to_schema()
    for endpoint in versioned(app):
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        [header] = [p for p in operation["parameters"] if p["name"] == "If-Match"]
        assert (header["in"], header["required"]) == ("header", True), endpoint
        assert "428" in operation["responses"], endpoint


async def _etag(client: AsyncTestClient, app: Litestar, endpoint: Endpoint, url: str, headers: dict) -> str:
    """The ETag of the record at ``url``, read as a client would: from its GET, or where the record
    has none (capacities), from the version a search shows."""
    if any(e.method == "GET" and e.path == endpoint.path for e in endpoints(app)):
        return (await client.get(url, headers=headers)).headers["etag"]
    found = (await client.get("/v1/capacities", headers=headers)).json()["items"]
    [record] = [r for r in found if url.endswith(r["id"])]
    return f'"{record["version"]}"'


async def _audit_entries(client: AsyncTestClient, headers: dict) -> int:
    return (await client.get("/v1/audit", params={"limit": 200}, headers=headers)).json()["total"]


async def test_a_change_without_if_match_is_a_428_saying_how_and_writes_nothing(
    client: AsyncTestClient, app: Litestar, settings: Settings, make_caller: MakeCaller
) -> None:
    records = await owned_records(client, settings, make_caller)
    caller = await make_caller("au", SCOPES)
    au = caller.headers
    before = await _audit_entries(client, au)
    for endpoint in versioned(app):
        body = BODIES[str(endpoint)](records) if takes_body(endpoint) else None
        response = await client.request(endpoint.method, endpoint.url(records), headers=au, json=body)
        assert response.status_code == 428, (str(endpoint), response.text)
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["type"] == "urn:msnet:problem:precondition-required"
        assert "If-Match" in problem["detail"]
        assert "ETag" in problem["detail"]
    assert await _audit_entries(client, au) == before

    # the office of the records has a request, which keeps it: another one is deleted
    records["office_id"] = (await make_office(client, caller, sharing="private"))["id"]
    answers = {}
    for endpoint in versioned(app):
        url = endpoint.url(records)
        body = BODIES[str(endpoint)](records) if takes_body(endpoint) else None
        conditional = {**au, "If-Match": await _etag(client, app, endpoint, url, au)}
        answers[str(endpoint)] = (
            await client.request(endpoint.method, url, headers=conditional, json=body)
        ).status_code
    assert answers == {str(e): 200 if e.method == "PATCH" else 204 for e in versioned(app)}


async def test_another_organisation_gets_the_same_428_whether_the_record_exists_or_not(
    client: AsyncTestClient, app: Litestar, settings: Settings, make_caller: MakeCaller
) -> None:
    """Without If-Match nothing is looked up: an outsider learns nothing of the record (with it, the
    record is not found: tests/test_route_guards.py)."""
    records = await owned_records(client, settings, make_caller)
    missing = {name: str(uuid.uuid4()) for name in records}
    un = (await make_caller("un", SCOPES)).headers
    for endpoint in versioned(app):
        answers = []
        for ids in (records, missing):
            body = BODIES[str(endpoint)](ids) if takes_body(endpoint) else None
            response = await client.request(endpoint.method, endpoint.url(ids), headers=un, json=body)
            problem = response.json()
            answers.append((response.status_code, problem["type"], problem["detail"]))
        assert answers[0] == answers[1], str(endpoint)
        assert answers[0][0] == 428, str(endpoint)
