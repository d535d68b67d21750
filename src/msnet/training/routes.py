"""/v1/trainings (with its calendar and Atom feed), /v1/publications and /v1/subscriptions (digests)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from litestar import Controller, MediaType, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import DEFAULT_LIMIT, Code, Cursor, Limit, Slug, Term, Text
from msnet.auth.principal import Principal, provide_optional_principal, provide_principal, reads, requires
from msnet.auth.transaction import FROM_REPLICA
from msnet.idempotency.service import IdempotencyKeyHeader, replayable
from msnet.preconditions import IfMatch, etag
from msnet.problems import READ_RESPONSES, WRITE_RESPONSES, problem_responses
from msnet.training import digest, feeds, schemas, service

FEED_LIMIT = 500
Day = Annotated[date | None, QueryParameter(description="A date (YYYY-MM-DD).")]
Token = Annotated[str, QueryParameter(max_length=200, description="The token of the digest's link.")]
ONE_RESPONSES = problem_responses(401, 403, 404)


async def provide_training_filter(
    q: Text = None,
    organisation: Slug = None,
    theme: Term = None,
    kind: FromQuery[schemas.TrainingKind | None] = None,
    format: FromQuery[schemas.Format | None] = None,
    country: Code = None,
    region: Term = None,
    language: Code = None,
    audience: FromQuery[schemas.Audience | None] = None,
    start_from: Day = None,
    start_to: Day = None,
    open: Annotated[
        bool,
        QueryParameter(
            description="Only trainings still taking applications (deadline not passed; without a "
            "deadline, not started)."
        ),
    ] = False,
) -> service.TrainingFilter:
    return service.TrainingFilter(
        q=q,
        organisation=organisation,
        theme=theme,
        kind=kind,
        format=format,
        country=country,
        region=region,
        language=language,
        audience=audience,
        start_from=start_from,
        start_to=start_to,
        open=open,
    )


def _with_etag(record: schemas.Training | schemas.Publication, status: int = 200) -> Response:
    return Response(record, status_code=status, headers={"ETag": etag(record.version)})


class TrainingController(Controller):
    path = "/v1/trainings"
    tags = ["trainings"]
    dependencies = {
        "viewer": Provide(provide_optional_principal),
        "principal": Provide(provide_principal),
        "filters": Provide(provide_training_filter),
    }

    @get(
        "/",
        summary="Search trainings (soonest first; by relevance with q)",
        guards=[reads("training:read")],
        responses=READ_RESPONSES,
        opt=FROM_REPLICA,
    )
    async def search_trainings(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        filters: NamedDependency[service.TrainingFilter],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.TrainingPage:
        """Search the trainings you may see (courses, workshops, exchange visits, envoy retreats…), soonest
        first or by relevance with `q`, with facets. Scope `training:read` with a token; without one,
        public trainings only."""
        return await service.search_trainings(db, viewer, filters, limit=limit, cursor=cursor)

    @post("/", summary="Share a training", guards=[requires("training:write")], responses=WRITE_RESPONSES)
    async def share_training(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[schemas.TrainingCreate],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> schemas.Training:
        """Share a training opportunity with the network (or whom `sharing` says). Scope `training:write`;
        honours `Idempotency-Key`; 422 names every bad field."""
        return replayable(
            await service.create_training(
                db, principal, data, origin=request.app.state.settings.issuer, idempotency_key=idempotency_key
            )
        )

    @get(
        "/{training_id:uuid}",
        summary="One training",
        guards=[reads("training:read")],
        responses=ONE_RESPONSES,
    )
    async def get_training(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        training_id: FromPath[UUID],
    ) -> Response[schemas.Training]:
        """One training you may see. Scope `training:read` with a token; without one, public trainings
        only; 404 otherwise."""
        training = await service.get_training(db, viewer, training_id)
        return _with_etag(await service.training_schema(db, training))

    @patch(
        "/{training_id:uuid}",
        summary="Change a training (If-Match)",
        guards=[requires("training:write")],
        responses=WRITE_RESPONSES,
    )
    async def update_training(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        training_id: FromPath[UUID],
        data: JSONBody[schemas.TrainingUpdate],
        if_match: IfMatch = None,
    ) -> Response[schemas.Training]:
        """Change one of your trainings: only the fields that change, with `If-Match` (412 when stale).
        Scope `training:write`."""
        return _with_etag(await service.update_training(db, principal, training_id, data, if_match))

    @delete(
        "/{training_id:uuid}",
        summary="Delete a training",
        guards=[requires("training:write")],
        responses=WRITE_RESPONSES,
    )
    async def delete_training(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        training_id: FromPath[UUID],
        if_match: IfMatch = None,
    ) -> None:
        """Delete one of your trainings (`If-Match`). Scope `training:write`; 404 for another
        organisation's training."""
        await service.delete_training(db, principal, training_id, if_match)


