from __future__ import annotations

from litestar.testing import AsyncTestClient

from msnet.db.migrate import head_revision


async def test_live(client: AsyncTestClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_the_head_revision(client: AsyncTestClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "schema_revision": head_revision()}
