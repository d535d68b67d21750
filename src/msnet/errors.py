"""The one exception hierarchy of msnet's domain.

Services raise these; ``msnet.problems`` maps them (and the framework's own errors) to
RFC 9457 problem details in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


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

    @classmethod
    def every(cls, errors: list[dict[str, str]]) -> InvalidInput:
        """One error naming every one of ``errors``; the first is the detail, as for a body's
        structural errors (``msnet.problems``)."""
        first = f"{errors[0]['field']}: {errors[0]['message']}"
        more = f" (and {len(errors) - 1} more, in errors)" if len(errors) > 1 else ""
        return cls(first + more, errors=errors)

    @property
    def errors(self) -> list[dict[str, str]]:
        return self.extra["errors"] or [{"field": "body", "message": self.detail}]


class Errors:
    """Every error of one body, query or CSV row, collected so that they are reported together.

    A validation runs each check in :meth:`collect` (or through :meth:`check`) and notes its own
    findings with :meth:`add`; :meth:`raise_if_any` then raises one :class:`InvalidInput` naming
    them all, before anything is written. Used as a context manager (``with Errors() as errors:``)
    it raises them when the block ends, with an ``InvalidInput`` the block itself raised merged in.
    """

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def about(self, *fields: str) -> bool:
        """Whether an error names one of ``fields`` or a part of one (``period.end`` is of
        ``period``): a rule between fields is not checked on a value already found wrong."""
        return any(e["field"] == f or e["field"].startswith(f + ".") for e in self.errors for f in fields)

    @contextmanager
    def collect(self) -> Iterator[None]:
        """Run a check: an ``InvalidInput`` it raises is noted, and the validation goes on."""
        try:
            yield
        except InvalidInput as exc:
            self.errors.extend(exc.errors)

    def check(self, check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """``check(*args, **kwargs)``, or None (its errors noted) when it raises ``InvalidInput``."""
        with self.collect():
            return check(*args, **kwargs)
        return None

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInput.every(self.errors)

    def __enter__(self) -> Errors:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if isinstance(exc, InvalidInput):
            self.errors.extend(exc.errors)
        elif exc is not None:
            return False
        self.raise_if_any()
        return False


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


class HeldElsewhere(Conflict):
    """A write to a copy of a record homed on a peer node, which alone changes it: ``home_node``
    names that node's issuer."""

    title = "Record held from another node"
    type_slug = "held-elsewhere"

    def __init__(self, detail: str, *, home_node: str) -> None:
        super().__init__(detail, home_node=home_node)


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


class HomeUnavailable(ServiceUnavailable):
    """A record's home node, asked on a reader's behalf (an expert's contact details), did not answer
    as it should: ``home_node`` names the node to ask."""

    title = "Home node unavailable"

    def __init__(self, detail: str, *, home_node: str) -> None:
        super().__init__(detail, home_node=home_node)
