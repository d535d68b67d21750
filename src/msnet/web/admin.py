"""Administration as pages (``/admin``, role ``org_admin``, scope ``org:admin``): the organisation's
API clients, people and their roles, webhook endpoints, digest subscriptions, and its audit log with
the chain's verification; its identity provider is ``/admin/idp`` (:mod:`msnet.web.routes`).

Every page calls the services the API and the command line call, as the signed-in person, in the
request's transaction: each change is audited with the person as its actor, and a form's mistakes are
shown beside their fields with nothing written (the service runs in a savepoint). A secret (a
client's, a webhook's) is in the answer to the form that made it and nowhere else: never in a URL or
a log. Those forms carry a one-time key (the API's ``Idempotency-Key``), so sending one again (a
reload) does the thing once and shows the secret no more.
"""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import value_errors
from msnet.audit import service as audit
from msnet.audit.service import AuditFilter, VerifyReport, record_action
from msnet.auth import schemas as auth_schemas
from msnet.auth import service as auth
from msnet.auth.principal import SCOPES, Principal
from msnet.errors import Conflict, InvalidInput, NotFound
from msnet.federation.checkpoints import Witnessed, witnessed_of_this_node
from msnet.idempotency.service import Replayed, idempotent
from msnet.organisations import service as organisations
from msnet.outbox import schemas as outbox_schemas
from msnet.outbox import service as outbox
from msnet.roster.transfer import neutralised
from msnet.training import digest
from msnet.web import i18n, identity, people
from msnet.web.i18n import N_
from msnet.web.pages import needs, page, signed_in_person
from msnet.web.trainings import FILTER_NAMES, PERIOD_LABELS, by_field, named

PAGE_SIZE = 50
#: The most entries one CSV export of the audit log holds (the newest of those that match).
EXPORT_LIMIT = 10_000
#: The hidden field of a form whose answer shows a secret: a one-time key, so that sending the form
#: again (a reload) does nothing more and shows no secret.
FORM_KEY = "form_key"
AUDIT_FILTERS = {
    "actor": 200,
    "action": 200,
    "resource_type": 200,
    "resource_id": 200,
    "since": 10,
    "until": 10,
}
AUDIT_LABELS = {
    "actor": N_("Who"),
    "action": N_("Action"),
    "resource_type": N_("Record type"),
    "resource_id": N_("Record"),
    "since": N_("From (day)"),
    "until": N_("Until (day, included)"),
}
CSV_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "source",
    "request_id",
    "payload_digest",
    "hash",
)
OUTCOME_LABELS = {"success": N_("Success"), "failure": N_("Failure"), "denied": N_("Denied")}


def _new_key() -> str:
    return secrets.token_urlsafe(24)


def _form_key(form: Mapping[str, Any]) -> str | None:
    key = form.get(FORM_KEY)
    return key if isinstance(key, str) and 0 < len(key) <= 200 else None


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _no_hook(tp: Any, value: Any) -> Any:
    raise NotImplementedError


def _service_errors(exc: InvalidInput, fields: tuple[str, ...]) -> dict[str, list[str]]:
    return by_field([(e["field"], e["message"]) for e in exc.errors], fields)


# --- the audit log's filters ---------------------------------------------------------------


@dataclass(frozen=True)
class AuditQuery:
    """The audit log's filters as the form sent them (``values``), what they mean (``filters``) and
    every mistake in them by field."""

    values: dict[str, str]
    filters: AuditFilter
    errors: dict[str, list[str]]

    def url(self, path: str = "/admin/audit", **extra: str) -> str:
        shown = {k: v for k, v in {**self.values, **extra}.items() if v}
        return path + ("?" + urlencode(shown) if shown else "")


