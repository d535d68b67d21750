"""Every response a test receives is checked against the committed OpenAPI document: the operation
exists for its method and path, the status is documented for it, and a JSON body validates against
the documented schema. A test that sends something undocumented on purpose says so with
``@pytest.mark.undocumented("why")``, which turns the check off for that test alone."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs

COMMITTED = Path(__file__).parents[1] / "openapi" / "openapi.json"
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")
NOT_DOCUMENTED_HERE = ("/schema",)  # the document itself and its viewers


class Undocumented(AssertionError):
    """A response the OpenAPI document does not describe."""


@cache
def _document() -> dict[str, Any]:
    return json.loads(COMMITTED.read_text())


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """Each documented path as a pattern; literal paths first, so /v1/experts/export is not an id."""
    paths = sorted(_document()["paths"], key=lambda p: (p.count("{"), p))
    return [(re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(p)) + "$"), p) for p in paths]


@cache
def _validator(method: str, path: str, status: str, media_type: str) -> Any:
    schema = _document()["paths"][path][method]["responses"][status]["content"][media_type]["schema"]
    # $refs point into the whole document: the schema is checked as the root beside its components
    return jsonschema_rs.Draft202012Validator(
        {**schema, "components": _document()["components"]}, validate_formats=True
    )


def operation_of(method: str, url_path: str) -> str | None:
    """The documented path template ``url_path`` falls under for ``method``, if any."""
    for pattern, template in _templates():
        if pattern.match(url_path) and method in _document()["paths"][template]:
            return template
    return None


def check(method: str, url_path: str, status: int, content_type: str | None, body: bytes) -> None:
    """Raise :class:`Undocumented` unless the document describes this answer."""
    method = method.lower()
    if url_path.startswith(NOT_DOCUMENTED_HERE):
        return
    where = f"{method.upper()} {url_path} -> {status}"
    template = operation_of(method, url_path)
    if template is None:
        raise Undocumented(f"{where}: no operation in the document")
    responses = _document()["paths"][template][method]["responses"]
    documented = str(status) if str(status) in responses else "default" if "default" in responses else None
    if documented is None:
        raise Undocumented(f"{where}: status not documented for {method.upper()} {template}")
    media_type = (content_type or "").split(";", 1)[0].strip()
    if not body or not media_type.endswith("json"):
        return
    content = responses[documented].get("content") or {}
    if media_type not in content:
        raise Undocumented(f"{where}: {media_type} not documented (documented: {sorted(content)})")
    errors = [
        str(e) for e in _validator(method, template, documented, media_type).iter_errors(json.loads(body))
    ]
    if errors:
        raise Undocumented(f"{where}: the body breaks the documented schema: {errors[:3]}")


async def check_response(response: httpx.Response) -> None:
    """An httpx response hook: every answer checked as it arrives."""
    await response.aread()
    request = response.request
    check(
        request.method,
        request.url.path,
        response.status_code,
        response.headers.get("content-type"),
        response.content,
    )
