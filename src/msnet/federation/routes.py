"""``/.well-known/msnet-node``: this node's signed node document (public)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.federation import node, schemas
from msnet.problems import problem_responses

MEDIA_TYPE = "application/jose+json"


class NodeDocumentController(Controller):
    tags = ["federation"]

    @get(
        node.PATH,
        summary="This node's signed node document",
        media_type=MEDIA_TYPE,
        responses=problem_responses(),
    )
    async def get_node_document(
        self, request: Request, db: NamedDependency[AsyncSession]
    ) -> Response[schemas.SignedNodeDocument]:
        """Who this node is, signed by its keys (a JWS in the general JSON serialization, RFC 7515,
        signed by every key that currently verifies its tokens): its issuer, its public keys (`jwks`),
        the organisations homed here (slug, id, name, identifiers), its token endpoint and its
        federation endpoints, its software version and when the document was made. A peer's operator
        checks the key against the fingerprint handed over out of band (`msnet node fingerprint`).
        Public: no token needed."""
        state = request.app.state
        if not state.key_ring.recently_loaded():  # a key rotated by another process is signed with at once
            await state.reload_key_ring()
        document = await node.node_document(db, state.settings, state.key_ring)
        return Response(
            msgspec.json.decode(document, type=schemas.SignedNodeDocument),
            media_type=MEDIA_TYPE,
            headers={"Cache-Control": "no-cache"},
        )
