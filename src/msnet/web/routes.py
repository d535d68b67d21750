"""The pages of signing in and out, the home page, the language switch and the identity provider's
administration (``/admin/idp``)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth import failures
from msnet.auth.principal import Principal
from msnet.errors import InvalidInput, NotFound
from msnet.logs import get_logger
from msnet.organisations import service as organisations
from msnet.settings import Settings
from msnet.web import i18n, identity, oidc, requests, saved, sessions, signin
from msnet.web.pages import local_path, needs, page, signed_in, signed_in_person

log = get_logger("msnet.web.signin")
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _providers(request: Request) -> oidc.Providers:
    return request.app.state.identity_providers


class SignInPages(Controller):
    include_in_schema = False

    @get("/login")
    async def login(
        self, request: Request, db: NamedDependency[AsyncSession], next: FromQuery[str | None] = None
    ) -> Template:
        return page(
            "login.html",
            organisations=await identity.with_providers(db),
            next=local_path(next),
            failed=False,
            wait_minutes=None,
        )

    @get("/login/{slug:str}")
    async def begin(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        slug: FromPath[str],
        next: FromQuery[str | None] = None,
    ) -> Redirect | Template:
        settings = _settings(request)
        try:
            organisation = await organisations.get_by_slug(db, slug)
            started = await signin.begin(db, settings, _providers(request), organisation, local_path(next))
        except (NotFound, oidc.SignInError) as exc:
            log.warning("sign-in not begun", organisation=slug, reason=str(exc))
            return await self._failed(request, db, 404 if isinstance(exc, NotFound) else 502)
        response = Redirect(started.url, status_code=303)
        response.set_cookie(
            signin.COOKIE,
            started.browser,
            path="/auth/",
            httponly=True,
            secure=sessions.secure(settings),
            samesite="lax",
            max_age=int(signin.SIGNIN_TTL.total_seconds()),
        )
        return response

    @get("/auth/{slug:str}/callback")
    async def callback(
        self, request: Request, db: NamedDependency[AsyncSession], slug: FromPath[str]
    ) -> Redirect | Template:
        settings = _settings(request)
        try:
            organisation = await organisations.get_by_slug(db, slug)
        except NotFound:
            return await self._failed(request, db, 404)
        try:
            person, next_path = await signin.complete(
                db,
                settings,
                _providers(request),
                organisation,
                dict(request.query_params),
                request.cookies.get(signin.COOKIE),
            )
        except oidc.SignInError as exc:
            log.warning("sign-in refused", organisation=slug, reason=exc.reason)
            source = failures.source_of(request.scope)
            key = failures.FailureKey(source, "sign_in", organisation.id)
            verdict = failures.note_failure(request.scope, key)
            if verdict.retry_after is not None:  # counted, and audited with its interval's count
                await request.app.state.auth_tarpit.hold()
                return await self._failed(request, db, 429, retry_after=verdict.retry_after)
            await signin.record_failure(db, request.scope, organisation, exc.reason)
            await failures.record_first(db, request.scope, key, verdict)
            return await self._failed(request, db, 400)
        previous = request.cookies.get(sessions.cookie_name(settings))
        if previous:
            await sessions.end(db, sessions.hash_token(previous))
        token = await sessions.start(db, settings, person, i18n.current())
        await signin.record_success(db, request.scope, person, organisation)
        response = Redirect(local_path(next_path), status_code=303)
        sessions.set_cookie(response, settings, token)
        response.delete_cookie(signin.COOKIE, path="/auth/")
        return response

    async def _failed(
        self, request: Request, db: AsyncSession, status: int, *, retry_after: int | None = None
    ) -> Template:
        """The sign-in page saying it failed; with ``retry_after``, that the address made too many
        failed attempts and must wait that many seconds."""
        response = page(
            "login.html",
            status_code=status,
            organisations=await identity.with_providers(db),
            next="/",
            failed=True,
            wait_minutes=math.ceil(retry_after / 60) if retry_after else None,
        )
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @post("/logout", guards=[signed_in])
    async def logout(self, request: Request, db: NamedDependency[AsyncSession]) -> Redirect:
        person = signed_in_person(request)
        assert person is not None  # the guard
        await sessions.end(db, person.token_hash)
        response = Redirect("/login", status_code=303)
        sessions.clear_cookie(response, _settings(request))
        return response

    @get("/language/{language:str}")
    async def language(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        language: FromPath[str],
        next: FromQuery[str | None] = None,
    ) -> Redirect:
        """Switch the pages' language: the session's, and a cookie's for the pages before sign-in."""
        chosen = i18n.chosen(language)
        if chosen is None:
            raise InvalidInput.field("language", f"must be one of {', '.join(i18n.LANGUAGES)}")
        person = signed_in_person(request)
        if person is not None:
            await sessions.set_language(db, person.session_id, chosen)
        response = Redirect(local_path(next), status_code=303)
        response.set_cookie(
            i18n.COOKIE,
            chosen,
            path="/",
            httponly=True,
            secure=sessions.secure(_settings(request)),
            samesite="lax",
            max_age=365 * 86400,
        )
        return response


class HomePage(Controller):
    include_in_schema = False

    @get("/", guards=[signed_in])
    async def home(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        person = signed_in_person(request)
        assert person is not None
        return page(
            "home.html",
            person=person,
            saved_searches=await saved.rows(db, principal, person.person),
            **await requests.home(db, principal),
        )


class AdminPages(Controller):
    include_in_schema = False
    path = "/admin"

    @get("/idp", guards=[needs("org:admin")])
    async def idp(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        provider = await identity.get(db, principal.org_id)
        values = {
            "issuer": provider.issuer if provider else "",
            "client_id": provider.client_id if provider else "",
            "email_domains": " ".join(provider.email_domains) if provider else "",
            "role_claim": (provider.role_claim or "") if provider else "",
        }
        return self._form(request, principal, values, {}, registered=provider is not None, saved=False)

    @post("/idp", guards=[needs("org:admin")])
    async def save_idp(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: Form,
    ) -> Template:
        settings = _settings(request)
        values = {
            k: str(data.get(k, "")).strip() for k in ("issuer", "client_id", "email_domains", "role_claim")
        }
        secret = str(data.get("client_secret", "")).strip()
        current = await identity.get(db, principal.org_id)
        try:
            async with db.begin_nested():
                await identity.set_provider(
                    db,
                    principal,
                    identity.ProviderSettings(
                        issuer=values["issuer"],
                        client_id=values["client_id"],
                        client_secret=secret or None,
                        email_domains=values["email_domains"].replace(",", " ").split(),
                        role_claim=values["role_claim"] or None,
                    ),
                    secret_key=settings.secret_key or "",
                    private_addresses=settings.identity_provider_private_addresses,
                )
        except InvalidInput as exc:
            errors: dict[str, list[str]] = {}
            for error in exc.extra["errors"]:
                errors.setdefault(error["field"], []).append(error["message"])
            return self._form(
                request, principal, values, errors, registered=current is not None, saved=False, status=422
            )
        _providers(request).forget(values["issuer"])
        return self._form(request, principal, values, {}, registered=True, saved=True)

    def _form(
        self,
        request: Request,
        principal: Principal,
        values: dict[str, str],
        errors: dict[str, list[str]],
        *,
        registered: bool,
        saved: bool,
        status: int = 200,
    ) -> Template:
        return page(
            "admin/idp.html",
            status_code=status,
            values=values,
            errors=errors,
            registered=registered,
            saved=saved,
            callback=signin.redirect_uri(_settings(request), principal.org_slug),
        )