class TrainingFeedController(Controller):
    """The same search as /v1/trainings, as a calendar and as a feed (at most 500 trainings)."""

    path = "/v1"
    tags = ["trainings"]
    dependencies = {
        "viewer": Provide(provide_optional_principal),
        "filters": Provide(provide_training_filter),
    }

    @get(
        "/trainings.ics",
        summary="Trainings as an iCalendar (RFC 5545) calendar; without a token, public ones only",
        guards=[reads("training:read")],
        responses=READ_RESPONSES,
        media_type="text/calendar",
        opt=FROM_REPLICA,
    )
    async def get_training_calendar(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        filters: NamedDependency[service.TrainingFilter],
    ) -> Response[bytes]:
        """The training search as an iCalendar (RFC 5545) calendar for calendar programs, each event in its
        own time zone. Without a token, public trainings only; with one, scope `training:read`."""
        page = await service.search_trainings(db, viewer, filters, limit=FEED_LIMIT, cursor=None)
        body = feeds.calendar(page.items, issuer=request.app.state.settings.issuer)
        return Response(
            body,
            media_type="text/calendar",  # Litestar adds the charset of a text type itself
            headers={"Content-Disposition": 'inline; filename="trainings.ics"'},
        )

    @get(
        "/trainings.atom",
        summary="Trainings as an Atom feed; without a token, public ones only",
        guards=[reads("training:read")],
        responses=READ_RESPONSES,
        media_type="application/atom+xml",
        opt=FROM_REPLICA,
    )
    async def get_training_feed(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        filters: NamedDependency[service.TrainingFilter],
    ) -> Response[bytes]:
        """The training search as an Atom feed. Without a token, public trainings only; with one, scope
        `training:read`."""
        page = await service.search_trainings(db, viewer, filters, limit=FEED_LIMIT, cursor=None)
        issuer = request.app.state.settings.issuer
        body = feeds.atom(page.items, self_url=f"{issuer}{request.url.path}", issuer=issuer)
        return Response(body, media_type="application/atom+xml; charset=utf-8")


