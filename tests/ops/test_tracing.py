"""Traces to a real OTLP/HTTP receiver on loopback, whose export requests are decoded with the
protocol's own message types: a request is a server span continuing the caller's traceparent, with
a child span for each database statement; a webhook delivery is a client span whose traceparent the
receiver gets. Off, nothing of OpenTelemetry is loaded; set without the packages, msnet refuses to start."""

from __future__ import annotations

import dataclasses
import gzip
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanMessage
from sqlalchemy.ext.asyncio import async_sessionmaker

from msnet import tracing
from msnet.app import create_app
from msnet.errors import SettingsError, StartupError
from msnet.middleware import Metrics
from msnet.outbox import service
from msnet.outbox.worker import Worker
from msnet.settings import Settings
from tests.conftest import TEST_ISSUER, TEST_SECRET_KEY, free_port
from tests.faults.processes import Process, until
from tests.outbox.conftest import Receiver, acting, make_org, register, serving

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
# What msnet.tracing loads. (Litestar, making an app, looks for its own OpenTelemetry plugin, which
# imports the API package and its semantic conventions when they are installed: that is all.)
LOADED_BY_TRACING = (
    "opentelemetry.sdk",
    "opentelemetry.exporter",
    "opentelemetry.trace",
    "opentelemetry.propagat",
)


@dataclass(frozen=True)
class Exported:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]


class Collector:
    """An OTLP/HTTP receiver on loopback keeping the spans it is sent."""

    def __init__(self) -> None:
        self.port = free_port()
        self.spans: list[Exported] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        collector.spans.extend(_exported(span) for span in scope.spans)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _exported(span: SpanMessage) -> Exported:
    return Exported(
        name=span.name,
        kind=span.kind,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex(),
        attributes={a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes},
    )


@pytest.fixture
def otlp() -> Iterator[Collector]:
    collector = Collector()
    try:
        yield collector
    finally:
        collector.close()


@pytest.fixture
def settings(settings: Settings, otlp: Collector) -> Settings:
    return dataclasses.replace(settings, otlp_endpoint=otlp.url)


def _flushed(settings: Settings, otlp: Collector) -> list[Exported]:
    traced = tracing.of(settings.otlp_endpoint)
    assert traced is not None
    traced.flush()  # returns once the exporter's request is answered
    return otlp.spans


async def test_a_request_is_a_server_span_with_a_child_span_for_each_statement(
    client: AsyncTestClient, settings: Settings, otlp: Collector
) -> None:
    response = await client.get(
        "/v1/organisations",
        headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", "x-request-id": "req-traced"},
    )
    assert response.status_code == 200

    spans = _flushed(settings, otlp)
    (server,) = [s for s in spans if s.kind == SpanMessage.SPAN_KIND_SERVER]
    assert server.name == "GET /v1/organisations"
    assert (server.trace_id, server.parent_id) == (CALLER_TRACE, CALLER_SPAN)
    assert server.attributes["msnet.request_id"] == "req-traced"
    assert server.attributes["http.response.status_code"] == 200
    statements = [s for s in spans if s.parent_id == server.span_id]
    assert statements, "the request's statements are its children"
    assert all(s.kind == SpanMessage.SPAN_KIND_CLIENT for s in statements)
    assert all(s.attributes["db.system.name"] == "postgresql" for s in statements)
    assert "SELECT" in {s.name for s in statements}
    assert all(s.trace_id == CALLER_TRACE for s in statements)


async def test_a_request_without_traceparent_starts_a_trace(
    client: AsyncTestClient, settings: Settings, otlp: Collector
) -> None:
    first = await client.get("/health/live")
    second = await client.get("/health/live")
    spans = _flushed(settings, otlp)
    servers = {s.attributes["msnet.request_id"]: s for s in spans if s.kind == SpanMessage.SPAN_KIND_SERVER}
    one, other = servers[first.headers["x-request-id"]], servers[second.headers["x-request-id"]]
    assert one.parent_id == other.parent_id == ""
    assert one.trace_id != other.trace_id


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serving(Receiver())


