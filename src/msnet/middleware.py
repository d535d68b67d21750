"""The outermost layer: request id, access log and metrics for every HTTP request, matched or not."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import msgspec
import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram

from msnet.logs import get_logger
from msnet.problems import PROBLEM_JSON, RETRY_AFTER, Problem, problem_type

REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
log = get_logger("msnet.access")


class Metrics:
    """Request counts and latency histograms by route and status, and outbox deliveries by outcome, in a
    registry of the app's own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("method", "route", "status")
        self.requests = Counter(
            "msnet_http_requests", "HTTP requests answered.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "msnet_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            labels,
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.deliveries = Counter(
            "msnet_outbox_deliveries",
            "Outbox delivery attempts (webhook, email) by outcome (delivered, retry, failed).",
            ("kind", "outcome"),
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "msnet_auth_failures",
            "Failed authentications (bearer tokens, OAuth endpoints) by reason; never the token.",
            ("reason",),
            registry=self.registry,
        )
        self.auth_refusals = Counter(
            "msnet_auth_refusals",
            "Failing attempts answered 429: their address failed too often in the interval.",
            ("reason",),
            registry=self.registry,
        )


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            return value.decode() if _VALID_REQUEST_ID.match(value) else None
    return None


class RequestContext:
    """Gives each request an id (the client's ``X-Request-ID`` if well-formed), binds it to every
    log line, returns it in the response, logs the request and records its metrics; and answers 503
    with ``Retry-After`` for a request still unanswered after ``deadline`` seconds, whatever it waits
    for (the handler is cancelled and unwinds in the background; what it sends then is dropped)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, deadline: float) -> None:
        self.app = app
        self.metrics = metrics
        self.deadline = deadline
        self._unwinding: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        responded = False  # the handler has started its response
        overdue = False  # the deadline answered instead: the handler's messages are dropped
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if overdue:
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                headers: Any = message.setdefault("headers", [])
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            handler = asyncio.ensure_future(self.app(scope, receive, send_with_id))
            try:
                await asyncio.wait({handler}, timeout=self.deadline)
                if handler.done():
                    handler.result()
                else:
                    overdue = True
                    self._abandon(handler)
                    log.warning("request overdue", path=scope["path"], deadline_s=self.deadline)
                    if not responded:
                        status = 503
                        await _overdue(send, scope["path"], request_id)
            except asyncio.CancelledError:
                handler.cancel()
                raise
            finally:
                elapsed = time.perf_counter() - started
                route = scope.get("path_template") or "unmatched"
                labels = (scope["method"], route, str(status))
                self.metrics.requests.labels(*labels).inc()
                self.metrics.latency.labels(*labels).observe(elapsed)
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    client=(scope.get("client") or ("", 0))[0],
                )

    def _abandon(self, handler: asyncio.Task[None]) -> None:
        """Cancel an overdue handler and keep it until it has unwound (its transaction rolled back)."""
        handler.cancel()
        self._unwinding.add(handler)

        def unwound(task: asyncio.Task[None]) -> None:
            self._unwinding.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.warning("overdue request failed while unwinding", error=type(task.exception()).__name__)

        handler.add_done_callback(unwound)


async def _overdue(send: Send, path: str, request_id: str) -> None:
    problem = Problem(
        type=problem_type("unavailable"),
        title="Service unavailable",
        status=503,
        detail=f"the request took too long; retry in {RETRY_AFTER} s",
        instance=path,
        request_id=request_id,
    )
    body = msgspec.json.encode(problem)
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER).encode()),
                (REQUEST_ID_HEADER, request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
