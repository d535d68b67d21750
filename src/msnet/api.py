"""What every API module shares: the struct base, keyset cursors, paging and search parameters, and
the validation of a request that reports every error."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from weakref import WeakKeyDictionary

import msgspec
from litestar import Request
from litestar.constants import RESERVED_KWARGS
from litestar.enums import ParamType
from litestar.params import ParameterKwarg, QueryParameter
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState
from litestar.utils.signature import ParsedSignature
from msgspec import UNSET

from msnet.errors import InvalidInput


class Struct(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every request and response body: unknown fields are an error, not ignored."""


#: ``opt`` keys of a GET handler whose 200 answers the read cache may keep (``msnet.auth.cache``):
#: its answer depends only on the request's path, query and caller and on the database's content,
#: never on the clock, and it writes nothing
CACHED = "read_cache"
UNCACHED_IF_GIVEN = "read_cache_unless"


def cached(*, unless_given: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The ``opt`` of a GET handler whose answers the read cache may keep; not those of a request
    giving one of the query parameters ``unless_given`` (one that makes the answer depend on the
    clock)."""
    return {CACHED: True, UNCACHED_IF_GIVEN: unless_given}


DEFAULT_LIMIT = 50
Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Page size.")]
Cursor = Annotated[
    str | None, QueryParameter(max_length=512, description="`next_cursor` of the previous page.")
]
Text = Annotated[str | None, QueryParameter(max_length=200, description="Free text (accents ignored).")]
Term = Annotated[str | None, QueryParameter(max_length=60, description="A taxonomy id (see /v1/taxonomy).")]
Slug = Annotated[str | None, QueryParameter(max_length=32, description="An organisation's slug.")]
Code = Annotated[str | None, QueryParameter(max_length=3, description="ISO 3166-1 alpha-2 or ISO 639 code.")]


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(values))).decode().rstrip("=")


_BIGINT = 2**63


def decode_cursor(cursor: str, *types: type) -> list[Any]:
    """The key of the last row of the previous page, one value of each of ``types`` (``datetime``: an
    RFC 3339 string with a zone, as ``encode_cursor`` writes one); a tampered cursor is a 422 naming
    `cursor`."""
    bad = InvalidInput.field("cursor", "is not a cursor this API gave out")
    try:
        values = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, RecursionError, msgspec.DecodeError):
        raise bad from None
    if not isinstance(values, list) or len(values) != len(types):
        raise bad
    for n, (value, expected) in enumerate(zip(values, types, strict=True)):
        if expected is datetime:
            values[n] = _cursor_instant(value, bad)
        elif type(value) is not expected and not (expected is float and type(value) is int):
            raise bad
        if type(value) is int and not -_BIGINT <= value < _BIGINT:
            raise bad
    return values


def _cursor_instant(value: Any, bad: InvalidInput) -> datetime:
    try:
        decoded = msgspec.json.decode(msgspec.json.encode(value), type=datetime)
    except msgspec.ValidationError:
        raise bad from None
    if decoded.tzinfo is None:
        raise bad
    return decoded


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def rfc3339(field: str, raw: str | None) -> datetime | None:
    """An instant from a query parameter: RFC 3339 with a zone only (no Unix timestamp, no bare date,
    no local time), in UTC; a 422 naming ``field`` otherwise."""
    if raw is None:
        return None
    try:
        value = msgspec.json.decode(msgspec.json.encode(raw), type=datetime)
    except msgspec.ValidationError:
        raise InvalidInput.field(field, "must be an instant in RFC 3339, e.g. 2027-03-01T09:30:00Z") from None
    return instant(field, value)


def instant(field: str, value: datetime | None) -> datetime | None:
    """An instant from a request, in UTC; a naive one, or one outside 1900–9999, is a 422."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput.field(field, "needs a time zone (RFC 3339), e.g. 2027-03-01T00:00:00Z")
    try:
        normalised = value.astimezone(UTC)
    except OverflowError:
        normalised = None
    if normalised is None or not EARLIEST <= normalised < LATEST:
        raise InvalidInput.field(field, "must be between 1900 and 9999")
    return normalised


def set_fields(data: Any) -> dict[str, Any]:
    """The fields an Update struct sets (UNSET ones are left alone)."""
    return {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not UNSET}


# Every validation error of a request, not only the first one msgspec stops at.

_MSGSPEC_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")

FieldErrors = list[tuple[str, str]]


def field_name(parts: Sequence[str], message: str = "") -> str:
    """The dotted name the API's errors give a field (``period.start``, ``themes.2``), plus the
    field an object error names; the whole body is ``body``."""
    named = _NAMED_FIELD.search(message)
    return ".".join([*parts, *([named.group("name")] if named else [])]) or "body"


def _split(error: msgspec.ValidationError) -> tuple[list[str], str]:
    """msgspec's message without its path, and the path (relative to the value converted) as parts."""
    text = str(error)
    match = _MSGSPEC_PATH.search(text)
    if match is None:
        return [], text
    parts = [name or index for name, index in _PATH_PART.findall(match.group("path"))]
    return parts, text[: match.start()]


def _members(tp: Any) -> tuple[Any, ...]:
    """The types a value of ``tp`` may be (``Annotated`` constraints left off)."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return get_args(tp) if get_origin(tp) in (Union, UnionType) else (tp,)


def _struct_in(tp: Any) -> type[msgspec.Struct] | None:
    structs = [m for m in _members(tp) if isinstance(m, type) and issubclass(m, msgspec.Struct)]
    return structs[0] if len(structs) == 1 else None


def _item_type(tp: Any) -> Any:
    lists = [m for m in _members(tp) if get_origin(m) in (list, set, frozenset)]
    return get_args(lists[0])[0] if len(lists) == 1 and get_args(lists[0]) else None


def value_errors(
    value: Any, tp: Any, path: list[str], dec_hook: Callable[[Any, Any], Any], *, strict: bool = False
) -> FieldErrors:
    """Every error of ``value`` (decoded JSON or a query string's text) as ``tp``, converted as
    Litestar converts a request's values: each field of a struct and each item of a list is
    checked on its own, so a missing field does not hide a bad one beside it. A struct's own check
    (``__post_init__``) is reported when its fields are all good; a list's length beside its items.
    ``strict`` for JSON, whose values have types of their own (lax, for text, a number would be
    taken as an instant)."""
    try:
        msgspec.convert(value, tp, strict=strict, str_keys=True, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        where, message = _split(exc)
    else:
        return []
    first = [(field_name([*path, *where], message), message)]
    struct = _struct_in(tp) if isinstance(value, dict) else None
    if struct is not None:
        return _struct_errors(value, struct, path, dec_hook, strict) or first
    item = _item_type(tp) if isinstance(value, list) else None
    if item is None:
        return first
    items = [
        e
        for i, v in enumerate(value)
        for e in value_errors(v, item, [*path, str(i)], dec_hook, strict=strict)
    ]
    return items if where else first + items


def _struct_errors(
    value: dict[str, Any],
    struct: type[msgspec.Struct],
    path: list[str],
    dec_hook: Callable[[Any, Any], Any],
    strict: bool,
) -> FieldErrors:
    errors: FieldErrors = []
    fields = msgspec.structs.fields(struct)
    for field in fields:
        if field.encode_name in value:
            errors += value_errors(
                value[field.encode_name], field.type, [*path, field.encode_name], dec_hook, strict=strict
            )
        elif field.required:
            errors.append(
                (
                    field_name([*path, field.encode_name]),
                    f"Object missing required field `{field.encode_name}`",
                )
            )
    if struct.__struct_config__.forbid_unknown_fields:
        known = {f.encode_name for f in fields}
        errors += [
            (field_name([*path, key]), f"Object contains unknown field `{key}`")
            for key in value
            if key not in known
        ]
    return errors


_SOURCES = {ParamType.QUERY: "query_params", ParamType.HEADER: "headers"}


def request_errors(request: Request) -> FieldErrors:
    """Every bad query parameter and header of ``request``'s handler and of the dependencies it
    takes them through, then every error of its JSON body: what Litestar found first and stopped
    at, and the rest."""
    handler = request.route_handler
    dependencies = handler.resolve_dependencies()
    dec_hook = handler.default_deserializer
    errors: FieldErrors = []
    visited: set[str] = set()

    def visit(signature: ParsedSignature, model: type[msgspec.Struct]) -> None:
        types = {f.name: f.type for f in msgspec.structs.fields(model)}
        for name, definition in signature.parameters.items():
            if name in dependencies and name not in visited:
                visited.add(name)
                visit(dependencies[name].parsed_fn_signature, dependencies[name].signature_model)
            if name in RESERVED_KWARGS or name in dependencies or name in request.path_params:
                continue
            kwarg = definition.kwarg_definition
            param = kwarg if isinstance(kwarg, ParameterKwarg) else None
            source = _SOURCES.get(param.param_type if param else ParamType.QUERY)
            if source is None:
                continue
            alias = (param.name if param else None) or name
            values = getattr(request, source)
            if alias not in values:
                if not (definition.has_default or definition.is_optional):
                    errors.append((alias, "is required"))
                continue
            raw = values.getall(alias) if definition.is_non_string_sequence else values[alias]
            errors.extend(value_errors(raw, types[name], [alias], dec_hook))

    visit(handler.parsed_fn_signature, handler.signature_model)
    body = ScopeState.from_scope(request.scope).json
    if body is not Empty:
        errors.extend(body_errors(request, body))
    return errors


def body_errors(request: Request, body: Any) -> FieldErrors:
    """Every error of ``body`` (decoded JSON) as ``request``'s handler takes it, converted strictly:
    Litestar converts a body as laxly as the query string's text, and would take a number for an
    instant (a Unix timestamp); the API takes RFC 3339 strings only."""
    handler = request.route_handler
    if "data" not in handler.parsed_fn_signature.parameters:
        return []
    model = handler.signature_model
    data_type = _DATA_TYPES.get(model)
    if data_type is None:
        data_type = _DATA_TYPES[model] = {f.name: f.type for f in msgspec.structs.fields(model)}["data"]
    return value_errors(body, data_type, [], handler.default_deserializer, strict=True)


#: The type of the ``data`` field of a handler's signature model, by model: msgspec.structs.fields
#: evaluates the model's annotations anew at each call, which cost a write more than its conversion.
_DATA_TYPES: WeakKeyDictionary[type[msgspec.Struct], Any] = WeakKeyDictionary()
