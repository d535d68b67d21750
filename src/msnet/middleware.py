"""The outermost layer: request id, access log and metrics for every HTTP request, matched or not."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import uuid
from typing import Any

import msgspec
import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from msnet.logs import get_logger
from msnet.problems import PROBLEM_JSON, RETRY_AFTER, Problem, problem_type
from msnet.tracing import Tracing

REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
log = get_logger("msnet.access")


MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: The methods HTTP defines (RFC 9110, and PATCH): any other a client sends is labelled ``_OTHER``
#: (OpenTelemetry's name for it), so a client cannot add series, or span names, at will.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
_WAIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Request counts and latency histograms by route and status, outbox deliveries by outcome and the
    database pool's state, in a registry of the app's own.

    Under ``msnet serve --processes N`` the CLI sets ``PROMETHEUS_MULTIPROC_DIR`` before any metric
    exists: every process then writes its values to files there (prometheus-client's multiprocess
    mode), and whichever process answers ``/metrics`` reads them all, so counters are the node's,
    exact, not one process's. The pool's gauges are summed over the processes alive."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess_dir = os.environ.get(MULTIPROCESS_DIR)
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
            "Failing attempts answered 429: their address failed too often in the interval (reason "
            "unchecked: a token-endpoint request of such an address refused unchecked, the hold full).",
            ("reason",),
            registry=self.registry,
        )
        self.auth_refusals_held = Gauge(
            "msnet_auth_refusals_held",
            "Refused answers held now (MSNET_AUTH_REFUSAL_DELAY), summed over the serving processes alive.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.auth_refusals_unheld = Counter(
            "msnet_auth_refusals_unheld",
            "Refused answers sent at once: MSNET_AUTH_REFUSAL_HOLD_LIMIT answers were held already.",
            registry=self.registry,
        )
        self.pool_size = self._pool_gauge(
            "msnet_db_pool_size", "Connections a pool keeps open (MSNET_DB_POOL_SIZE)."
        )
        self.pool_max_overflow = self._pool_gauge(
            "msnet_db_pool_max_overflow", "Connections a pool may open beyond its size."
        )
        self.pool_connections = self._pool_gauge("msnet_db_pool_connections", "Open database connections.")
        self.pool_checked_out = self._pool_gauge(
            "msnet_db_pool_checked_out", "Database connections in use by a request or a job."
        )
        self.pool_overflow = self._pool_gauge(
            "msnet_db_pool_overflow", "Open database connections beyond the pool's size."
        )
        self.pool_wait = Histogram(
            "msnet_db_pool_wait_seconds",
            "Time to get a database connection from the pool (a free one, or a new one opened).",
            ("pool",),
            registry=self.registry,
            buckets=_WAIT_BUCKETS,
        )
        self.pool_timeouts = Counter(
            "msnet_db_pool_timeouts",
            "Connections not had from the pool within MSNET_DB_POOL_TIMEOUT.",
            ("pool",),
            registry=self.registry,
        )

        self.read_cache_hits = Counter(
            "msnet_read_cache_hits", "GET requests answered from the read cache.", registry=self.registry
        )
        self.read_cache_misses = Counter(
            "msnet_read_cache_misses",
            "GET requests the read cache could have answered and did not (none kept, or kept before a write).",
            registry=self.registry,
        )
        self.read_cache_entries = Gauge(
            "msnet_read_cache_entries",
            "Answers the read cache keeps, summed over the serving processes alive.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.read_cache_bytes = Gauge(
            "msnet_read_cache_bytes",
            "Bytes of answers the read cache keeps, summed over the serving processes alive.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def _pool_gauge(self, name: str, documentation: str) -> Gauge:
        return Gauge(
            name,
            f"{documentation} By pool, summed over the serving processes alive.",
            ("pool",),
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def exposition(self, accept: str, *collectors: Collector) -> tuple[bytes, str]:
        """Every metric, with those of ``collectors`` (read when called), in the format ``accept``
        asks for (Prometheus text, or OpenMetrics); and its content type."""
        registry = CollectorRegistry()
        if self.multiprocess_dir:
            MultiProcessCollector(registry, self.multiprocess_dir)
        else:
            registry.register(self.registry)
        for collector in collectors:
            registry.register(collector)
        encode, content_type = choose_encoder(accept)
        return encode(registry), content_type


def incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            return value.decode() if _VALID_REQUEST_ID.match(value) else None
    return None


class RequestContext:
    """Gives each request an id (the client's ``X-Request-ID`` if well-formed), binds it to every
    log line, returns it in the response, logs the request and records its metrics; and answers 503
    with ``Retry-After`` for a request still unanswered after ``deadline`` seconds, whatever it waits
    for (the handler is cancelled and unwinds in the background; what it sends then is dropped).
    With ``tracing``, each request is a server span, which carries the request id."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, deadline: float, tracing: Tracing | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.deadline = deadline
        self.tracing = tracing
        self._unwinding: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or uuid.uuid4().hex
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

        traced = self.tracing.request(scope, request_id) if self.tracing else contextlib.nullcontext()
        with structlog.contextvars.bound_contextvars(request_id=request_id), traced as span:
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
                method = scope["method"] if scope["method"] in HTTP_METHODS else "_OTHER"
                labels = (method, route, str(status))
                self.metrics.requests.labels(*labels).inc()
                self.metrics.latency.labels(*labels).observe(elapsed)
                if self.tracing and span:
                    self.tracing.answered(span, method, route, status)
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
