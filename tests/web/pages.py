"""What the staff pages' test modules (test_roster, test_trainings, test_directory) share: data made
through a service as an organisation's operator, rows read as the schema owner, a client signed in
over HTTP, what a page shows (facet counts, links, the CSRF token, a field's error) and axe-core's
verdict on a browser page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from html import unescape
from typing import Any

import asyncpg
import httpx
import msgspec
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth.principal import Principal
from msnet.db.engine import set_organisation
from msnet.db.runtime import cli_session
from msnet.organisations import service as organisations
from tests.web.conftest import Someone, WebNode, sign_in


@asynccontextmanager
async def as_operator(node: WebNode, slug: str) -> AsyncIterator[tuple[AsyncSession, Principal]]:
    """A session of the node's database set to ``slug``'s organisation, and an operator of it."""
    async with cli_session(node.settings.database_url) as session:  # type: ignore[arg-type]
        org = await organisations.get_by_slug(session, slug)
        await set_organisation(session, org.id)
        yield session, Principal.operator(org.id, slug, "tests")


async def made_through(
    node: WebNode,
    slug: str,
    create: Callable[..., Awaitable[object]],
    create_schema: type,
    made_schema: type,
    bodies: list[dict[str, Any]],
) -> list[str]:
    """What ``create`` (a service's create function) made of each of ``bodies`` as ``slug``'s operator;
    their ids."""
    ids = []
    async with as_operator(node, slug) as (session, operator):
        for body in bodies:
            made = await create(
                session, operator, msgspec.convert(body, create_schema), origin=node.settings.issuer
            )
            assert isinstance(made, made_schema)
            ids.append(str(made.id))
    return ids


async def owner_rows(node: WebNode, query: str, *args: Any, lifted: tuple[str, ...]) -> list[asyncpg.Record]:
    """Rows read as the schema owner, row-level security lifted on the ``lifted`` tables for the read
    only."""
    conn = await asyncpg.connect(node.settings.database_admin_url)
    try:
        transaction = conn.transaction()
        await transaction.start()
        try:
            for table in lifted:
                await conn.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            return await conn.fetch(query, *args)
        finally:
            await transaction.rollback()
    finally:
        await conn.close()


@asynccontextmanager
async def signed_in(node: WebNode, someone: Someone) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=node.base) as http:
        await sign_in(http, node, someone)
        yield http


def htmx(target: str, *, restore: bool = False) -> dict[str, str]:
    """The headers of htmx's request for the element ``target`` (``restore``: to restore the history)."""
    headers = {"HX-Request": "true", "HX-Target": target}
    if restore:
        headers["HX-History-Restore-Request"] = "true"
    return headers


def facet_counts(html: str, facet: str) -> dict[str, int]:
    """A facet's terms (their ids) and the counts shown beside them."""
    found = re.findall(
        rf'id="f-{facet}-([^"]+)"[^>]*>[^<]*<span class="count">([\d\s\u202f\xa0,]+)</span>', html
    )
    return {term: int(re.sub(r"\D", "", count)) for term, count in found}


def link(html: str, element_id: str) -> str | None:
    match = re.search(rf'id="{element_id}" href="([^"]+)"', html)
    return unescape(match.group(1)) if match else None


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def field_error(html: str, name: str) -> str:
    """The message shown beside a form's field (empty: none)."""
    match = re.search(rf'<p class="error" id="{name}-error">([^<]*)</p>', html)
    return unescape(match.group(1)) if match else ""


async def axe_clean(page: Page, what: str) -> None:
    results = await Axe().run(page)
    assert results.violations_count == 0, f"{what}: {results.generate_report()}"