class PublicationController(Controller):
    path = "/v1/publications"
    tags = ["publications"]
    dependencies = {"viewer": Provide(provide_optional_principal), "principal": Provide(provide_principal)}

    @get(
        "/",
        summary="Search publications (newest first; by relevance with q)",
        guards=[reads("training:read")],
        responses=READ_RESPONSES,
        opt=FROM_REPLICA,
    )
    async def search_publications(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        q: Text = None,
        organisation: Slug = None,
        theme: Term = None,
        language: Code = None,
        published_from: Day = None,
        published_to: Day = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.PublicationPage:
        """Search the publications you may see (guidance notes, reports, lessons learned), newest first or
        by relevance with `q`. Scope `training:read` with a token; without one, public ones only."""
        filters = service.PublicationFilter(
            q=q,
            organisation=organisation,
            theme=theme,
            language=language,
            published_from=published_from,
            published_to=published_to,
        )
        return await service.search_publications(db, viewer, filters, limit=limit, cursor=cursor)

    @post("/", summary="Share a publication", guards=[requires("training:write")], responses=WRITE_RESPONSES)
    async def share_publication(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[schemas.PublicationCreate],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> schemas.Publication:
        """Share a publication (title, summary, themes, languages, link). Scope `training:write`; honours
        `Idempotency-Key`."""
        return replayable(
            await service.create_publication(
                db, principal, data, origin=request.app.state.settings.issuer, idempotency_key=idempotency_key
            )
        )

    @get(
        "/{publication_id:uuid}",
        summary="One publication",
        guards=[reads("training:read")],
        responses=ONE_RESPONSES,
    )
    async def get_publication(
        self,
        db: NamedDependency[AsyncSession],
        viewer: NamedDependency[Principal | None],
        publication_id: FromPath[UUID],
    ) -> Response[schemas.Publication]:
        """One publication you may see. Scope `training:read` with a token; 404 otherwise."""
        publication = await service.get_publication(db, viewer, publication_id)
        return _with_etag(await service.publication_schema(db, publication))

    @patch(
        "/{publication_id:uuid}",
        summary="Change a publication (If-Match)",
        guards=[requires("training:write")],
        responses=WRITE_RESPONSES,
    )
    async def update_publication(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        publication_id: FromPath[UUID],
        data: JSONBody[schemas.PublicationUpdate],
        if_match: IfMatch = None,
    ) -> Response[schemas.Publication]:
        """Change one of your publications: only the fields that change, with `If-Match` (412 when stale).
        Scope `training:write`."""
        return _with_etag(await service.update_publication(db, principal, publication_id, data, if_match))

    @delete(
        "/{publication_id:uuid}",
        summary="Delete a publication",
        guards=[requires("training:write")],
        responses=WRITE_RESPONSES,
    )
    async def delete_publication(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        publication_id: FromPath[UUID],
        if_match: IfMatch = None,
    ) -> None:
        """Delete one of your publications (`If-Match`). Scope `training:write`."""
        await service.delete_publication(db, principal, publication_id, if_match)


class SubscriptionController(Controller):
    path = "/v1/subscriptions"
    tags = ["subscriptions"]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/",
        summary="The organisation's digest subscriptions",
        guards=[requires("training:read")],
        responses=READ_RESPONSES,
    )
    async def list_subscriptions(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> schemas.SubscriptionPage:
        """Your organisation's digest subscriptions. Scope `training:read`."""
        return await digest.list_subscriptions(db, principal, limit=limit, cursor=cursor)

    @post(
        "/",
        summary="Subscribe an address to a weekly or monthly digest",
        guards=[requires("training:write")],
        responses=WRITE_RESPONSES,
    )
    async def create_subscription(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[schemas.SubscriptionCreate],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> schemas.Subscription:
        """Subscribe an address (a staff member's or an office's mailbox) to a weekly or monthly digest of
        what was shared, with saved filters. Scope `training:write`."""
        return replayable(
            await digest.create_subscription(db, principal, data, idempotency_key=idempotency_key)
        )

    @delete(
        "/{subscription_id:uuid}",
        summary="End a subscription",
        guards=[requires("training:write")],
        responses=problem_responses(401, 403, 404),
    )
    async def delete_subscription(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        subscription_id: FromPath[UUID],
    ) -> None:
        """End one of your organisation's digest subscriptions. Scope `training:write`; 404 for another
        organisation's."""
        await digest.delete_subscription(db, principal, subscription_id)

    @get(
        "/unsubscribe",
        summary="The page a digest's unsubscribe link opens (no sign-in; nothing changes until confirmed)",
        media_type=MediaType.HTML,
        responses=problem_responses(404),
    )
    async def show_unsubscribe_page(self, request: Request, token: Token) -> Response[str]:
        """The page a digest's unsubscribe link opens: it asks before anything changes. No token: the
        link's signed `token` is the credential; 404 for a bad or altered one."""
        digest.check_token(request.app.state.settings.secret_key, token)
        return Response(digest.unsubscribe_form(token), media_type=MediaType.HTML)

    @post(
        "/unsubscribe",
        summary="Unsubscribe with a digest's link (no sign-in; RFC 8058 one-click too)",
        status_code=200,
        media_type=MediaType.HTML,
        responses=problem_responses(404),
    )
    async def confirm_unsubscription(
        self, request: Request, db: NamedDependency[AsyncSession], token: Token
    ) -> Response[str]:
        """Unsubscribe with a digest's signed link (RFC 8058 one-click too). No token: the link's `token`
        is the credential; 404 for a bad or altered token."""
        await digest.unsubscribe(db, request.scope, request.app.state.settings.secret_key, token)
        return Response(digest.UNSUBSCRIBED_PAGE, media_type=MediaType.HTML)
