"""create_app(settings) -> Litestar: plugins, routes, middleware."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Request
from litestar.di import Provide
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.params import BodyKwarg

import msnet
from msnet import jobs, tracing, web
from msnet.api import body_errors
from msnet.audit.routes import AuditController
from msnet.auth import failures
from msnet.auth.cache import ReadCache, ReadCaching
from msnet.auth.keys import KeyRing, load_key_ring
from msnet.auth.middleware import BearerAuthentication, RefusalGate
from msnet.auth.routes import ClientController, OAuthController
from msnet.auth.server import NodeAuthorizationServer
from msnet.auth.service import TokenVerifier
from msnet.auth.transaction import provide_session
from msnet.db.engine import Timeouts, make_engine, make_sessionmaker, searches_use_indexes
from msnet.db.migrate import head_revision
from msnet.db.replica import make_replica
from msnet.directory.routes import CapacityController, OfficeController
from msnet.docs import routes as docs
from msnet.docs.openapi import DocumentedStructs, document_operations, openapi_config
from msnet.errors import BadRequest, InvalidInput, StartupError
from msnet.federation import contact as federation_contact
from msnet.federation import coordination as federation_overlaps
from msnet.federation import service as federation
from msnet.federation.checkpoint_routes import CheckpointController
from msnet.federation.feed_routes import FeedController
from msnet.federation.inbox import InboxController as PeerInboxController
from msnet.federation.routes import NodeDocumentController
from msnet.logs import get_logger
from msnet.middleware import Metrics, RequestContext
from msnet.ops.routes import OpsController
from msnet.organisations.routes import OrganisationController
from msnet.outbox.routes import WebhookController
from msnet.overlaps.routes import OverlapController
from msnet.preconditions import require_if_match
from msnet.problems import EXCEPTION_HANDLERS, database_unavailable
from msnet.processes.routes import ProcessController
from msnet.reports.routes import LessonController, ReportController
from msnet.requests.routes import InboxController, RequestController
from msnet.roster.routes import ExpertController
from msnet.settings import Settings
from msnet.taxonomy.routes import TaxonomyController
from msnet.training.routes import (
    PublicationController,
    SubscriptionController,
    TrainingController,
    TrainingFeedController,
)

ROUTES = [
    OpsController,
    OrganisationController,
    OAuthController,
    ClientController,
    AuditController,
    TaxonomyController,
    OfficeController,
    CapacityController,
    ExpertController,
    ProcessController,
    RequestController,
    InboxController,
    OverlapController,
    WebhookController,
    TrainingController,
    TrainingFeedController,
    PublicationController,
    SubscriptionController,
    ReportController,
    LessonController,
    NodeDocumentController,
    FeedController,
    CheckpointController,
    federation_contact.PeerContactController,
    PeerInboxController,
    docs.assets,
]


async def _check_request(request: Request) -> None:
    """Refuse early what no handler can take: NUL characters, which PostgreSQL cannot store (422),
    a change of a versioned record without If-Match (428), a body in another media type than its
    handler declares (JSON unless it says otherwise; 415), and JSON nested deeper than the decoder
    goes (400), and a JSON body whose values have the wrong JSON types (422: Litestar's own conversion
    would take a number for an instant)."""
    for name, value in (*request.path_params.items(), *request.query_params.items()):
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInput.field(name, "may not contain NUL characters")
    require_if_match(request)
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return
    declared = "application/json"
    if isinstance(data.kwarg_definition, BodyKwarg):
        declared = str(getattr(data.kwarg_definition.media_type, "value", data.kwarg_definition.media_type))
    sent = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if sent != declared:
        raise HTTPException(status_code=415, detail=f"send the body as {declared}")
    if b"\\u0000" in await request.body():
        raise InvalidInput.field("body", "may not contain NUL characters")
    if declared == "application/json":
        try:
            body = await request.json()  # kept: the handler reads the same decoded value
        except RecursionError:
            raise BadRequest("the body is nested too deeply") from None
        except SerializationException:
            return  # malformed JSON: the handler's own decoding reports it
        if body_errors(request, body):
            raise ValidationException  # the problem names every error (problems.request_errors)


@asynccontextmanager
async def database(app: Litestar) -> AsyncIterator[None]:
    """The engine, the key ring and the rest of what requests need, from the app's settings as they
    are when it starts."""
    settings: Settings = app.state.settings
    if not settings.database_url:
        raise StartupError("no database URL: start the embedded server first (msnet serve does)")
    if not settings.secret_key:
        raise StartupError(
            "no secret key: MSNET_SECRET_KEY (msnet serve makes one for the embedded database)"
        )
    traced = tracing.of(settings.otlp_endpoint)
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        timeouts=Timeouts.of(settings),
        metrics=app.state.metrics,
        tracing=traced,
    )
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.replica = replica = make_replica(settings, app.state.metrics, traced)
    app.state.read_cache = (
        ReadCache(settings.read_cache_entries, settings.read_cache_bytes, app.state.metrics)
        if settings.read_cache_entries
        else None
    )

    reloading = asyncio.Lock()

    async def reload_key_ring() -> None:
        """One reload at a time: who asks while one runs gets its ring, without another."""
        asked = getattr(app.state, "key_ring", None)
        async with reloading:
            if getattr(app.state, "key_ring", None) is asked:
                app.state.key_ring = await load_key_ring(app.state.sessionmaker, settings, asked)

    app.state.reload_key_ring = reload_key_ring
    try:
        await reload_key_ring()
        if not await searches_use_indexes(engine):
            get_logger("msnet").warning(
                "searches scan whole tables: the search operators are not LEAKPROOF in this database "
                "(run the ALTER FUNCTION statements of deploy/initdb.sql as a superuser)"
            )
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        # serve anyway: requests answer 503 and /health/ready says why until the database is up
        get_logger("msnet").warning("database unreachable at start", error=type(exc).__name__)
        app.state.key_ring = KeyRing.unloaded()
    try:
        yield
    finally:
        await engine.dispose()
        if replica is not None:
            await replica.engine.dispose()
        if traced:
            traced.flush()


def create_app(settings: Settings) -> Litestar:
    metrics = Metrics()
    verifier = TokenVerifier(settings.issuer)
    app = Litestar(
        route_handlers=[*ROUTES, web.router(), web.assets],
        template_config=web.template_config(),
        dependencies={"db": Provide(provide_session)},
        exception_handlers=web.with_error_pages(EXCEPTION_HANDLERS),
        before_request=_check_request,
        middleware=[BearerAuthentication, ReadCaching],
        request_max_body_size=settings.max_body_bytes,
        lifespan=[database, jobs.lifespan, failures.lifespan],
        openapi_config=openapi_config(msnet.__version__),
        plugins=[DocumentedStructs()],
        logging_config=None,
        debug=False,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.schema_head = head_revision()
    app.state.verifier = verifier
    app.state.identity_providers = web.Providers()  # their discovery documents and keys, kept
    app.state.oauth = NodeAuthorizationServer(settings.issuer, settings.access_token_ttl, verifier)
    app.state.node_clients = federation.load_node_client  # peers get tokens from /oauth/token
    app.state.ask_home = federation_contact.ask_home  # a copy's contact lookup (msnet.roster.routes)
    federation_overlaps.install()  # deconfliction reaches the process's home node (and the parties')
    document_operations(app)
    app.asgi_handler = RefusalGate(  # a refused address's failing attempts go no further
        RequestContext(
            app.asgi_handler, metrics, settings.request_timeout, tracing.of(settings.otlp_endpoint)
        )
    )
    return app
