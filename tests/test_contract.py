"""The public contract: the committed OpenAPI document, the schema itself, and tenancy in the catalog."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from litestar.testing import AsyncTestClient
from schemathesis import checks

from msnet.auth.principal import SCOPES
from msnet.settings import Settings
from tests.helpers import new_caller
from tests.requests.conftest import make_capacity, make_office, make_process, post
from tests.roster.conftest import expert_body
from tests.test_route_guards import PUBLIC
from tests.training.conftest import publication_body, training_body

COMMITTED = Path(__file__).parents[1] / "openapi" / "openapi.json"


async def test_committed_openapi_matches_the_app(client: AsyncTestClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert json.loads(COMMITTED.read_text()) == response.json(), "run `msnet openapi` and commit the result"


async def test_docs_are_served(client: AsyncTestClient) -> None:
    response = await client.get("/schema")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


def test_msnet_openapi_writes_the_document_whatever_the_hash_seed(tmp_path: Path) -> None:
    """`msnet openapi` writes the committed document, byte for byte the same in every run. Sets
    iterate in an order that depends on PYTHONHASHSEED: no part of the document may follow one (the
    two response headers of GET /v1/taxonomy did, seeds 1 and 4 apart)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSNET_")}
    runs = {
        seed: subprocess.Popen(
            [sys.executable, "-m", "msnet", "openapi", "--output", str(tmp_path / f"{seed}.json")],
            env={**env, "PYTHONHASHSEED": seed},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in ("1", "4")
    }
    for run in runs.values():
        _, errors = run.communicate(timeout=120)
        assert run.returncode == 0, errors
    written = {seed: (tmp_path / f"{seed}.json").read_bytes() for seed in runs}
    assert len(set(written.values())) == 1, "the document depends on the hash seed"
    assert json.loads(written["1"]) == json.loads(COMMITTED.read_text()), "run `msnet openapi`, commit it"


async def test_every_organisation_table_has_forced_row_level_security(owner_conn: asyncpg.Connection) -> None:
    """The build fails if a table holding organisation data could be read across organisations."""
    tables = await owner_conn.fetch(
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) AS has_policy
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          AND EXISTS (
            SELECT 1 FROM pg_attribute a
            WHERE a.attrelid = c.oid AND a.attname = 'organisation_id' AND NOT a.attisdropped
          )
        """
    )
    unprotected = [t["relname"] for t in tables if not (t["relrowsecurity"] and t["relforcerowsecurity"])]
    without_policy = [t["relname"] for t in tables if not t["has_policy"]]
    assert unprotected == []
    assert without_policy == []


async def test_the_service_role_owns_nothing_and_cannot_bypass_policies(
    owner_conn: asyncpg.Connection, settings: Settings
) -> None:
    role = settings.database_url.split("://", 1)[1].split("@", 1)[0]
    attrs = await owner_conn.fetchrow(
        "SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = $1", role
    )
    assert dict(attrs) == {"rolsuper": False, "rolbypassrls": False, "rolcreaterole": False}
    owned = await owner_conn.fetchval(
        """
        SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = $1
        """,
        role,
    )
    assert owned == 0


# Every response is checked against the document. Acceptance of schema-valid input is not:
# a schema-valid cursor can still be one this API never gave out (a 422 by design).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]


def _document() -> dict:
    return json.loads(COMMITTED.read_text())


OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in _document()["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
]


def _conformance_failures(live_server: str, headers: dict[str, str], examples) -> list[str]:  # type: ignore[no-untyped-def]
    """Run the checks on every operation in turn, on one live node; the failures, each named by its
    operation (one broken endpoint does not hide another)."""
    schema = schemathesis.openapi.from_url(f"{live_server}/schema/openapi.json")
    failures = []
    for operation in OPERATIONS:
        method, path = operation.split(" ", 1)

        @given(case=schema[path][method].as_strategy())
        @settings(
            max_examples=examples(method, path),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except Exception as failure:
            failures.append(f"{operation}: {failure}")
    return failures


def test_api_conforms_to_its_schema_anonymously(live_server: str) -> None:
    """No 5xx and no response that breaks the document, on every endpoint, now and later
    (the committed document equals the served one: see the first test). Without a token a guarded
    endpoint answers 401 before it reads anything: a few examples show that; the public ones take many
    (the run with a token covers the guarded ones)."""
    failures = _conformance_failures(
        live_server, {}, lambda method, path: 40 if (method, path) in PUBLIC else 5
    )
    assert failures == []


@pytest.fixture
def every_scope(live_server: str, settings: Settings) -> dict[str, str]:
    """The AU's token holding every scope, from the live server's token endpoint, and a few records of
    the AU on the node for a run to find."""

    async def prepare() -> dict[str, str]:
        async with httpx.AsyncClient(base_url=live_server) as http:
            au = await new_caller(http, settings, "au", SCOPES)
            office = await make_office(http, au)
            await make_capacity(http, au, office["id"])
            await make_process(http, au)
            await post(http, au, "/v1/experts", expert_body())
            await post(http, au, "/v1/trainings", training_body())
            await post(http, au, "/v1/publications", publication_body())
            return au.headers

    return asyncio.run(prepare())


def test_api_conforms_to_its_schema_for_a_caller_with_every_scope(
    live_server: str, every_scope: dict[str, str]
) -> None:
    """The same checks, every endpoint in turn, as a client that passes every guard: the handlers
    behind them answer too."""
    assert _conformance_failures(live_server, every_scope, lambda method, path: 10) == []
