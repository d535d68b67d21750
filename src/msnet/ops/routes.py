"""/health/live, /health/ready and /metrics: for the node's operator and its orchestrator."""

from __future__ import annotations

from litestar import Controller, MediaType, Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from msnet.ops import schemas, service
from msnet.problems import problem_responses


class OpsController(Controller):
    tags = ["operations"]

    @get("/health/live", summary="The process is up")
    async def live(self) -> schemas.Live:
        return schemas.Live()

    @get(
        "/health/ready",
        summary="The database is reachable and its schema at head",
        responses=problem_responses(503),
    )
    async def ready(self, request: Request) -> schemas.Ready:
        state = request.app.state
        return await service.check_ready(state.engine, state.schema_head)

    @get("/metrics", summary="Prometheus metrics", media_type=MediaType.TEXT)
    async def metrics(self, request: Request) -> Response[bytes]:
        return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
