"""The OpenAPI document is written for the offices that integrate: valid OpenAPI 3.1, every operation
described, with an example and a stable verb-on-resource id, every schema described with an example
it accepts, and the OAuth 2.0 scheme naming each operation's scope. The committed document is read
(the contract test checks that it equals the served one)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openapi_spec_validator import OpenAPIV31SpecValidator

from msnet.auth.principal import SCOPES
from tests.test_route_guards import endpoints, needed

COMMITTED = Path(__file__).parents[2] / "openapi" / "openapi.json"
DOCUMENT: dict[str, Any] = json.loads(COMMITTED.read_text())
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
OPERATIONS = {
    f"{method.upper()} {path}": operation
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if method in ("get", "post", "put", "patch", "delete")
}
#: What an operation id begins with: what the operation does to its resource.
VERBS = {
    "accept", "add", "check", "close", "confirm", "create", "delete", "draft", "erase", "export", "get",
    "import", "introspect", "list", "merge", "post", "propose", "register", "request", "resolve",
    "respond", "revoke", "rotate", "search", "share", "show", "submit", "update", "withdraw",
}  # fmt: skip


def test_the_committed_document_is_valid_openapi_3_1() -> None:
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in OpenAPIV31SpecValidator(DOCUMENT).iter_errors()
    ]
    assert errors == []


def _example_in(schema: dict[str, Any] | None, depth: int = 0) -> bool:
    """Whether a schema (its $ref followed, a list's items, a union's members) carries an example."""
    if not schema or depth > 4:
        return False
    if "$ref" in schema:
        return _example_in(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]], depth + 1)
    if schema.get("examples") or "example" in schema:
        return True
    members = [*schema.get("oneOf", []), *schema.get("anyOf", [])]
    if schema.get("type") == "array":
        members.append(schema.get("items"))
    return any(_example_in(m, depth + 1) for m in members)


def _examples_of(operation: dict[str, Any]) -> list[str]:
    """Where an operation shows an example: its successful answers, its body, its parameters."""
    found = []
    for status, response in operation["responses"].items():
        for media_type, content in (response.get("content") or {}).items():
            if status.startswith("2") and (content.get("examples") or _example_in(content.get("schema"))):
                found.append(f"{status} {media_type}")
    for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
        properties = content.get("schema", {}).get("properties", {})
        if _example_in(content.get("schema")) or any(_example_in(p) for p in properties.values()):
            found.append(f"body {media_type}")
    found += [f"parameter {p['name']}" for p in operation.get("parameters", []) if "example" in p]
    return found


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_has_a_description_and_an_example(name: str) -> None:
    operation = OPERATIONS[name]
    assert len(operation.get("description") or "") > 40, "write the handler's docstring for an integrator"
    answers = [s for s, r in operation["responses"].items() if s.startswith("2") and r.get("content")]
    shown = _examples_of(operation)
    assert shown, "no example: give its schema Meta(examples=...), or see msnet.docs.openapi.ANSWERS"
    missing = [s for s in answers if not any(e.startswith(s) for e in shown)]
    assert missing == [], f"answers without an example: {missing}"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_schema_has_a_description_and_an_example_it_accepts(name: str) -> None:
    schema = SCHEMAS[name]
    assert schema.get("description"), f"give the struct {name} a docstring"
    assert schema.get("examples"), f"give the fields of {name} that have no default Meta(examples=[...])"
    validator = jsonschema_rs.Draft202012Validator(
        {**schema, "components": DOCUMENT["components"]}, validate_formats=True
    )
    for example in schema["examples"]:
        assert [e.message for e in validator.iter_errors(example)] == []


def test_operation_ids_are_unique_snake_case_verbs_on_resources() -> None:
    ids = [operation["operationId"] for operation in OPERATIONS.values()]
    assert len(ids) == len(set(ids))
    badly_named = [
        i for i in ids if not re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", i) or i.split("_")[0] not in VERBS
    ]
    assert badly_named == []


def test_the_oauth_scheme_is_client_credentials_at_the_token_endpoint_with_every_scope_described() -> None:
    scheme = DOCUMENT["components"]["securitySchemes"]["oauth2"]
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token"
    assert list(flow["scopes"]) == list(SCOPES)
    assert all(len(description) > 20 for description in flow["scopes"].values())


def test_the_token_endpoint_documents_its_form() -> None:
    body = OPERATIONS["POST /oauth/token"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert body["schema"]["required"] == ["grant_type"]
    assert set(body["schema"]["properties"]) == {
        "grant_type",
        "scope",
        "client_id",
        "client_assertion_type",
        "client_assertion",
    }


def test_every_guarded_operation_requires_its_scope_and_only_guarded_ones_do(app: Litestar) -> None:
    """From the route table: a handler behind ``requires(scope)`` needs a token with that scope; one
    behind ``reads(scope)`` takes one (without, it answers public records); the others need none."""
    schemes = set(DOCUMENT["components"]["securitySchemes"])
    for endpoint in endpoints(app):
        operation = OPERATIONS.get(f"{endpoint.method} {endpoint.path}")
        if operation is None:  # HEAD, the documentation itself
            continue
        security = operation.get("security", [])
        assert {name for requirement in security for name in requirement} <= schemes
        scopes = needed(endpoint)
        if not scopes:
            assert all(not r.get("oauth2") for r in security), endpoint
            continue
        assert {"oauth2": sorted(scopes)} in security, endpoint
        token_optional = any(getattr(g, "token_optional", False) for g in endpoint.handler.resolve_guards())
        assert ({} in security) == token_optional, endpoint


async def test_the_documentation_page_loads_only_files_msnet_serves(client: AsyncTestClient) -> None:
    """No CDN: every script, style sheet and icon of /schema comes from /schema/assets/ (the browser
    test proves the page then runs offline)."""
    page = await client.get("/schema")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text)
    assert len(urls) == 4
    assert [u for u in urls if not u.startswith("/schema/assets/swagger-ui/")] == []
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert int(asset.headers["content-length"]) > 500, url
