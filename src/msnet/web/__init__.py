"""The staff's pages: server-rendered HTML (Jinja2) over the same services as the API, signed in
through each organisation's OpenID Connect provider (DESIGN.md, "Staff web application").

:data:`PAGES` lists the page controllers; :func:`router` puts them behind the person's session, CSRF
check, security headers and error pages; :data:`assets` serves ``static/`` (htmx, the style sheet).
None of it is in the OpenAPI document.
"""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from msnet.web import csrf
from msnet.web.admin import OrganisationAdminPages
from msnet.web.directory import DirectoryPages
from msnet.web.oidc import Providers
from msnet.web.overlaps import OverlapPages
from msnet.web.pages import (
    EXCEPTION_PAGES,
    STATIC,
    PersonSession,
    provide_db,
    provide_principal,
    template_config,
    with_error_pages,
)
from msnet.web.quarterly import QuarterlyMailingPages
from msnet.web.reports import ReportPages
from msnet.web.requests import InboxPage, RequestPages
from msnet.web.roster import RosterPages
from msnet.web.routes import AdminPages, HomePage, SignInPages
from msnet.web.saved import SavedSearchPages
from msnet.web.security import SecurityHeaders
from msnet.web.trainings import TrainingPages

__all__ = ["Providers", "assets", "router", "template_config", "with_error_pages"]

#: ``opt`` of every page and static file: signed in with a session, not a token (tests/web/ checks
#: their guards; tests/test_route_guards.py the API's)
PAGE = {"page": True}
PAGES = [
    SignInPages,
    HomePage,
    AdminPages,
    OrganisationAdminPages,
    RosterPages,
    DirectoryPages,
    TrainingPages,
    SavedSearchPages,
    OverlapPages,
    ReportPages,
    QuarterlyMailingPages,
    RequestPages,
    InboxPage,
]


def router() -> Router:
    return Router(
        path="/",
        route_handlers=PAGES,
        middleware=[SecurityHeaders, PersonSession],
        guards=[csrf.check],
        dependencies={"principal": Provide(provide_principal), "db": Provide(provide_db)},
        exception_handlers=EXCEPTION_PAGES,
        include_in_schema=False,
        opt=PAGE,
    )


#: An hour's caching: the files change only with an msnet release (htmx's name carries its version).
assets = create_static_files_router(
    path="/static",
    directories=[STATIC],
    include_in_schema=False,
    cache_control=CacheControlHeader(public=True, max_age=3600),
    middleware=[SecurityHeaders],
    name="web_assets",
    opt=PAGE,
)
