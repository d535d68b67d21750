"""A request whose transaction cannot be rolled back on a connection the database dropped is a 503
with Retry-After, not a 500.

bench/load.py restarting the database under load saw it: a search running on the driver failed
mid-statement, and rolling back the request's transaction at the edge then failed too ("the
underlying connection is closed"), so Litestar raised both as an ExceptionGroup from the cleanup of
the session dependency, which no handler took for the database's failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from litestar import get
from litestar.di import NamedDependency, Provide
from litestar.testing import create_test_client

from msnet.problems import EXCEPTION_HANDLERS, RETRY_AFTER


def session_failing_on_rollback(error: Exception):
    """A request-edge dependency whose rollback fails with ``error``, as msnet's does when the
    server has dropped the connection."""

    async def provide() -> AsyncIterator[str]:
        try:
            yield "session"
        except Exception:
            raise error from None

    return provide


@get("/search", sync_to_thread=False)
def search(session: NamedDependency[str]) -> str:
    raise asyncpg.exceptions.InternalClientError(
        "cannot switch to state 11; another operation (2) is in progress"
    )


@pytest.mark.parametrize(
    ("rollback_error", "status"),
    [
        (
            asyncpg.exceptions.InterfaceError(
                "cannot call Transaction.rollback(): the underlying connection is closed"
            ),
            503,
        ),
        (ValueError("a bug in the cleanup"), 500),
    ],
    ids=["connection closed", "not the database"],
)
def test_a_failed_rollback_of_a_dropped_connection_is_503(rollback_error: Exception, status: int) -> None:
    with create_test_client(
        [search],
        dependencies={"session": Provide(session_failing_on_rollback(rollback_error))},
        exception_handlers=EXCEPTION_HANDLERS,
    ) as client:
        answer = client.get("/search")
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/problem+json")
    if status == 503:
        assert answer.headers["retry-after"] == str(RETRY_AFTER)
        assert answer.json()["type"] == "urn:msnet:problem:unavailable"
    else:
        assert "retry-after" not in answer.headers
