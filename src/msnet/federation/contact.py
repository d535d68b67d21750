"""An expert's contact details across nodes: they never leave the expert's home node, which answers
for a peer's organisation.

The reader's node: a lookup on a copy (``GET /v1/experts/{id}/contact``, ``msnet.roster``) is asked of
the expert's home node by :func:`ask_home`, as this node (``PeerClient``: its own token, scope
``federation``) on behalf of the reader's organisation, and recorded in the reader's audit log.

The home node: ``GET /federation/v1/experts/{id}/contact?organisation=SLUG`` answers a peer node only
for an organisation homed on that peer, with the sharing rules that organisation is under here (an
expert it may not see is a 404), and records the read in that organisation's log and the disclosure
in the owner's, the actor naming the peer node and the organisation (``node:ISSUER#SLUG``).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import httpx
import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.audit.service import record_action
from msnet.auth.principal import Principal, provide_principal
from msnet.db.engine import set_organisation
from msnet.errors import Forbidden, HomeUnavailable, NotFound
from msnet.federation.client import PeerClient, PeerError
from msnet.federation.service import peer_node
from msnet.logs import get_logger
from msnet.organisations.models import Organisation
from msnet.problems import problem_responses
from msnet.roster import service as roster
from msnet.roster.schemas import ExpertContact

PATH = "/federation/v1/experts"
log = get_logger("msnet.federation.contact")

Reader = Annotated[
    str,
    QueryParameter(
        min_length=2,
        max_length=32,
        description="The slug of the organisation, homed on the calling node, that asks for the details.",
    ),
]


async def ask_home(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    expert_id: UUID,
    home: str,
) -> ExpertContact:
    """The contact details of the expert ``expert_id``, homed on the peer ``home``, as its home node
    gives them to ``principal``'s organisation; the read recorded in that organisation's log. 404
    when the home node does not show the expert to it; :class:`HomeUnavailable` naming the node to
    ask when it does not answer as it should."""
    state = request.app.state
    if state.key_ring.stale():
        await state.reload_key_ring()
    path = f"{PATH}/{expert_id}/contact"
    try:
        async with PeerClient(state.settings, state.key_ring, home) as client:
            response = await client.get(path, {"organisation": principal.org_slug})
    except (httpx.HTTPError, PeerError) as exc:
        log.warning("home node not reached for a contact lookup", home=home, error=str(exc))
        raise HomeUnavailable(
            f"the contact details of expert {expert_id} are kept by its home node, {home}, which could "
            "not be reached: try again later, or ask that node",
            home_node=home,
        ) from None
    if response.status_code == 404:
        raise NotFound(f"no expert {expert_id} for '{principal.org_slug}' on its home node, {home}")
    try:
        contact = (
            msgspec.json.decode(response.content, type=ExpertContact) if response.status_code == 200 else None
        )
    except msgspec.DecodeError:
        contact = None
    if contact is None or contact.expert_id != expert_id:
        log.warning("home node refused a contact lookup", home=home, status=response.status_code)
        raise HomeUnavailable(
            f"the contact details of expert {expert_id} are kept by its home node, {home}, which "
            f"answered {response.status_code}: ask that node",
            home_node=home,
        )
    await record_action(session, principal, "expert.contact.read", "expert", expert_id, {"home_node": home})
    return contact


async def acting_for(session: AsyncSession, node: Principal, slug: str) -> Principal:
    """The peer ``node`` acting for its organisation ``slug`` (403 for one not homed on it), with row-level
    security set to that organisation for the rest of the transaction."""
    org_id = await session.scalar(
        select(Organisation.id).where(Organisation.slug == slug, Organisation.home == node.subject)
    )
    if org_id is None:
        raise Forbidden(f"no organisation '{slug}' homed on {node.subject} is known here")
    await set_organisation(session, org_id)
    return Principal(
        org_id=org_id,
        org_slug=slug,
        subject=f"{node.subject}#{slug}",
        scopes=frozenset({"roster:contact"}),
        credential=node.credential,
        expires_at=node.expires_at,
        kind="node",
    )


class PeerContactController(Controller):
    path = PATH
    tags = ["federation"]
    guards = [peer_node]
    dependencies = {"principal": Provide(provide_principal)}

    @get(
        "/{expert_id:uuid}/contact",
        summary="An expert's contact details, for an organisation homed on the calling node (audited)",
        responses=problem_responses(401, 403, 404, 409),
    )
    async def get_expert_contact_for_peer(
        self,
        db: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        expert_id: FromPath[UUID],
        organisation: Reader,
    ) -> ExpertContact:
        """For peer nodes (scope `federation`): the e-mail and phone of an expert homed on this node,
        asked on behalf of `organisation`, which must be homed on the calling node (403 otherwise). The
        expert is shown to it as to any organisation (404 for one it may not see); the read is recorded
        in its audit log here and the disclosure in the owner's, the actor naming the calling node and
        the organisation (`node:ISSUER#SLUG`). An expert that is itself a copy here answers 409 naming
        its home node."""
        return await roster.read_contact(db, await acting_for(db, principal, organisation), expert_id)
