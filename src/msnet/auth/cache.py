"""The read cache: answers of the plain reads by key and list pages kept in memory, each served again
only while the database's generation (migration 0035) is the one read before its handler ran.

A GET handler opts in with ``msnet.api.cached`` in its ``opt``. Its 200 answers are kept by the
route's path and raw query string and by who asked (anonymous, or the principal's kind,
organisation, subject and scopes: all that its guards, row-level security and services read), with
the headers the application gave them (content type, ETag …; the request id is added outside). The
database's generation changes with every committed write of a table such an answer can show, in
whichever process or by whatever client, so a kept answer never outlives a write that changes it.

Every request that may be served from the cache reads the generation in one round trip on a
connection of the pool, which also checks the token against the deny list: a revoked token takes
the normal path, which refuses it. When the kept answer's generation is the one read, it is sent
with no session, handler or serialisation; otherwise the handler runs and its answer is kept, tagged
with the generation read before it ran. Not kept: an answer of a handler reading from the replica
(when there is one: it may be older than the primary's generation), a request with conditional or
``Range`` headers or a query string longer than ``MAX_QUERY``, an answer that sets a cookie.
An entry's size counts its key's path and query string with its body and headers.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncEngine

from msnet.api import CACHED, UNCACHED_IF_GIVEN
from msnet.auth.principal import Principal
from msnet.auth.transaction import FROM_REPLICA
from msnet.middleware import Metrics

#: Request headers whose answer is not the plain 200 the cache keeps.
_CONDITIONAL = frozenset(
    {b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since", b"if-range", b"range"}
)
_GENERATION = (
    "SELECT value, EXISTS (SELECT 1 FROM token_denylist WHERE value = ANY($1::text[])) FROM read_generation"
)
#: What an entry costs beyond its key's path and query, body and headers, roughly: the objects that hold them.
_ENTRY_OVERHEAD = 256
#: The longest query string whose answer is kept: a handler's known parameters fit in it many times;
#: a longer one (unknown parameters are ignored) would only fill the cache with copies of an answer.
MAX_QUERY = 1024


@dataclass(frozen=True, slots=True)
class Entry:
    generation: Any
    headers: list[tuple[bytes, bytes]]
    body: bytes
    #: The length of the key's path and query string.
    key_size: int

    @property
    def size(self) -> int:
        return (
            self.key_size + len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + _ENTRY_OVERHEAD
        )


class ReadCache:
    """At most ``entries`` answers and ``max_bytes`` bytes of them, the least recently used dropped
    first; counted into ``metrics``."""

    def __init__(self, entries: int, max_bytes: int, metrics: Metrics) -> None:
        self.max_entries = entries
        self.max_bytes = max_bytes
        self.metrics = metrics
        self.bytes = 0
        #: The generation of the last ``get``: an answer tagged with another, older one is not kept.
        self.latest: Any = None
        self._entries: OrderedDict[tuple[Any, ...], Entry] = OrderedDict()

    def get(self, key: tuple[Any, ...], generation: Any) -> Entry | None:
        """The answer kept for ``key`` if it was kept at ``generation``."""
        self.latest = generation
        entry = self._entries.get(key)
        if entry is None or entry.generation != generation:
            self.metrics.read_cache_misses.inc()
            return None
        self._entries.move_to_end(key)
        self.metrics.read_cache_hits.inc()
        return entry

    def put(self, key: tuple[Any, ...], entry: Entry) -> None:
        """Keep ``entry``, unless a request read a newer generation while its handler ran (it would
        replace a newer answer) or it is larger than the cache."""
        if entry.generation != self.latest or entry.size > self.max_bytes:
            return
        self._drop(key)
        self._entries[key] = entry
        self.bytes += entry.size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        self.metrics.read_cache_entries.set(len(self._entries))
        self.metrics.read_cache_bytes.set(self.bytes)

    def _drop(self, key: tuple[Any, ...]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry.size


def caller_of(principal: Principal | None) -> tuple[Any, ...]:
    """All of a caller that an answer may depend on; not its credential, which the deny list checks."""
    if principal is None:
        return ()
    return (principal.kind, principal.org_id, principal.subject, principal.scopes)


async def read_generation(engine: AsyncEngine, deny_keys: list[str]) -> tuple[Any, bool]:
    """The database's generation, and whether one of ``deny_keys`` is on the deny list."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        row = await raw.driver_connection.fetchrow(_GENERATION, deny_keys)  # type: ignore[union-attr]
    return row[0], row[1]


class ReadCaching:
    """The route middleware that answers from ``app.state.read_cache`` (None: no cache) or keeps the
    handler's answer there, for the GET handlers that opt in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        cache: ReadCache | None = state.get("read_cache")
        if cache is None or not _cacheable(scope, state):
            await self.app(scope, receive, send)
            return
        principal: Principal | None = scope.get("auth")
        # An unavailable database raises here: its 503 is the one the normal path gives, without
        # waiting for the pool a second time.
        generation, denied = await read_generation(state.engine, principal.deny_keys if principal else [])
        if denied:
            await self.app(scope, receive, send)  # the normal path refuses the token, and counts it
            return
        key = (scope["path"], scope["query_string"], caller_of(principal))
        entry = cache.get(key, generation)
        if entry is not None:
            await send({"type": "http.response.start", "status": 200, "headers": list(entry.headers)})
            await send({"type": "http.response.body", "body": entry.body})
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def keeping(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                start["headers"] = list(message.get("headers") or ())
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keeping)
        headers = start.get("headers", [])
        if start.get("status") == 200 and not any(name.lower() == b"set-cookie" for name, _ in headers):
            cache.put(key, Entry(generation, headers, b"".join(chunks), len(key[0]) + len(key[1])))


def _cacheable(scope: Scope, state: Any) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET" or len(scope["query_string"]) > MAX_QUERY:
        return False
    opt = scope["route_handler"].opt
    if not opt.get(CACHED):
        return False
    if state.get("replica") is not None and opt.get("reads") == FROM_REPLICA["reads"]:
        return False
    if any(name in _CONDITIONAL for name, _ in scope["headers"]):
        return False
    given = opt.get(UNCACHED_IF_GIVEN)
    return not given or not any(
        name in given
        for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    )
