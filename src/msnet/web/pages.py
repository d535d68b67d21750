"""What every page shares: the template engine, the person's session and language bound to the
request, the guards, and errors shown as pages rather than problem documents.

A page controller takes ``principal: Principal`` (the signed-in person acting for their
organisation, the same principal the services take from an access token) and ``db`` (the request's
transaction under that organisation), renders with :func:`page`, and is guarded by
:func:`signed_in` or :func:`needs` (which also mean: not signed in, go to ``/login``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2 import Template as JinjaTemplate
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Receive, Scope, Send
from markupsafe import Markup, _escape_inner, escape
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import REQUEST_KEY, RequestOrigin
from msnet.auth.principal import Principal, requires
from msnet.errors import MsnetError
from msnet.logs import get_logger
from msnet.problems import EXCEPTION_HANDLERS
from msnet.settings import Settings
from msnet.web import csrf, i18n, sessions
from msnet.web.i18n import N_
from msnet.web.people import ROLE_LABELS
from msnet.web.security import HEADERS as SECURITY_HEADERS
from msnet.web.sessions import SignedIn

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
log = get_logger("msnet.web")


def _escaped(value: object) -> str:
    """What a template writes for ``{{ value }}``: markupsafe's ``escape``, the same text, as a plain
    string. Jinja's output is only joined, so making each value a ``Markup`` (a Python ``__new__``
    with ``super()``) was wasted: it was about 40 % of rendering a search page (some 450 values)."""
    if type(value) is str:
        return _escape_inner(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return _escape_inner(str(value))


class _Template(JinjaTemplate):
    """A compiled template whose output escaping is :func:`_escaped`: Jinja's generated code calls
    ``escape`` only on what it writes out, looked up in the template module's globals."""

    @classmethod
    def from_code(cls, *args: Any, **kwargs: Any) -> JinjaTemplate:
        template = super().from_code(*args, **kwargs)
        template.root_render_func.__globals__["escape"] = _escaped
        return template


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        auto_reload=False,  # compiled once: a page's templates (and those it includes) were stat'ed each time
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.template_class = _Template
    env.install_gettext_callables(i18n.translate, i18n.translate_plural, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(i18n.jinja_globals(), _=i18n.template_gettext, gettext=i18n.template_gettext)
    return env


@pass_context
def _current_person(context: Any) -> SignedIn | None:
    """The signed-in person (``None`` before sign-in)."""
    return context["request"].scope.get("state", {}).get("signed_in")


@pass_context
def _csrf_token(context: Any) -> str:
    """The CSRF token of the person's session, for a form field or htmx's header: derived once a
    request (a page may have several forms)."""
    state = context["request"].scope.setdefault("state", {})
    if "csrf_token" not in state:
        signed_in: SignedIn | None = state.get("signed_in")
        settings = context["request"].app.state.settings
        state["csrf_token"] = csrf.token_for(settings, signed_in.token_hash) if signed_in else ""
    return state["csrf_token"]


@pass_context
def _csrf_field(context: Any) -> Markup:
    """The hidden field every POST form carries."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        csrf.FIELD, escape(_csrf_token(context))
    )


@pass_context
def _here(context: Any) -> str:
    """This page's path and query: where the language switch comes back to."""
    url = context["request"].url
    return url.path + (f"?{url.query}" if url.query else "")


def _role_label(role: str) -> str:
    return i18n.translate(ROLE_LABELS.get(role, role))


def template_config() -> TemplateConfig:
    """Jinja2 with the i18n extension, autoescaping, strict undefined names, and these globals besides
    :func:`msnet.web.i18n.jinja_globals`: ``current_person()``, ``csrf_token()``, ``csrf_field()``,
    ``here()``, ``role_label(role)``."""
    engine = JinjaTemplateEngine.from_environment(_environment())
    engine.engine.globals.update(
        current_person=_current_person,
        csrf_token=_csrf_token,
        csrf_field=_csrf_field,
        here=_here,
        role_label=_role_label,
    )
    return TemplateConfig(instance=engine)


#: What every page's answer says of its caching.
PAGE_HEADERS = {
    "Vary": "Cookie, Accept-Language, HX-Request, HX-History-Restore-Request",
    "Cache-Control": "no-store",
}


def page(template: str, status_code: int = 200, **context: Any) -> Template:
    """A page, rendered in the request's language; ``Vary`` names what changes it (htmx fragments vary
    on ``HX-Request``). The services' messages in its ``errors`` and ``failure`` are shown in that
    language (:func:`msnet.web.i18n.service_messages`)."""
    for name in ("errors", "failure"):
        if context.get(name):
            context[name] = i18n.service_messages(context[name])
    return Template(
        template_name=template,
        context=context,
        status_code=status_code,
        headers=dict(PAGE_HEADERS),
    )


def signed_in_person(request: Request) -> SignedIn | None:
    return request.scope.get("state", {}).get("signed_in")


class PersonSession:
    """Resolve the session cookie to the signed-in person (``scope["auth"]``: their principal;
    ``scope["state"]["signed_in"]``) and bind the request's language for its handling."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        settings: Settings = state.settings
        connection = ASGIConnection(scope, receive)
        token = connection.cookies.get(sessions.cookie_name(settings))
        db: AsyncSession = state.sessionmaker()
        try:
            signed_in = await sessions.resume(db, settings, token) if token else None
            ended = db.info.get(sessions.ENDED_KEY)
            if token and signed_in is None:  # an ended session's deletion kept; the page acts for nobody
                await db.commit()
                await db.close()
                db = state.sessionmaker()
            scope["auth"] = signed_in.principal if signed_in else None
            scope.setdefault("state", {}).update(signed_in=signed_in, db=db, ended_organisation=ended)
            language = (
                (signed_in and i18n.chosen(signed_in.language))
                or i18n.chosen(connection.cookies.get(i18n.COOKIE))
                or i18n.negotiate(connection.headers.get("accept-language"))
            )
            with i18n.use(language):
                await self.app(scope, receive, send)
            if db.in_transaction():  # no handler took the transaction: the session's last request noted
                await db.commit()
        finally:
            await db.close()


async def provide_db(request: Request) -> AsyncIterator[AsyncSession]:
    """A page's ``db``: the request's one transaction, the one :class:`PersonSession` resumed the
    person's session in (acting for their organisation; none before sign-in), committed when the
    handler returns and rolled back if it raises, as :func:`msnet.auth.transaction.provide_session`
    does for the API. Resuming the session cost a transaction of its own before (1.2 ms a page)."""
    db: AsyncSession = request.scope["state"]["db"]
    db.info[REQUEST_KEY] = RequestOrigin.of(request.scope)
    try:
        yield db
    except BaseException:
        await db.rollback()
        raise
    await db.commit()


class SignInRequired(Exception):
    """Not signed in (or the session ended): the page sends the browser to ``/login``."""


async def signed_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A guard: a signed-in person."""
    if connection.scope.get("state", {}).get("signed_in") is None:
        raise SignInRequired


def needs(*scopes: str) -> Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]:
    """A guard: a signed-in person whose roles give every one of ``scopes`` (403, audited, otherwise)."""
    scoped = requires(*scopes)

    async def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        await signed_in(connection, handler)
        await scoped(connection, handler)

    return guard


