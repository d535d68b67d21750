"""OpenTelemetry traces, when MSNET_OTLP_ENDPOINT names an OTLP/HTTP collector: a server span for each
HTTP request (continuing the caller's W3C ``traceparent``), a child span for each database statement,
and a client span for each outbox delivery, whose ``traceparent`` goes out with the webhook.

Unset (the default), ``of`` answers None and nothing of OpenTelemetry is imported or called: the
callers keep their plain path. The packages are the optional extra ``msnet[tracing]``; an endpoint
set without them stops msnet at start, saying so.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import event

import msnet
from msnet.errors import StartupError

if TYPE_CHECKING:
    from opentelemetry.trace import Span
    from sqlalchemy.engine import Engine

_PROPAGATED = (b"traceparent", b"tracestate")
_SPAN = "msnet_span"  # where a statement's span waits, in SQLAlchemy's execution context


class Tracing:
    """A tracer provider of this process exporting to ``endpoint`` (its OTLP/HTTP base URL, spans
    posted to ``/v1/traces``) in batches, from a thread of its own (made again in a fork)."""

    def __init__(self, endpoint: str) -> None:
        try:
            from opentelemetry import trace
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
        except ImportError as exc:
            raise StartupError(
                f"MSNET_OTLP_ENDPOINT is set but OpenTelemetry is not installed ({exc.name} is missing): "
                "install msnet[tracing], or unset MSNET_OTLP_ENDPOINT"
            ) from None
        self._trace = trace
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": "msnet", "service.version": msnet.__version__})
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))
        )
        self.tracer = self.provider.get_tracer("msnet", msnet.__version__)
        self.propagator = TraceContextTextMapPropagator()

    @contextmanager
    def request(self, scope: Mapping[str, Any], request_id: str) -> Iterator[Span]:
        """The server span of an HTTP request, current for the block (and the tasks it starts), child
        of the caller's ``traceparent`` if it sent a valid one; its trace id is bound to the log lines."""
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in _PROPAGATED
        }
        with self.tracer.start_as_current_span(
            scope["method"],
            context=self.propagator.extract(carrier),
            kind=self._trace.SpanKind.SERVER,
            attributes={
                "http.request.method": scope["method"],
                "url.path": scope["path"],
                "msnet.request_id": request_id,
            },
        ) as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            with structlog.contextvars.bound_contextvars(trace_id=trace_id):
                yield span

    def answered(self, span: Span, method: str, route: str, status: int) -> None:
        """Name a request's span by its route, and mark it failed for a 5xx answer."""
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(self._trace.StatusCode.ERROR)

    @contextmanager
    def delivery(self, kind: str, attributes: Mapping[str, str | int]) -> Iterator[None]:
        """The client span of an outbox delivery attempt, current for the block: ``propagation()``
        inside it gives the headers that carry it to the receiver."""
        with self.tracer.start_as_current_span(
            f"deliver {kind}", kind=self._trace.SpanKind.CLIENT, attributes=attributes
        ):
            yield

    def propagation(self) -> dict[str, str]:
        """The W3C trace context headers of the current span."""
        carrier: dict[str, str] = {}
        self.propagator.inject(carrier)
        return carrier

    def instrument(self, engine: Engine) -> None:
        """A span for each statement ``engine`` runs, child of the current span."""
        event.listen(engine, "before_cursor_execute", self._statement_starts)
        event.listen(engine, "after_cursor_execute", self._statement_ends)
        event.listen(engine, "handle_error", self._statement_fails)

    def _statement_starts(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if not self._trace.get_current_span().get_span_context().is_valid:
            return  # outside a request or a delivery (a worker's poll, say): not worth a trace of its own
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        context.__dict__[_SPAN] = self.tracer.start_span(
            operation,
            kind=self._trace.SpanKind.CLIENT,
            attributes={
                "db.system.name": "postgresql",
                "db.operation.name": operation,
                "db.query.text": statement,  # bound parameters stay out: their values may be personal data
            },
        )

    def _statement_ends(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if span := context.__dict__.pop(_SPAN, None):
            span.end()

    def _statement_fails(self, error: Any) -> None:
        context = error.execution_context
        if context is not None and (span := context.__dict__.pop(_SPAN, None)):
            span.set_status(self._trace.StatusCode.ERROR, type(error.original_exception).__name__)
            span.end()

    def flush(self) -> None:
        """Export the spans still waiting (a serving process leaves without the exit handlers)."""
        self.provider.force_flush()


@functools.cache
def _tracing(endpoint: str) -> Tracing:
    return Tracing(endpoint)


def of(endpoint: str | None) -> Tracing | None:
    """This process's tracing to ``endpoint`` (one provider an endpoint), or None when unset."""
    return None if endpoint is None else _tracing(endpoint)


def delivery(tracing: Tracing | None, kind: str, attributes: Mapping[str, str | int]) -> Any:
    """``tracing.delivery(...)``, or a block that does nothing without tracing."""
    return nullcontext() if tracing is None else tracing.delivery(kind, attributes)


def propagation(tracing: Tracing | None) -> dict[str, str]:
    """``tracing.propagation()``, or no header without tracing."""
    return {} if tracing is None else tracing.propagation()
