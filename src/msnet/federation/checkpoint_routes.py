"""``/federation/v1/checkpoint`` and ``/federation/v1/witnessed``: the witnessed audit, for peer nodes
only (``msnet.federation.checkpoints``)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.api import Cursor
from msnet.auth.principal import NODE_SCOPE, Principal, provide_principal, requires
from msnet.errors import NotFound
from msnet.federation import checkpoints
from msnet.federation.service import peer_node
from msnet.problems import problem_responses

WitnessedLimit = Annotated[
    int, QueryParameter(ge=1, le=checkpoints.MAX_LIMIT, description="Checkpoints on this page, at most.")
]


class CheckpointController(Controller):
    path = "/federation/v1"
    tags = ["federation"]
    guards = [peer_node, requires(NODE_SCOPE)]  # a peer node's token, which holds `federation` alone
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/checkpoint",
        summary="The latest signed checkpoint of this node's audit chain",
        responses=problem_responses(401, 403, 404),
    )
    async def get_checkpoint(
        self, request: Request, db: NamedDependency[AsyncSession]
    ) -> checkpoints.SignedCheckpoint:
        """For peer nodes (scope `federation`): the latest checkpoint of this node's audit chain, its
        size and head hash signed with the node's key (see `checkpoint`), which the peer verifies with
        this node's published keys and keeps. A new one is signed every `MSNET_CHECKPOINT_INTERVAL`
        seconds when the chain has grown, and at shutdown. 404 before the first one is signed."""
        latest = await checkpoints.latest(db, request.app.state.settings.issuer)
        if latest is None:
            raise NotFound("this node has signed no checkpoint of its audit chain yet")
        return latest.signed()

    @get(
        "/witnessed",
        summary="The checkpoints of the calling node's audit chain that this node holds",
        responses=problem_responses(401, 403, 422),
    )
    async def get_witnessed(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        cursor: Cursor = None,
        limit: WitnessedLimit = 100,
    ) -> checkpoints.CheckpointPage:
        """For peer nodes (scope `federation`): every checkpoint of the calling node's own audit chain
        that this node fetched, verified and keeps, smallest first. `msnet audit verify` on the
        calling node checks its chain against them. Another node's checkpoints are not given."""
        return await checkpoints.held_of(db, principal.subject, limit=limit, cursor=cursor)
