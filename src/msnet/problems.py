"""RFC 9457 problem details: every error response of the API is made here, and only here."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Annotated, Any

import asyncpg
import msgspec
import sqlalchemy.exc
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from msgspec import Meta

from msnet.api import Struct, field_name, request_errors
from msnet.errors import MsnetError, ServiceUnavailable
from msnet.logs import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger("msnet.problems")


class FieldError(Struct):
    """One bad field of a request: where it is and what is wrong with it."""

    field: Annotated[str, Meta(examples=["period.end"])]
    message: Annotated[str, Meta(examples=["must not be before period.start"])]


class Problem(Struct, omit_defaults=True):
    """An error, as RFC 9457 problem details (`application/problem+json`): its type, title and status, what
    went wrong, the request's id, and for bad input every bad field."""

    type: Annotated[str, Meta(examples=["urn:msnet:problem:invalid-input"])]
    title: Annotated[str, Meta(examples=["Unprocessable Content"])]
    status: Annotated[int, Meta(examples=[422])]
    detail: Annotated[str | None, Meta(examples=["the body has invalid fields"])] = None
    instance: str | None = None
    request_id: Annotated[str | None, Meta(examples=["4c1d2b9e8f7a4e0d9b6c5a3f2e1d0c9b"])] = None
    errors: Annotated[
        list[FieldError] | None,
        Meta(examples=[[{"field": "period.end", "message": "must not be before period.start"}]]),
    ] = None
    allowed: list[str] | None = None
    home_node: Annotated[
        str | None,
        Meta(description="The node (its issuer URL) where a read-only copy's record is homed and changed."),
    ] = None


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
WRITE_RESPONSES = problem_responses(401, 403, 404, 409, 412, 413, 415, 428)


def _response(request: Request, problem: Problem, headers: dict[str, str] | None = None) -> Response:
    problem.instance = request.url.path
    problem.request_id = request.scope.get("state", {}).get("request_id")
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _body_error(exc: BaseException) -> msgspec.DecodeError | None:
    """The msgspec error behind a body that failed to decode, if that is what this is."""
    while exc is not None:
        if isinstance(exc, msgspec.DecodeError):
            return exc
        exc = exc.__cause__  # type: ignore[assignment]
    return None


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


def _reported(request: Request, exc: ValidationException) -> list[tuple[str, str]]:
    """The errors Litestar reported itself (``data.themes[2]``), named as the API names them."""
    wire_names = _wire_names(request)
    errors = []
    for e in exc.extra if isinstance(exc.extra, list) else []:
        key, message = str(e.get("key", "")), str(e.get("message", "invalid"))
        parts = [p for p in re.split(r"[.\[\]]", wire_names.get(key, key)) if p]
        errors.append((field_name(parts[1:] if parts[:1] == ["data"] else parts, message), message))
    return errors


def _invalid_input(errors: list[tuple[str, str]], detail: str | None = None) -> Problem:
    """The 422 problem naming every error; the first is also the detail."""
    if errors:
        field, message = errors[0]
        more = f" (and {len(errors) - 1} more, in errors)" if len(errors) > 1 else ""
        detail = f"{field}: {message}{more}"
    return Problem(
        type=problem_type("invalid-input"),
        title="Invalid input",
        status=422,
        detail=detail,
        errors=[FieldError(field=field, message=message) for field, message in errors],
    )


def _from_http_exception(request: Request, exc: HTTPException) -> tuple[Problem, dict[str, str] | None]:
    if isinstance(exc, ValidationException):
        return _invalid_input(request_errors(request) or _reported(request, exc), exc.detail), None
    if _body_error(exc) is not None:
        return Problem(
            type=problem_type("malformed-body"),
            title="Malformed request body",
            status=400,
            detail="the body is not valid JSON",
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
        home_node=exc.extra.get("home_node"),
    )
    return _response(request, problem, exc.extra.get("headers"))


def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    problem, headers = _from_http_exception(request, exc)
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
    """Whether ``exc`` (or what caused it, or one exception of a group: Litestar raises one when the
    request's transaction cannot even be rolled back on a connection the server dropped) says the
    database cannot answer now."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _UNAVAILABLE):
            return True
        if isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, BaseExceptionGroup) and any(database_unavailable(e) for e in seen.exceptions):
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
    ExceptionGroup: handle_database_error,
    Exception: handle_unexpected,
}
