"""A live msnet with real OpenID Connect providers, for the staff pages' tests.

``web_node`` (module-scoped: a module's tests share it, so tests/web/ modules run on one worker each,
see ONE_WORKER in tests/conftest.py; ``signin_node`` is one a worker, for the sign-in tests) is msnet
served over real HTTP on a database of its own, with two providers (oidc-provider-mock, in threads:
``"a"`` and ``"b"``); ``demo_web_node`` is the same over
the demo network. Tests that share a node keep to organisations and people of their own:
:meth:`WebNode.organisation` makes a new one each call.

The modules that use ``signin_node`` are one group (SHARED in tests/conftest.py), dealt to one worker
together, which makes it once: a new module that uses it joins them there. Every other module makes
its ``web_node`` (about 1 s) and its own records once, on its worker.

- ``await node.organisation(provider="a", email_domains=..., role_claim=...)``: a new organisation
  whose people sign in through that provider; its slug.
- ``await node.person(slug, roles=[...])``: someone that organisation's provider signs in, already
  holding ``roles`` (as if granted); a :class:`Someone`.
- ``await sign_in(http, node, someone)``: an ``httpx.AsyncClient`` signed in without a browser.
- ``await signed_in_page(node, someone)``: a Playwright page (loopback only) signed in through the
  browser, on the person's home page.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route, expect
from sqlalchemy import select

from msnet.app import create_app
from msnet.auth.principal import Principal
from msnet.db.embedded import with_user_and_db
from msnet.db.engine import set_organisation
from msnet.db.runtime import cli_session
from msnet.demo.provider import running
from msnet.organisations import service as organisations
from msnet.organisations.models import Organisation
from msnet.settings import Settings
from msnet.web import identity, people
from tests.browser import LOOPBACK, TIMEOUT_MS, browser, offline_page
from tests.conftest import APP, OWNER, TEST_SECRET_KEY, Clones, DemoTemplate, _admin, listening, serving
from tests.helpers import add_organisation

__all__ = ["browser", "offline_page"]

PROVIDERS = ("a", "b")


@dataclass(frozen=True)
class Someone:
    """A person of ``slug`` that its provider signs in as ``subject``."""

    slug: str
    subject: str
    email: str
    name: str
    provider: str


@dataclass
class WebNode:
    base: str
    settings: Settings
    #: the issuer of each provider, by name
    issuers: dict[str, str]
    #: a superuser's URL of the node's database (row-level security does not hide rows from it)
    superuser_url: str
    _provider_of: dict[str, str] = field(default_factory=dict)

    async def organisation(
        self,
        provider: str = "a",
        *,
        email_domains: tuple[str, ...] = (),
        role_claim: str | None = None,
        slug: str | None = None,
    ) -> str:
        """A new organisation (or ``slug``, made if missing) signing in through ``provider``."""
        slug = slug or f"w{uuid.uuid4().hex[:10]}"
        async with cli_session(self.settings.database_url) as session:  # type: ignore[arg-type]
            missing = await session.scalar(select(Organisation.id).where(Organisation.slug == slug)) is None
        if missing:
            await add_organisation(self.settings, slug)
        async with cli_session(self.settings.database_url) as session:  # type: ignore[arg-type]
            org = await organisations.get_by_slug(session, slug)
            await set_organisation(session, org.id)
            await identity.set_provider(
                session,
                Principal.operator(org.id, slug, "tests"),
                identity.ProviderSettings(
                    issuer=self.issuers[provider],
                    client_id=f"msnet-{slug}",
                    client_secret=f"secret-of-{slug}",
                    email_domains=list(email_domains),
                    role_claim=role_claim,
                ),
                secret_key=self.settings.secret_key or "",
                private_addresses=True,
            )
        self._provider_of[slug] = provider
        return slug

    async def sql(self, query: str, *args: object) -> list[asyncpg.Record]:
        """Run ``query`` as a superuser, behind the node's back."""
        conn = await asyncpg.connect(self.superuser_url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def person(
        self,
        slug: str,
        roles: list[str] | tuple[str, ...] = ("staff",),
        *,
        subject: str | None = None,
        email: str | None = None,
        name: str = "Ada Test",
        claims: dict[str, object] | None = None,
        registered: bool = True,
    ) -> Someone:
        """Someone ``slug``'s provider knows (their claims set there), holding ``roles`` in msnet
        already unless not ``registered`` (then their first sign-in makes them)."""
        provider = self._provider_of[slug]
        subject = subject or f"p-{uuid.uuid4().hex[:12]}"
        email = email or f"{subject}@{slug}.example.org"
        async with httpx.AsyncClient() as http:
            answer = await http.put(
                f"{self.issuers[provider]}/users/{subject}",
                json={"email": email, "name": name, **(claims or {})},
            )
            answer.raise_for_status()
        if registered:
            async with cli_session(self.settings.database_url) as session:  # type: ignore[arg-type]
                org = await organisations.get_by_slug(session, slug)
                await set_organisation(session, org.id)
                await people.signed_in(
                    session,
                    org.id,
                    self.issuers[provider],
                    subject,
                    email=email,
                    name=name,
                    claimed_roles=list(roles),
                )
        return Someone(slug, subject, email, name, provider)


async def authorize_at_provider(http: httpx.AsyncClient, authorization_url: str, subject: str) -> str:
    """What the person does at the provider (oidc-provider-mock): sign in as ``subject``; the callback URL."""
    answer = await http.post(authorization_url, data={"sub": subject})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def sign_in(
    http: httpx.AsyncClient, node: WebNode, someone: Someone, next_path: str = "/"
) -> httpx.Response:
    """Sign ``http`` in as ``someone`` (without a browser); the callback's answer (a 303 to ``next_path``)."""
    begun = await http.get(f"{node.base}/login/{someone.slug}", params={"next": next_path})
    assert begun.status_code == 303, begun.text
    callback = await authorize_at_provider(http, begun.headers["location"], someone.subject)
    done = await http.get(callback)
    assert done.status_code == 303, done.text
    return done


def _settings_for(superuser_url: str, name: str, data_dir: Path, port: int) -> Settings:
    base = f"http://127.0.0.1:{port}"
    return Settings(
        database_url=with_user_and_db(superuser_url, APP, name),
        database_admin_url=with_user_and_db(superuser_url, OWNER, name),
        data_dir=data_dir,
        public_url=base,
        port=port,
        secret_key=TEST_SECRET_KEY,
        worker=False,
        webhook_private_addresses=True,
        identity_provider_private_addresses=True,
    )


@contextmanager
def _node(superuser_url: str, name: str, data_dir: Path, **overrides: object) -> Iterator[WebNode]:
    with listening() as sock:  # the port held from the start: no other process takes it meanwhile
        port = sock.getsockname()[1]
        settings = replace(_settings_for(superuser_url, name, data_dir, port), **overrides)  # type: ignore[arg-type]
        with running() as issuer_a, running() as issuer_b, serving(create_app(settings), port, sock):
            database = urlsplit(superuser_url)._replace(path=f"/{name}").geturl()
            yield WebNode(settings.issuer, settings, {"a": issuer_a, "b": issuer_b}, database)


@contextmanager
def _fresh_node(
    superuser_url: str, clones: Clones, tmp_path_factory: pytest.TempPathFactory, **overrides: object
) -> Iterator[WebNode]:
    name = clones.take()
    try:
        with _node(superuser_url, name, tmp_path_factory.mktemp("web"), **overrides) as node:
            yield node
    finally:
        clones.give_back(name)


@pytest.fixture(scope="module")
def web_node(
    superuser_url: str, clones: Clones, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebNode]:
    """msnet over real HTTP on a database of the module's, with two OpenID Connect providers."""
    with _fresh_node(superuser_url, clones, tmp_path_factory) as node:
        yield node


@pytest.fixture(scope="session")
def signin_node(
    superuser_url: str, clones: Clones, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebNode]:
    """As ``web_node``, but one a worker for the sign-in tests' modules (test_signin, test_security,
    test_i18n), whose tests each keep to organisations of their own and count nothing node-wide. Their
    dozens of refused callbacks, all from 127.0.0.1, would soon be answered 429 (too many failed
    sign-ins from one address) under the default limit: it is lifted here."""
    with _fresh_node(superuser_url, clones, tmp_path_factory, auth_failure_limit=1_000_000) as node:
        yield node


@pytest.fixture(scope="module")
def demo_web_node(
    superuser_url: str, demo_template: DemoTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebNode]:
    """As ``web_node``, over a copy of the demo network (``await node.organisation(slug="un")`` lets
    the UN's people sign in)."""
    name = f"msnet_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(
        _admin(superuser_url, f'CREATE DATABASE "{name}" TEMPLATE "{demo_template.name}" OWNER "{OWNER}"')
    )
    try:
        with _node(superuser_url, name, tmp_path_factory.mktemp("web-demo")) as node:
            yield node
    finally:
        asyncio.run(_admin(superuser_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


SignedInPage = Callable[..., Awaitable[Page]]


@pytest_asyncio.fixture(loop_scope="session")
async def signed_in_page(browser: Browser) -> AsyncIterator[SignedInPage]:
    """``await signed_in_page(node, someone, language="en")``: a new browser context (loopback only,
    its own cookies) signed in as ``someone`` through the login page and their provider; the page is
    on their home page."""
    contexts = []

    async def open_page(node: WebNode, someone: Someone, language: str = "en") -> Page:
        context = await browser.new_context(service_workers="block", locale=language)
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)

        async def only_loopback(route: Route) -> None:
            if urlsplit(route.request.url).hostname in LOOPBACK:
                await route.continue_()
            else:
                await route.abort("internetdisconnected")

        await context.route("**/*", only_loopback)
        page = await context.new_page()
        await page.goto(f"{node.base}/login/{someone.slug}")
        await page.get_by_placeholder("sub").fill(someone.subject)
        await page.get_by_role("button", name="Authorize").click()
        await expect(page).to_have_url(f"{node.base}/")
        return page

    try:
        yield open_page
    finally:
        for context in contexts:
            await context.close()
