"""The check every test client runs on every response (tests/documented.py) tells a documented
answer from an undocumented one."""

from __future__ import annotations

import json

import pytest
from litestar.testing import AsyncTestClient

from tests.documented import Undocumented, check, operation_of

JSON = "application/json"


def test_a_path_falls_under_its_template_literal_paths_first() -> None:
    assert operation_of("get", "/v1/experts/export") == "/v1/experts/export"
    assert (
        operation_of("get", "/v1/experts/0190c2a5-7c1b-7000-8000-000000000000") == "/v1/experts/{expert_id}"
    )
    assert operation_of("put", "/v1/experts/export") is None
    assert operation_of("get", "/v1/nowhere") is None


def test_an_undocumented_operation_status_or_media_type_is_refused() -> None:
    with pytest.raises(Undocumented, match="no operation"):
        check("GET", "/v1/nowhere", 200, JSON, b"{}")
    with pytest.raises(Undocumented, match="status not documented"):
        check("GET", "/health/live", 404, JSON, b"{}")
    with pytest.raises(Undocumented, match="not documented"):
        check("GET", "/v1/organisations/au", 200, "application/xml+json", b"{}")


def test_a_body_is_checked_against_the_documented_schema_refs_resolved() -> None:
    with pytest.raises(Undocumented, match="breaks the documented schema"):
        check("GET", "/v1/organisations/au", 200, JSON, json.dumps({"slug": "AU!"}).encode())
    with pytest.raises(Undocumented, match="breaks the documented schema"):
        check("GET", "/v1/organisations/au", 404, "application/problem+json", b'{"status": "404"}')


async def test_the_test_client_checks_what_it_receives(client: AsyncTestClient) -> None:
    ok = await client.get("/v1/organisations")  # documented and valid: passes through
    assert ok.status_code == 200
    with pytest.raises(Undocumented):
        await client.get("/v1/organisations/au/nothing")


@pytest.mark.undocumented("this test proves the opt-out")
async def test_a_test_may_opt_out(client: AsyncTestClient) -> None:
    assert (await client.get("/v1/organisations/au/nothing")).status_code == 404
