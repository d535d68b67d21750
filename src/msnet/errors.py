"""The one exception hierarchy of msnet's domain.

Services raise these; ``msnet.problems`` maps them (and the framework's own errors) to
RFC 9457 problem details in one place.
"""

from __future__ import annotations

from typing import Any


class MsnetError(Exception):
    """Base of every error msnet raises on purpose."""

    status = 500
    title = "Internal server error"
    type_slug = "internal"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class SettingsError(MsnetError):
    """A setting is malformed; reported as one line at start, never as a traceback."""


class StartupError(MsnetError):
    """The node cannot start (database unreachable, port in use, data directory unwritable)."""


class BadRequest(MsnetError):
    status = 400
    title = "Bad request"
    type_slug = "bad-request"


class InvalidInput(MsnetError):
    """Input that parses but breaks a rule; ``errors`` names each field."""

    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail, errors=errors or [])

    @classmethod
    def field(cls, name: str, message: str) -> InvalidInput:
        return cls(f"{name}: {message}", errors=[{"field": name, "message": message}])


class Unauthenticated(MsnetError):
    status = 401
    title = "Authentication required"
    type_slug = "unauthenticated"


class Forbidden(MsnetError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class InsufficientScope(Forbidden):
    title = "Insufficient scope"
    type_slug = "insufficient_scope"


class NotFound(MsnetError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(MsnetError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class PreconditionFailed(MsnetError):
    status = 412
    title = "Precondition failed"
    type_slug = "precondition-failed"


class PreconditionRequired(MsnetError):
    """A write that must be conditional (``If-Match``) came without its condition."""

    status = 428
    title = "Precondition required"
    type_slug = "precondition-required"


class TooManyRequests(MsnetError):
    status = 429
    title = "Too many requests"
    type_slug = "too-many-requests"


class ServiceUnavailable(MsnetError):
    status = 503
    title = "Service unavailable"
    type_slug = "unavailable"