def _day(name: str, value: str, errors: dict[str, list[str]]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.setdefault(name, []).append(i18n.gettext("Enter a day as YYYY-MM-DD."))
        return None


def audit_query(params: Mapping[str, Any]) -> AuditQuery:
    values = {name: str(params.get(name) or "").strip() for name in AUDIT_FILTERS}
    errors: dict[str, list[str]] = {}
    for name, longest in AUDIT_FILTERS.items():
        if len(values[name]) > longest:
            errors.setdefault(name, []).append(i18n.gettext("At most %(n)s characters.", n=longest))
    since = _day("since", values["since"], errors) if "since" not in errors else None
    until = _day("until", values["until"], errors) if "until" not in errors else None
    if since and until and until < since:
        errors.setdefault("until", []).append(i18n.gettext("The period ends before it starts."))
    filters = AuditFilter(
        since=datetime.combine(since, time(), UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(), UTC) if until else None,
        **{name: values[name] or None for name in ("actor", "action", "resource_type", "resource_id")},
    )
    return AuditQuery(values, filters, errors)


# --- the chain's verification --------------------------------------------------------------


@dataclass
class Verification:
    """The last verification of the audit chain this process made, and the lock that lets one run at
    a time (kept in the application's state)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    at: datetime | None = None
    report: VerifyReport | None = None
    witnessed: Witnessed | None = None

    @property
    def vouching(self) -> list[str]:
        """The peers holding a checkpoint of the chain that it matches (when it is whole): what an
        organisation's administrator is shown, with whether the chain is whole, and never the node's
        counts or another organisation's entries."""
        if self.report is None or not self.report.ok or self.witnessed is None:
            return []
        return sorted({anchor.name.rpartition(", held by ")[2] for anchor in self.witnessed.anchors})

    @property
    def not_vouching(self) -> list[str]:
        """The peers asked that could not be asked or hold no checkpoint that verifies."""
        if self.witnessed is None:
            return []
        return [peer for peer in self.witnessed.asked if peer not in self.vouching]


def _verification(state: State) -> Verification:
    held = state.get("audit_verification")
    if held is None:
        held = state["audit_verification"] = Verification()
    return held


# --- the pages ------------------------------------------------------------------------------


class OrganisationAdminPages(Controller):
    """``/admin``: the overview, clients, people, webhooks, digest subscriptions and the audit log."""

    path = "/admin"
    include_in_schema = False
    guards = [needs("org:admin")]

    @get("/")
    async def overview(self) -> Template:
        return page("admin/index.html")

    # --- API clients ---

    @get("/clients")
    async def clients(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        return await self._clients(db, principal, cursor=cursor)

    async def _clients(
        self,
        db: AsyncSession,
        principal: Principal,
        *,
        cursor: str | None = None,
        values: Mapping[str, Any] | None = None,
        errors: dict[str, list[str]] | None = None,
        shown: auth_schemas.ClientCreated | None = None,
        notice: str | None = None,
        status: int = 200,
    ) -> Template:
        org = await organisations.get_by_slug(db, principal.org_slug)
        found = await auth.list_clients(db, org, limit=PAGE_SIZE, cursor=cursor)
        return page(
            "admin/clients.html",
            status_code=status,
            clients=found,
            cursor=cursor,
            scopes=SCOPES,
            values={"name": "", "jwks": "", "scopes": [], **(values or {})},
            errors=errors or {},
            field_labels={
                "name": i18n.gettext("Name"),
                "scopes": i18n.gettext("Scopes"),
                "jwks": i18n.gettext("Public keys (JWKS)"),
            },
            form_key=_new_key(),
            shown=shown,
            notice=notice,
        )

    @post("/clients")
    async def create_client(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        form = await request.form()
        values: dict[str, Any] = {
            "name": _text(form, "name"),
            "jwks": _text(form, "jwks"),
            "scopes": [s for s in form.getall("scopes", []) if isinstance(s, str)],
        }
        fields = ("name", "scopes", "jwks")
        body: dict[str, Any] = {"name": values["name"], "scopes": values["scopes"]}
        errors: list[tuple[str, str]] = []
        if values["jwks"]:
            try:
                body["jwks"] = msgspec.json.decode(values["jwks"])
            except msgspec.DecodeError:
                errors.append(("jwks", i18n.gettext("This is not JSON.")))
        errors += value_errors(body, auth_schemas.ClientCreate, [], _no_hook)
        key = _form_key(form)
        if key is None:
            errors.append(("name", i18n.gettext("The form has expired: send it again.")))
        if errors:
            return await self._clients(
                db, principal, values=values, errors=by_field(errors, fields), status=422
            )
        data = msgspec.convert(body, auth_schemas.ClientCreate)
        org = await organisations.get_by_slug(db, principal.org_slug)
        secret_key = request.app.state.settings.secret_key
        made: list[auth_schemas.ClientCreated] = []

        async def register() -> auth_schemas.Client:
            created = await auth.register_client(db, principal, org, data, secret_key=secret_key)
            made.append(created)
            return auth_schemas.Client(
                **{f: getattr(created, f) for f in auth_schemas.Client.__struct_fields__}
            )

        try:
            async with db.begin_nested():
                result = await idempotent(db, principal, key, "client.create", data, register)
        except InvalidInput as exc:
            return await self._clients(
                db, principal, values=values, errors=_service_errors(exc, fields), status=422
            )
        if isinstance(result, Replayed):
            return await self._clients(
                db, principal, notice=N_("This client was made already: its secret is not shown again.")
            )
        return await self._clients(db, principal, shown=made[0], status=201)

    @post("/clients/{client_id:str}/secret")
    async def rotate_secret(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        client_id: FromPath[str],
    ) -> Template:
        form = await request.form()
        key = _form_key(form)
        if key is None:
            raise InvalidInput.field(FORM_KEY, "the form has expired: reload the page")
        org = await organisations.get_by_slug(db, principal.org_slug)
        secret_key = request.app.state.settings.secret_key
        made: list[auth_schemas.ClientCreated] = []

        async def rotate() -> auth_schemas.Client:
            rotated = await auth.rotate_client_secret(db, principal, org, client_id, secret_key=secret_key)
            made.append(rotated)
            return auth_schemas.Client(
                **{f: getattr(rotated, f) for f in auth_schemas.Client.__struct_fields__}
            )

        result = await idempotent(db, principal, key, f"client.rotate_secret {client_id}", {}, rotate, 200)
        if isinstance(result, Replayed):
            return await self._clients(
                db, principal, notice=N_("This secret was rotated already: the new one is not shown again.")
            )
        return await self._clients(db, principal, shown=made[0])

    @post("/clients/{client_id:str}/revoke")
    async def revoke_client(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        client_id: FromPath[str],
    ) -> Redirect:
        org = await organisations.get_by_slug(db, principal.org_slug)
        await auth.delete_client(db, principal, org, client_id, request.app.state.settings.access_token_ttl)
        return Redirect("/admin/clients?revoked=1", status_code=303)

    # --- people and roles ---

    @get("/people")
    async def people_list(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        found, next_cursor, total = await people.list_people(
            db, principal.org_id, limit=PAGE_SIZE, cursor=cursor
        )
        return page("admin/people.html", people=found, next_cursor=next_cursor, total=total, cursor=cursor)

    @get("/people/{person_id:uuid}")
    async def person_form(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[UUID],
        saved: FromQuery[bool] = False,
    ) -> Template:
        person = await people.get(db, principal.org_id, person_id)
        return await self._person(request, db, principal, person, list(person.roles), {}, saved=saved)

    async def _person(
        self,
        request: Request,
        db: AsyncSession,
        principal: Principal,
        person: Any,
        roles: list[str],
        errors: dict[str, list[str]],
        *,
        saved: bool = False,
    ) -> Template:
        provider = await identity.get(db, principal.org_id)
        me = signed_in_person(request)
        return page(
            "admin/person.html",
            status_code=422 if errors else 200,
            person=person,
            roles=people.ROLES,
            chosen=roles,
            errors=errors,
            saved=saved,
            role_claim=provider.role_claim if provider else None,
            is_me=me is not None and me.person.id == person.id,
        )

    @post("/people/{person_id:uuid}")
    async def set_roles(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        person_id: FromPath[UUID],
    ) -> Template | Redirect:
        form = await request.form()
        roles = [r for r in form.getall("roles", []) if isinstance(r, str)]
        person = await people.get(db, principal.org_id, person_id)
        try:
            async with db.begin_nested():
                await people.keeps_an_administrator(db, person, roles)
                await people.set_roles(db, principal, person, roles)
        except InvalidInput as exc:
            return await self._person(request, db, principal, person, roles, _service_errors(exc, ("roles",)))
        return Redirect(f"/admin/people/{person_id}?saved=true", status_code=303)

    # --- webhooks ---

    @get("/webhooks")
    async def webhooks(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        cursor: FromQuery[str | None] = None,
        deleted: FromQuery[bool] = False,
    ) -> Template:
        notice = N_("The webhook endpoint was deleted.") if deleted else None
        return await self._webhooks(db, principal, cursor=cursor, notice=notice)

    async def _webhooks(
        self,
        db: AsyncSession,
        principal: Principal,
        *,
        cursor: str | None = None,
        values: Mapping[str, Any] | None = None,
        errors: dict[str, list[str]] | None = None,
        shown: outbox_schemas.WebhookCreated | None = None,
        notice: str | None = None,
        status: int = 200,
    ) -> Template:
        found = await outbox.list_endpoints(db, principal, limit=PAGE_SIZE, cursor=cursor)
        return page(
            "admin/webhooks.html",
            status_code=status,
            webhooks=found,
            cursor=cursor,
            event_types=outbox_schemas.EVENT_TYPES,
            values={"url": "", "description": "", "event_types": [], **(values or {})},
            errors=errors or {},
            field_labels={
                "url": i18n.gettext("URL"),
                "event_types": i18n.gettext("Events"),
                "description": i18n.gettext("Description"),
            },
            form_key=_new_key(),
            shown=shown,
            notice=notice,
        )

    @post("/webhooks")
    async def create_webhook(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Template:
        form = await request.form()
        values: dict[str, Any] = {
            "url": _text(form, "url"),
            "description": _text(form, "description"),
            "event_types": [e for e in form.getall("event_types", []) if isinstance(e, str)],
        }
        fields = ("url", "event_types", "description")
        settings = request.app.state.settings
        errors = value_errors(values, outbox_schemas.WebhookCreate, [], _no_hook)
        if not any(name == "url" for name, _ in errors):
            try:
                outbox.check_url(values["url"], private_addresses=settings.webhook_private_addresses)
            except InvalidInput as exc:
                errors += [(e["field"], e["message"]) for e in exc.errors]
        key = _form_key(form)
        if key is None:
            errors.append(("url", i18n.gettext("The form has expired: send it again.")))
        if errors:
            return await self._webhooks(
                db, principal, values=values, errors=by_field(errors, fields), status=422
            )
        data = msgspec.convert(values, outbox_schemas.WebhookCreate)
        try:
            async with db.begin_nested():
                made = await outbox.create_endpoint(
                    db,
                    principal,
                    data,
                    secret_key=settings.secret_key,
                    private_addresses=settings.webhook_private_addresses,
                    idempotency_key=key,
                )
        except InvalidInput as exc:
            return await self._webhooks(
                db, principal, values=values, errors=_service_errors(exc, fields), status=422
            )
        except Conflict as exc:
            return await self._webhooks(
                db, principal, values=values, errors={"url": [exc.detail]}, status=409
            )
        if isinstance(made, Replayed):
            return await self._webhooks(
                db,
                principal,
                notice=N_("This endpoint was registered already: its secret is not shown again."),
            )
        return await self._webhooks(db, principal, shown=made, status=201)

    @post("/webhooks/{webhook_id:uuid}/delete")
    async def delete_webhook(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        webhook_id: FromPath[UUID],
    ) -> Redirect:
        await outbox.delete_endpoint(db, principal, webhook_id)
        return Redirect("/admin/webhooks?deleted=true", status_code=303)

    # --- digest subscriptions ---

    @get("/subscriptions")
    async def subscriptions(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        cursor: FromQuery[str | None] = None,
        deleted: FromQuery[bool] = False,
    ) -> Template:
        found = await digest.list_subscriptions(db, principal, limit=PAGE_SIZE, cursor=cursor)
        rows = [
            (
                s,
                i18n.translate(PERIOD_LABELS[s.period]),
                [
                    (i18n.translate(FILTER_NAMES[name]), value if name == "q" else named(name, value, {}))
                    for name, value in msgspec.structs.asdict(s.filters).items()
                    if name != "publications" and value
                ],
            )
            for s in found.items
        ]
        return page("admin/subscriptions.html", page_of=found, rows=rows, cursor=cursor, deleted=deleted)

    @post("/subscriptions/{subscription_id:uuid}/delete")
    async def delete_subscription(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        subscription_id: FromPath[UUID],
    ) -> Redirect:
        await digest.delete_subscription(db, principal, subscription_id)
        return Redirect("/admin/subscriptions?deleted=true", status_code=303)

    # --- the audit log ---

    @get("/audit")
    async def audit_log(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        return await self._audit(request, db, principal, audit_query(request.query_params), cursor)

    async def _audit(
        self, request: Request, db: AsyncSession, principal: Principal, query: AuditQuery, cursor: str | None
    ) -> Template:
        entries = None
        if not query.errors:
            entries = await audit.list_entries(
                db, principal.org_id, query.filters, limit=PAGE_SIZE, cursor=cursor
            )
        verification = _verification(request.app.state)
        return page(
            "admin/audit.html",
            status_code=422 if query.errors else 200,
            query=query,
            entries=entries,
            cursor=cursor,
            labels={k: i18n.translate(v) for k, v in AUDIT_LABELS.items()},
            outcomes={k: i18n.translate(v) for k, v in OUTCOME_LABELS.items()},
            export_limit=EXPORT_LIMIT,
            verified_at=verification.at,
            report=verification.report,
            vouching=verification.vouching,
            not_vouching=verification.not_vouching,
            can_verify=request.app.state.settings.database_admin_url is not None,
        )

    @get("/audit.csv")
    async def audit_export(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Response[bytes] | Template:
        query = audit_query(request.query_params)
        if query.errors:
            return await self._audit(request, db, principal, query, None)
        found = await audit.list_entries(db, principal.org_id, query.filters, limit=EXPORT_LIMIT, cursor=None)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for entry in found.items:
            cells = msgspec.to_builtins(entry)
            writer.writerow([neutralised(str(cells[c])) if cells[c] is not None else "" for c in CSV_COLUMNS])
        await record_action(
            db,
            principal,
            "audit.export",
            "audit_log",
            None,
            {
                "filters": {k: v for k, v in query.values.items() if v},
                "rows": len(found.items),
                "total": found.total,
            },
        )
        return Response(
            out.getvalue().encode(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="audit.csv"',
                "Cache-Control": "no-store",
                "Vary": "Cookie",
            },
        )

    @post("/audit/verify")
    async def verify_chain(
        self, request: Request, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Redirect:
        """Verify the whole chain as ``msnet audit verify`` does (as the schema owner, against the
        checkpoints the peers hold of it), keep the report for the audit log's page, and go back to it."""
        admin_url = request.app.state.settings.database_admin_url
        if admin_url is None:
            raise NotFound("this node cannot verify its audit chain from the pages: run msnet audit verify")
        verification = _verification(request.app.state)
        async with verification.lock:
            witnessed = await witnessed_of_this_node(
                request.app.state.sessionmaker, request.app.state.settings
            )
            report = await audit.verify(admin_url, anchors=witnessed.anchors)
            verification.report, verification.witnessed = report, witnessed
            verification.at = datetime.now(UTC)
        await record_action(
            db,
            principal,
            "audit.verify",
            "audit_log",
            None,
            {"whole": report.ok, "witnessed_by": verification.vouching},
        )
        return Redirect("/admin/audit", status_code=303)
