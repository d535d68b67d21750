"""RFC 9457 problem details: every error response of the API is made here, and only here."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import asyncpg
import msgspec
import sqlalchemy.exc
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from msnet.api import Struct
from msnet.errors import MsnetError, ServiceUnavailable
from msnet.logs import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger("msnet.problems")


class FieldError(Struct):
    field: str
    message: str


class Problem(Struct, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None
    allowed: list[str] | None = None


def problem_type(slug: str) -> str:
    return f"urn:msnet:problem:{slug}"


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem responses a handler may give (400 and 422 always)."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=HTTPStatus(status).phrase,
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in sorted({400, 422, *statuses})
    }


#: The problem responses of reads (searches, lists) and of writes to a shared record.
READ_RESPONSES = problem_responses(401, 403)
WRITE_RESPONSES = problem_responses(401, 403, 404, 409, 412, 413, 415)


def _response(request: Request, problem: Problem, headers: dict[str, str] | None = None) -> Response:
    problem.instance = request.url.path
    problem.request_id = request.scope.get("state", {}).get("request_id")
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


_MSGSPEC_PATH = re.compile(r"at `\$\.?(?P<path>[^`]*)`")


def _body_error(exc: BaseException) -> msgspec.DecodeError | None:
    """The msgspec error behind a body that failed to decode, if that is what this is."""
    while exc is not None:
        if isinstance(exc, msgspec.DecodeError):
            return exc
        exc = exc.__cause__  # type: ignore[assignment]
    return None


_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")


def _field_name(path: str, message: str) -> str:
    """The dotted name of the offending field: its path, plus the field an object error names."""
    parts = [p for p in path.replace("[", ".").replace("]", "").split(".") if p]
    if parts[:1] == ["data"]:
        parts = parts[1:]
    if named := _NAMED_FIELD.search(message):
        parts.append(named.group("name"))
    return ".".join(parts) or "body"


def _field_of(message: str) -> str:
    match = _MSGSPEC_PATH.search(message)
    return _field_name(match.group("path") if match else "", message)


def _wire_names(request: Request) -> dict[str, str]:
    """Handler parameters that travel under another name (``QueryParameter(name=...)``, e.g.
    ``state``, which Litestar reserves in Python), so errors name what the caller sent."""
    handler = request.scope.get("route_handler")
    parameters = handler.parsed_fn_signature.parameters if handler is not None else {}
    return {
        key: definition.kwarg_definition.name
        for key, definition in parameters.items()
        if getattr(definition.kwarg_definition, "name", None)
    }


def _from_http_exception(
    exc: HTTPException, wire_names: dict[str, str]
) -> tuple[Problem, dict[str, str] | None]:
    body_error = _body_error(exc)
    if isinstance(body_error, msgspec.ValidationError):
        message = str(body_error).split(" - at `", 1)[0]
        field = _field_of(str(body_error))
        field = wire_names.get(field, field)
        return Problem(
            type=problem_type("invalid-input"),
            title="Invalid input",
            status=422,
            detail=f"{field}: {message}",
            errors=[FieldError(field=field, message=message)],
        ), None
    if body_error is not None:
        return Problem(
            type=problem_type("malformed-body"),
            title="Malformed request body",
            status=400,
            detail="the body is not valid JSON",
        ), None
    if isinstance(exc, ValidationException):
        errors = [
            FieldError(
                field=_field_name(
                    wire_names.get(str(e.get("key", "")), str(e.get("key", ""))), str(e.get("message", ""))
                ),
                message=str(e.get("message", "invalid")),
            )
            for e in (exc.extra if isinstance(exc.extra, list) else [])
        ]
        return Problem(
            type=problem_type("invalid-input"),
            title="Invalid input",
            status=422,
            detail="; ".join(f"{e.field}: {e.message}" for e in errors) or exc.detail,
            errors=errors,
        ), None
    status = exc.status_code
    phrase = HTTPStatus(status).phrase
    detail = exc.detail if exc.detail and exc.detail != phrase else None
    if status >= 500:
        detail = None
    return Problem(type="about:blank", title=phrase, status=status, detail=detail), exc.headers


def handle_msnet_error(request: Request, exc: MsnetError) -> Response:
    errors = exc.extra.get("errors")
    problem = Problem(
        type=problem_type(exc.type_slug),
        title=exc.title,
        status=exc.status,
        detail=exc.detail if exc.status < 500 or isinstance(exc, ServiceUnavailable) else None,
        errors=[FieldError(**e) for e in errors] if errors else None,
        allowed=exc.extra.get("allowed"),
    )
    return _response(request, problem, exc.extra.get("headers"))


def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    problem, headers = _from_http_exception(exc, _wire_names(request))
    if problem.status >= 500:
        log.error("request failed", exc_info=exc)
    return _response(request, problem, headers)


#: What a failure of the database looks like when it is unreachable, paused, restarting, out of
#: connections or too slow: the driver's and SQLAlchemy's errors for it, a refused or reset
#: connection, and the timeouts msnet sets (``msnet.db.engine.Timeouts``).
_UNAVAILABLE = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, statement timeout
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.LockNotAvailableError,  # lock timeout
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError,
    asyncpg.exceptions.InterfaceError,  # the connection is closed
    sqlalchemy.exc.TimeoutError,  # no free connection in the pool in time
    TimeoutError,  # connecting, or a round trip the server never answered
    OSError,  # refused, reset, unreachable
)
#: Seconds a client is told to wait before it tries again, when the database is unavailable.
RETRY_AFTER = 5


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot answer now."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _UNAVAILABLE):
            return True
        if isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def handle_database_error(request: Request, exc: Exception) -> Response:
    """503 with ``Retry-After`` when the database is unavailable (the client may try again soon);
    any other failure of it is a 500."""
    if not database_unavailable(exc):
        return handle_unexpected(request, exc)
    log.warning("database unavailable", error=type(exc).__name__)
    problem = Problem(
        type=problem_type("unavailable"),
        title="Service unavailable",
        status=503,
        detail=f"the database cannot answer now; retry in {RETRY_AFTER} s",
    )
    return _response(request, problem, {"Retry-After": str(RETRY_AFTER)})


def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Anything else is a 500 that carries the request id and nothing internal."""
    log.error("unhandled error", exc_info=exc)
    return _response(request, Problem(type="about:blank", title="Internal Server Error", status=500))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    MsnetError: handle_msnet_error,
    HTTPException: handle_http_exception,
    sqlalchemy.exc.DBAPIError: handle_database_error,
    sqlalchemy.exc.TimeoutError: handle_database_error,
    asyncpg.exceptions.PostgresError: handle_database_error,
    asyncpg.exceptions.InterfaceError: handle_database_error,
    OSError: handle_database_error,
    Exception: handle_unexpected,
}
