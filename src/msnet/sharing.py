"""Sharing levels (aligned with TLP 2.0) on every shared record, and who may see what."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Any, Literal
from uuid import UUID

from msgspec import Meta
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Uuid,
    any_,
    bindparam,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth.principal import Principal
from msnet.errors import Errors, Forbidden, HeldElsewhere, InvalidInput, NotFound
from msnet.organisations.models import Organisation
from msnet.preconditions import check_version

Sharing = Literal["private", "restricted", "network", "public"]
ShareWith = Annotated[
    list[Annotated[str, Meta(pattern=r"^[a-z][a-z0-9-]{1,31}$")]],
    Meta(max_length=50, description="Organisations a `restricted` record is shared with (slugs)."),
]


def visible(model: Any, principal: Principal | None) -> ColumnElement[bool]:
    """The query-side twin of the row-level security policy: what ``principal`` may read."""
    if principal is None:
        return model.sharing == "public"
    return visible_to(model, principal.org_id)


def visible_to(model: Any, org: UUID | BindParameter[UUID]) -> ColumnElement[bool]:
    """What organisation ``org`` may read; ``org`` may be the bind parameter of a statement built once.
    No ``IN``: SQLAlchemy renders the statement again at every execution for an expanding list."""
    return or_(
        model.organisation_id == org,
        model.sharing == "network",
        model.sharing == "public",
        (model.sharing == "restricted") & (any_(model.share_with) == org),
    )


def visible_to_caller(model: Any, anonymous: bool) -> ColumnElement[bool]:
    """:func:`visible` for a statement built once for many callers: public records for an anonymous
    one, else what the organisation in the bind parameter ``org`` may read."""
    return visible(model, None) if anonymous else visible_to(model, bindparam("org", type_=Uuid))


async def resolve_share_with(session: AsyncSession, sharing: str, slugs: Sequence[str]) -> list[UUID]:
    """Organisation ids for ``share_with``; it must be empty unless the record is restricted. Every
    slug that names no organisation is reported, each under ``share_with.position``."""
    if sharing != "restricted":
        if slugs:
            raise InvalidInput.field("share_with", "is only for sharing 'restricted'")
        return []
    if not slugs:
        raise InvalidInput.field("share_with", "name at least one organisation for sharing 'restricted'")
    rows = dict(
        (
            await session.execute(
                select(Organisation.slug, Organisation.id).where(Organisation.slug.in_(slugs))
            )
        ).all()
    )
    with Errors() as errors:
        for i, slug in enumerate(slugs):
            if slug not in rows:
                errors.add(f"share_with.{i}", f"no organisation '{slug}'")
    return [rows[s] for s in dict.fromkeys(slugs)]


async def resolve_sharing(session: AsyncSession, record: Any, changes: dict[str, Any]) -> None:
    """Resolve, in ``changes`` to ``record``, a change of sharing: ``share_with``'s slugs (or the
    record's own organisations, when only ``sharing`` changes) become organisation ids, checked as
    :func:`resolve_share_with` checks them. Ids already resolved stay as they are, so a service may
    check the sharing beside its other fields (and report every error together) before
    :func:`apply_changes`, which resolves what is not yet."""
    if "sharing" not in changes and "share_with" not in changes:
        return
    sharing = changes.get("sharing", record.sharing)
    slugs = changes.get("share_with")
    if slugs and all(isinstance(s, UUID) for s in slugs):
        return
    if slugs is None:
        slugs = list((await slugs_of(session, record.share_with)).values()) if sharing == "restricted" else []
    changes["share_with"] = await resolve_share_with(session, sharing, slugs)


#: Organisation slugs by id, as read so far: a slug never changes (its clients' ids begin with it)
#: and an organisation is never deleted, so what was read once holds for the life of the process.
_SLUGS: dict[UUID, str] = {}


async def slugs_of(session: AsyncSession, ids: Sequence[UUID]) -> dict[UUID, str]:
    if missing := {i for i in ids if i not in _SLUGS}:
        _SLUGS.update(
            (
                await session.execute(
                    select(Organisation.id, Organisation.slug).where(Organisation.id.in_(missing))
                )
            ).all()
        )
    return {i: _SLUGS[i] for i in ids if i in _SLUGS}


async def home_node(session: AsyncSession, record: Any) -> str | None:
    """The issuer of the peer node ``record`` is homed on (this node holds a read-only copy of it), or
    None for a record homed here: its organisation's ``home``, which a copy's ``origin`` always equals
    (``msnet.federation.apply`` takes a record only from its organisation's home)."""
    return await session.scalar(select(Organisation.home).where(Organisation.id == record.organisation_id))


async def refuse_copy(session: AsyncSession, record: Any, what: str) -> None:
    """A copy of a peer's record is read-only here: :class:`HeldElsewhere` (409) naming its home."""
    if (home := await home_node(session, record)) is not None:
        raise _held_elsewhere(record, what, home)


def _held_elsewhere(record: Any, what: str, home: str) -> HeldElsewhere:
    return HeldElsewhere(
        f"{what} {record.id} is a read-only copy of a record homed on {home}: only that node changes it",
        home_node=home,
    )


async def lock_for_owner(session: AsyncSession, principal: Principal, record: Any, what: str) -> None:
    """Only the owner changes a shared record it can see (403 otherwise), and only on its home node
    (409 naming that node for a copy held from a peer, before any other check); the row is then locked
    so concurrent writers wait and If-Match holds. Not on the visibility query itself: FOR UPDATE there
    would apply the UPDATE policies and turn another organisation's 403 into a 404."""
    await refuse_copy(session, record, what)
    if record.organisation_id != principal.org_id:
        raise Forbidden(f"only the {what}'s own organisation may change it")
    record_id = record.id  # read before: a record whose row is gone cannot be read from
    try:
        await session.refresh(record, with_for_update=True)
    except InvalidRequestError:  # "could not refresh": a concurrent delete committed first
        raise NotFound(f"no {what} {record_id}: it was deleted meanwhile") from None


#: :func:`lock_owned`'s statement by model, built once.
_OWNED: dict[Any, Select[Any]] = {}


async def lock_owned(
    session: AsyncSession, principal: Principal, model: Any, record_id: UUID, what: str
) -> Any:
    """The record of ``model`` with id ``record_id`` that ``principal``'s organisation owns, locked (so
    concurrent writers wait and If-Match holds), with its organisation's home node, in one statement.
    Found so, it is refused as :func:`lock_for_owner` refuses a copy homed elsewhere (409). Not found
    so, the answer is the one :func:`lock_for_owner` gives after a read of what the caller may see:
    404 when it may see no such record, 409 for a copy held from a peer, 403 for another
    organisation's record. The lock applies the UPDATE policies, which let only the owner's rows
    through: that is why it is not the visibility query itself."""
    statement = _OWNED.get(model)
    if statement is None:
        statement = _OWNED[model] = (
            select(model, Organisation.home)
            .join(Organisation, Organisation.id == model.organisation_id)
            .where(model.id == bindparam("id"), model.organisation_id == bindparam("org"))
            .with_for_update(of=model)
            .execution_options(populate_existing=True)
        )
    found = (await session.execute(statement, {"id": record_id, "org": principal.org_id})).one_or_none()
    if found is not None:
        record, home = found
        if home is not None:
            raise _held_elsewhere(record, what, home)
        return record
    record = await session.scalar(select(model).where(model.id == record_id, visible(model, principal)))
    if record is None:
        raise NotFound(f"no {what} {record_id}")
    await refuse_copy(session, record, what)
    if record.organisation_id != principal.org_id:
        raise Forbidden(f"only the {what}'s own organisation may change it")
    raise NotFound(f"no {what} {record_id}: it was deleted meanwhile")


async def apply_changes(
    session: AsyncSession, record: Any, changes: dict[str, Any], if_match: str | None
) -> None:
    """Apply an update to a shared record (locked by the caller): If-Match, sharing, a new version.
    One statement writes the fields that differ and reads the record back as stored (its new
    ``updated_at``, JSON as the database holds it)."""
    check_version(if_match, record.version)
    await resolve_sharing(session, record, changes)
    model = type(record)
    loaded = inspect(record).dict  # an attribute expired by a flush before is written whatever it was
    values = {
        field: value for field, value in changes.items() if field not in loaded or loaded[field] != value
    }
    statement = _update_statement(model, tuple(values))
    await session.execute(
        statement,
        {
            "record_id": record.id,
            "new_version": record.version + 1,
            **{f"set_{f}": v for f, v in values.items()},
        },
    )


@lru_cache(maxsize=256)
def _update_statement(model: Any, fields: tuple[str, ...]) -> Any:
    """:func:`apply_changes`'s statement for ``model`` writing ``fields``, built once. The cache is
    bounded: a model of n fields has 2**n sets of them that a client may write, one a PATCH."""
    return (
        update(model)
        .where(model.id == bindparam("record_id"))
        .values(
            {**{field: bindparam(f"set_{field}") for field in fields}, "version": bindparam("new_version")}
        )
        .returning(model)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
