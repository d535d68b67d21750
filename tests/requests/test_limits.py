"""The burst limit on submit and withdraw counts each actor's attempts apart: a person and a peer
node acting for the same organisation are held back on their own, as two clients are."""

from __future__ import annotations

from sqlalchemy import select

from msnet.requests.limits import BURST_WINDOW, burst_wait
from msnet.requests.models import RequestBurst
from msnet.settings import Settings
from tests.audit.actors import acting, node, person


async def test_each_actor_has_its_own_count(settings: Settings) -> None:
    async with acting(settings, "au") as (session, au):
        waits = [await burst_wait(session, person(au), "submit", 2) for _ in range(3)]
        assert waits[:2] == [None, None]
        assert waits[2] is not None
        assert 1 <= waits[2] <= BURST_WINDOW.total_seconds()
        assert await burst_wait(session, node(au), "withdraw", 2) is None
        counted = (await session.execute(select(RequestBurst.actor, RequestBurst.action))).all()
    assert sorted(counted) == [
        ("node:https://node.example", "withdraw"),
        ("person:https://idp.example#alice", "submit"),
        ("person:https://idp.example#alice", "submit"),
    ]