async def test_a_delivery_is_a_client_span_whose_traceparent_the_receiver_gets(
    client: AsyncTestClient,
    settings: Settings,
    otlp: Collector,
    owner_conn: asyncpg.Connection,
    sessionmaker: async_sessionmaker,
    receiver: Receiver,
) -> None:
    au = await make_org(client, settings, owner_conn, "au")
    await register(client, au, receiver.url)
    async with acting(sessionmaker, au.id) as session:
        await service.emit(session, organisation_id=au.id, event_type="request.received", data={})
    worker = Worker(sessionmaker, settings, Metrics())
    try:
        assert await worker.run_once() == 1
    finally:
        await worker.close()

    (received,) = receiver.received
    version, trace_id, span_id, flags = received.headers["traceparent"].split("-")
    (delivery,) = [s for s in _flushed(settings, otlp) if s.name == "deliver webhook"]
    assert delivery.kind == SpanMessage.SPAN_KIND_CLIENT
    assert (delivery.trace_id, delivery.span_id) == (trace_id, span_id)
    assert delivery.attributes["msnet.outbox.message_id"] == received.headers["webhook-id"]
    assert version == "00"
    assert int(flags, 16) & 1  # sampled


def test_tracing_set_without_opentelemetry_stops_msnet_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    settings = Settings(
        public_url=TEST_ISSUER, secret_key=TEST_SECRET_KEY, otlp_endpoint=f"http://127.0.0.1:{free_port()}"
    )
    with pytest.raises(StartupError, match=r"MSNET_OTLP_ENDPOINT is set.*msnet\[tracing\]"):
        create_app(settings)


def test_tracing_off_loads_nothing_of_opentelemetry() -> None:
    program = (
        "import sys\n"
        f"LOADED_BY_TRACING = {LOADED_BY_TRACING!r}\n"
        "from msnet.app import create_app\n"
        "from msnet.cli import main\n"
        "from msnet.outbox.worker import Worker\n"
        "from msnet.settings import Settings\n"
        f"create_app(Settings(public_url={TEST_ISSUER!r}, secret_key={TEST_SECRET_KEY!r}))\n"
        "print(sorted(m for m in sys.modules if m.startswith(LOADED_BY_TRACING)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("value", ["collector:4318", "grpc://127.0.0.1:4317", "http://"])
def test_an_endpoint_that_is_no_http_url_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^MSNET_OTLP_ENDPOINT: must be an http"):
        Settings.from_env({"MSNET_OTLP_ENDPOINT": value})


async def test_msnet_worker_alone_traces_its_deliveries(
    client: AsyncTestClient,
    settings: Settings,
    otlp: Collector,
    owner_conn: asyncpg.Connection,
    sessionmaker: async_sessionmaker,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """`msnet worker` on its own, as an operator runs it beside `msnet serve`: its delivery is a client
    span whose trace the webhook carries, and it reaches the collector before the worker exits."""
    au = await make_org(client, settings, owner_conn, "au")
    await register(client, au, receiver.url)
    async with acting(sessionmaker, au.id) as session:
        await service.emit(session, organisation_id=au.id, event_type="request.received", data={})
    worker = Process(
        settings, "worker", tmp_path / "logs", MSNET_WORKER_POLL_INTERVAL="1", MSNET_OTLP_ENDPOINT=otlp.url
    )
    worker.start()
    try:

        async def delivered() -> bool:
            return bool(receiver.received)

        await until(delivered, 30, "the worker did not deliver the webhook")
    finally:
        assert worker.stop() == 0, worker.output()
    (received,) = receiver.received
    _, trace_id, span_id, _ = received.headers["traceparent"].split("-")
    (delivery,) = [s for s in otlp.spans if s.name == "deliver webhook"]
    assert (delivery.trace_id, delivery.span_id) == (trace_id, span_id)
