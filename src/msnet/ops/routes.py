"""/health/live, /health/ready and /metrics: for the node's operator and its orchestrator."""

from __future__ import annotations

from litestar import Controller, MediaType, Request, Response, get

from msnet.ops import schemas, service
from msnet.problems import problem_responses


class OpsController(Controller):
    tags = ["operations"]

    @get("/health/live", summary="The process is up")
    async def check_liveness(self) -> schemas.Live:
        """Answers 200 while the process is up, whatever the database's state: for a liveness probe.
        Public."""
        return schemas.Live()

    @get(
        "/health/ready",
        summary="The database is reachable and its schema at head",
        responses=problem_responses(503),
    )
    async def check_readiness(self, request: Request) -> schemas.Ready:
        """Answers 200 when the database answers and its schema is at this release's head; 503, saying why,
        otherwise: for a readiness probe. Public."""
        state = request.app.state
        return await service.check_ready(state.engine, state.schema_head)

    @get("/metrics", summary="Prometheus metrics", media_type=MediaType.TEXT)
    async def get_metrics(self, request: Request) -> Response[bytes]:
        """Prometheus text: requests by method, route and status, their latency, and outbox deliveries by
        outcome. Public: it counts, it names no record."""
        state = request.app.state
        node = await service.node_state(state.engine, state.sessionmaker, state.schema_head)
        body, content_type = state.metrics.exposition(request.headers.get("accept", ""), node)
        return Response(body, headers={"content-type": content_type})