async def provide_principal(request: Request) -> Principal:
    principal = request.scope.get("auth")
    if not isinstance(principal, Principal):
        raise SignInRequired
    return principal


def local_path(value: str | None) -> str:
    """``value`` if it is a path of this site (never another site: ``//host``, ``/\\host``), else ``/``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(c in value for c in "\r\n\t"):
        return "/"
    return value


def _to_login(request: Request, _: SignInRequired) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = "/login?next=" + quote(local_path(target), safe="/")
    if request.headers.get("hx-request"):
        return Response(content=b"", status_code=401, headers={"HX-Redirect": location})
    return Redirect(location, status_code=303)


_MESSAGES = {
    400: N_("The request could not be understood."),
    401: N_("Sign in to see this page."),
    403: N_("You are not allowed to do this."),
    404: N_("This page does not exist, or you may not see it."),
    405: N_("This page cannot be used that way."),
    409: N_("This was changed meanwhile: reload the page and try again."),
    413: N_("What you sent is too large."),
    415: N_("The request could not be understood."),
    422: N_("Some of what you entered is not valid."),
    428: N_("This was changed meanwhile: reload the page and try again."),
    429: N_("Too many attempts: wait a moment and try again."),
    503: N_("The service is unavailable for a moment: try again shortly."),
}
_FAILED = N_("Something went wrong on our side.")


def _answer(request: Request, exc: Exception) -> tuple[int, str, dict[str, str]]:
    """The API's answer to the exception: its status, the page's message for it, and the headers a
    page keeps of it (Retry-After, Allow)."""
    handler = next(h for kind, h in EXCEPTION_HANDLERS.items() if isinstance(exc, kind))
    answer: Response = handler(request, exc)
    status = answer.status_code
    message = _MESSAGES.get(status, _FAILED if status >= 500 else _MESSAGES[400])
    return status, message, {n: answer.headers[n] for n in ("retry-after", "allow") if n in answer.headers}


def _error_page(request: Request, exc: Exception) -> Response:
    """The API's answer to the exception (its status and headers, e.g. Retry-After), as a page."""
    status, message, headers = _answer(request, exc)
    response = page("error.html", status_code=status, status=status, message=message)
    for name, value in headers.items():
        response.headers[name] = value
    return response  # type: ignore[return-value]


#: Where errors stay problem documents whatever the client accepts: the API, federation, OAuth,
#: discovery and the node's own endpoints.
API_PREFIXES = ("/v1", "/federation", "/oauth", "/.well-known", "/health", "/metrics", "/schema")


def wants_page(request: Request) -> bool:
    """A browser asking for a page (HTML rather than JSON) at an address that is not the API's."""
    path = request.url.path
    if any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES):
        return False
    offered = ["application/problem+json", "application/json", "text/html"]
    return request.accept.best_match(offered) == "text/html"


def _or_page(handler: Callable[[Request, Exception], Response]) -> Callable[[Request, Exception], Response]:
    def handle(request: Request, exc: Exception) -> Response:
        if not wants_page(request):
            return handler(request, exc)
        status, message, headers = _answer(request, exc)
        language = i18n.chosen(request.cookies.get(i18n.COOKIE)) or i18n.negotiate(
            request.headers.get("accept-language")
        )
        with i18n.use(language):  # rendered here: the pages' middleware binds no language outside them
            html = request.app.template_engine.get_template("error.html").render(
                request=request, status=status, message=message
            )
        security = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
        return Response(
            content=html,
            status_code=status,
            media_type="text/html",
            headers={**PAGE_HEADERS, **security, **headers},
        )

    return handle


def with_error_pages(handlers: dict[Any, Any]) -> dict[Any, Any]:
    """The application's exception handlers, answering a browser's request for a page that no page
    handled (an unknown address, a method a page does not take) with an error page in the
    browser's language; every other client keeps its problem document."""
    return {kind: _or_page(handler) for kind, handler in handlers.items()}


EXCEPTION_PAGES: dict[Any, Any] = {
    SignInRequired: _to_login,
    MsnetError: _error_page,
    HTTPException: _error_page,
    Exception: _error_page,
}
