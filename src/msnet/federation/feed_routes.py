"""``/federation/v1/changes`` and ``/federation/v1/poke``: for peer nodes only."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from msgspec import Meta, Struct
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth.keys import derive_key
from msnet.auth.principal import NODE_SCOPE, Principal, provide_principal, requires
from msnet.errors import Forbidden
from msnet.federation import feed
from msnet.federation.models import Peer
from msnet.federation.service import peer_node
from msnet.organisations.models import Organisation
from msnet.problems import problem_responses


class Poked(Struct):
    """A poke taken: this node pulls the caller's feed soon."""

    pull: Annotated[str, Meta(examples=["scheduled"])] = "scheduled"


FeedCursor = Annotated[
    str | None,
    QueryParameter(
        description="The `next_cursor` of the last page read; none to read from the start (a snapshot: "
        "every record your organisations may see, then the changes)."
    ),
]
FeedLimit = Annotated[
    int, QueryParameter(ge=1, le=feed.MAX_LIMIT, description="Changes read for this page, at most.")
]


async def audience_of(session: AsyncSession, peer: str) -> feed.Audience:
    """The organisations homed on ``peer``, as recorded here; a peer with none sees nothing."""
    rows = (
        await session.execute(select(Organisation.id, Organisation.slug).where(Organisation.home == peer))
    ).all()
    if not rows:
        raise Forbidden(f"no organisation is homed on {peer} here")
    return feed.Audience(peer, frozenset(r.id for r in rows), frozenset(r.slug for r in rows))


class FeedController(Controller):
    path = "/federation/v1"
    tags = ["federation"]
    guards = [peer_node, requires(NODE_SCOPE)]  # a peer node's token, which holds `federation` alone
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/changes",
        summary="The changes a peer node's organisations may see, signed, in commit order",
        responses=problem_responses(401, 403, 410, 422),
    )
    async def get_changes(
        self,
        request: Request,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        cursor: FeedCursor = None,
        limit: FeedLimit = feed.DEFAULT_LIMIT,
    ) -> feed.ChangePage:
        """For peer nodes (an access token with the scope `federation`, got with `private_key_jwt`
        signed by the node's key). The records homed on this node that the organisations homed on
        the calling node may see (`public` and `network` ones, and `restricted` ones shared with one
        of them), each as it stands now, once for every page of changes it appears in, in the order
        the changes committed. A record deleted, erased or no longer shared with them comes as a
        tombstone. Expert contact details never leave this node. A cursor this node did not give to
        the caller for its organisations as they are now answers 410: read again from the start."""
        state = request.app.state
        if state.key_ring.stale():
            await state.reload_key_ring()
        page = await feed.page(
            db,
            origin=state.settings.issuer,
            key=state.key_ring.signing,
            cursor_secret=derive_key(state.settings.secret_key, b"federation-cursor"),
            audience=await audience_of(db, principal.subject),
            cursor=cursor,
            limit=limit,
        )
        return feed.ChangePage(page.items, page.next_cursor, page.more)

    @post(
        "/poke",
        summary="A peer node says it has changes: its feed is pulled soon",
        status_code=202,
        responses=problem_responses(401, 403),
    )
    async def post_poke(
        self, db: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> Poked:
        """For peer nodes: the caller's change feed is pulled soon (it is pulled at least every
        `MSNET_FEDERATION_POLL_INTERVAL` seconds anyway). It carries nothing: what changed is read
        from the feed, verified."""
        await db.execute(update(Peer).where(Peer.issuer == principal.subject).values(poked_at=func.now()))
        return Poked()
