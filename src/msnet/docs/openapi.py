"""How msnet describes itself in OpenAPI: operation ids, the OAuth 2.0 client credentials scheme
with each operation's scope, and a description and an example for every schema."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import Enum
from functools import cache
from inspect import cleandoc
from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    Example,
    OAuthFlow,
    OAuthFlows,
    OpenAPIFormat,
    OpenAPIResponse,
    Operation,
    Parameter,
    Schema,
    SecurityScheme,
)
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from msnet.auth.principal import SCOPES
from msnet.roster.schemas import Expert

#: Where the viewers' files are served (see ``msnet.docs.routes``).
ASSETS = "/schema/assets"
SCHEME = "oauth2"
TOKEN_URL = "/oauth/token"  # noqa: S105 (a path, not a password)

SCOPE_DESCRIPTIONS = {
    "directory:read": "Read the offices and capacities other organisations share with yours, and your own.",
    "directory:write": "Register, update and delete your organisation's offices and their capacities.",
    "roster:read": "Search the expert roster (profiles, without contact details).",
    "roster:write": "Add, update, erase, import and export your organisation's experts.",
    "roster:contact": "Read an expert's contact details (personal data: every read is audit-logged).",
    "requests:read": "Read processes, your support requests, their matches and responses, your inbox "
    "and your overlap cases.",
    "requests:write": "Propose processes, draft, submit, withdraw and close support requests, respond to "
    "requests addressed to you, and settle overlap cases.",
    "training:read": "Read trainings and publications, their calendar and feed, and your digest "
    "subscriptions.",
    "training:write": "Share trainings and publications, and manage digest subscriptions.",
    "audit:read": "Read your organisation's audit log.",
    "org:admin": "Manage your organisation's OAuth clients and webhooks.",
}

DESCRIPTION = """\
Directory, request routing and deconfliction for the mediation support offices of intergovernmental
organisations (UN, EU, AU, OSCE, IGAD, …).

**Authorising.** Every organisation's systems call the API as OAuth 2.0 clients of that
organisation: `POST /oauth/token` with the client credentials grant (`client_secret_basic` or
`private_key_jwt`) answers a short-lived access token, sent as `Authorization: Bearer …`. Each
operation names the scope it needs; a token without it gets 403, no token 401. Reads of records
shared publicly need no token. In this page, **Authorize** takes a client's id and secret (e.g. the
credentials `msnet demo` prints) and the scopes to ask for.

**Conventions.** Bodies are JSON with snake_case fields; errors are RFC 9457 problem details
(`application/problem+json`) naming every bad field; lists are keyset-paginated
(`{"items", "next_cursor", "total"}`); updates take `If-Match` with the record's version and answer 412
when it is stale; creating POSTs accept `Idempotency-Key`. Records never leave your organisation
unless their `sharing` says so (`private`, `restricted`, `network`, `public`).

Operation ids read as verbs on resources (`search_experts`, `submit_request`): a client generated from
this document gets them as its function names."""

FAVICON = f"<link rel='icon' type='image/png' href='{ASSETS}/swagger-ui/favicon-32x32.png'>"


def operation_id(handler: HTTPRouteHandler, *_: Any) -> str:
    """The handler's own name, which reads as a verb on a resource (``search_experts``): stable
    across releases for clients generated from the document; unique (Litestar refuses a repeat)."""
    return handler.handler_name


def openapi_config(version: str) -> OpenAPIConfig:
    """Swagger UI at ``/schema`` (and ``/schema/swagger``), from msnet's own files; the document at
    ``/schema/openapi.json``."""
    flow = OAuthFlow(token_url=TOKEN_URL, scopes={scope: SCOPE_DESCRIPTIONS[scope] for scope in SCOPES})
    return OpenAPIConfig(
        title="msnet",
        version=version,
        description=DESCRIPTION,
        path="/schema",
        use_handler_docstrings=True,
        operation_id_creator=operation_id,
        components=Components(
            security_schemes={
                SCHEME: SecurityScheme(
                    type="oauth2",
                    description="A client of your organisation, with the client credentials grant.",
                    flows=OAuthFlows(client_credentials=flow),
                ),
                "client_secret_basic": SecurityScheme(
                    type="http",
                    scheme="basic",
                    description="At the token, revocation and introspection endpoints: the client's id and "
                    "secret.",
                ),
            }
        ),
        render_plugins=[
            SwaggerRenderPlugin(
                js_url=f"{ASSETS}/swagger-ui/swagger-ui-bundle.js",
                css_url=f"{ASSETS}/swagger-ui/swagger-ui.css",
                standalone_preset_js_url=f"{ASSETS}/swagger-ui/swagger-ui-standalone-preset.js",
                path="/swagger",
                favicon=FAVICON,
            ),
        ],
    )


class _Missing:
    """No example can be made for this value (a free text without ``Meta(examples=...)``)."""


MISSING = _Missing()

#: Examples of the fields every shared record carries, whatever the resource.
COMMON = {
    "organisation": "au",
    "origin": "https://msnet.au.int",
    "share_with": [],
    "next_cursor": "eyJrIjpbIjIwMjctMDMtMDFUMDk6MzA6MDBaIiwiMDE5M2YwYzIiXX0",
    "version": 1,
}


def _explicit(meta: msgspec.inspect.Metadata) -> Any:
    examples = (meta.extra_json_schema or {}).get("examples")
    return examples[0] if examples else MISSING


def example_of(t: msgspec.inspect.Type, name: str = "") -> Any:
    """An example of a value of type ``t`` (a field called ``name``), from its ``Meta(examples=...)``,
    else what its type alone allows, else ``MISSING``."""
    if isinstance(t, msgspec.inspect.Metadata):
        explicit = _explicit(t)
        return explicit if explicit is not MISSING else example_of(t.type, name)
    if name in COMMON:
        return COMMON[name]
    simple: dict[type, Any] = {
        msgspec.inspect.UUIDType: "0193f0c2-6a7e-7c41-9d2a-3b8e5f1a2c47",
        msgspec.inspect.DateTimeType: "2027-03-01T09:30:00Z",
        msgspec.inspect.DateType: "2027-03-01",
        msgspec.inspect.BoolType: False,
        msgspec.inspect.NoneType: None,
        msgspec.inspect.AnyType: {},
        msgspec.inspect.DictType: {},
    }
    for kind, value in simple.items():
        if isinstance(t, kind):
            return value
    if isinstance(t, msgspec.inspect.IntType | msgspec.inspect.FloatType):
        return t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else 1)
    if isinstance(t, msgspec.inspect.LiteralType):
        return t.values[0]
    if isinstance(t, msgspec.inspect.EnumType):
        return next(iter(t.cls)).value
    if isinstance(t, msgspec.inspect.ListType | msgspec.inspect.SetType | msgspec.inspect.VarTupleType):
        item = example_of(t.item_type, name)
        return [] if item is MISSING and not t.min_length else MISSING if item is MISSING else [item]
    if isinstance(t, msgspec.inspect.UnionType):
        for member in (m for m in t.types if not isinstance(m, msgspec.inspect.NoneType)):
            value = example_of(member, name)
            if value is not MISSING:
                return value
        return MISSING  # not null: Litestar leaves nulls out of the document's examples
    if isinstance(t, msgspec.inspect.StructType):
        return struct_example(t)
    return MISSING


def _default(field: msgspec.inspect.Field) -> Any:
    if field.default_factory is not msgspec.NODEFAULT:
        return msgspec.to_builtins(field.default_factory())
    if field.default is not msgspec.NODEFAULT:
        return msgspec.to_builtins(field.default)
    return MISSING


def struct_example(info: msgspec.inspect.StructType) -> Any:
    """An example of a struct: its fields' examples, defaults where they have none, and no field left
    unset by default (a PATCH body shows only what it changes); ``MISSING`` when a field it needs has
    no example."""
    example: dict[str, Any] = {}
    for field in info.fields:
        explicit = _explicit(field.type) if isinstance(field.type, msgspec.inspect.Metadata) else MISSING
        value = explicit if explicit is not MISSING else MISSING
        unset = not field.required and field.default is field.default_factory is msgspec.NODEFAULT
        if value is MISSING and unset:  # UNSET unless sent
            continue
        if value is MISSING:
            value = _default(field)
        if value is MISSING:
            value = example_of(field.type, field.encode_name)
        if value is MISSING:
            return MISSING
        example[field.encode_name] = value
    return example


def _builtin(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _scoped(handler: HTTPRouteHandler) -> Iterator[tuple[frozenset[str], bool]]:
    """The scopes each guard of ``requires`` or ``reads`` demands, and whether a token is optional."""
    for guard in handler.resolve_guards():
        scopes = getattr(guard, "scopes", None)
        if isinstance(scopes, frozenset):
            yield scopes, getattr(guard, "token_optional", False)


def document_operations(app: Litestar) -> None:
    """Give every operation guarded by a scope its security requirement (the scope; and, where a token
    is optional, for reads that answer public records without one, an empty requirement too), and
    every operation the examples its handler cannot declare (see :func:`_with_examples`)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for scopes, token_optional in _scoped(handler):
                requirement = {SCHEME: sorted(scopes)}
                handler.security = [{}, requirement] if token_optional else [requirement]
            handler.operation_class = _with_examples(handler.operation_class)


EXAMPLE_ID = "0193f0c2-6a7e-7c41-9d2a-3b8e5f1a2c47"
#: Examples of path and query parameters by name, where their schema has none.
PARAMETERS = {
    "slug": "au",
    "client_id": "au.Xb7Hq2mZ4kPw9TfR",
    "token": "s1.eyJzdWIiOiIwMTkzIn0.c2lnbmF0dXJl",
}
_TOKEN_CLAIMS = {
    "iss": "https://msnet.au.int",
    "sub": "au.Xb7Hq2mZ4kPw9TfR",
    "aud": "https://msnet.au.int",
    "client_id": "au.Xb7Hq2mZ4kPw9TfR",
    "org": "au",
    "org_id": "0193f0b8-1c2d-7e3f-8a4b-5c6d7e8f9a0b",
    "scope": "roster:read requests:write",
    "jti": "0193f0c3-9e8d-7c6b-a5f4-e3d2c1b0a998",
    "iat": 1804412400,
    "exp": 1804413000,
}
#: Examples of the answers that are no struct (text, a calendar, a feed, a key set), by operation id
#: and media type.
ANSWERS: dict[str, dict[str, Any]] = {
    "get_metrics": {
        "text/plain": "# HELP msnet_http_requests_total HTTP requests answered.\n"
        "# TYPE msnet_http_requests_total counter\n"
        'msnet_http_requests_total{method="GET",route="/v1/experts",status="200"} 1832.0\n'
    },
    "get_signing_keys": {
        "application/json": {
            "keys": [
                {
                    "kty": "RSA",
                    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP",
                    "e": "AQAB",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": "Qm9vZ2x5LWtleS0yMDI3LTAz",
                }
            ]
        }
    },
    "get_authorization_server_metadata": {
        "application/json": {
            "issuer": "https://msnet.au.int",
            "token_endpoint": "https://msnet.au.int/oauth/token",
            "jwks_uri": "https://msnet.au.int/.well-known/jwks.json",
            "revocation_endpoint": "https://msnet.au.int/oauth/revoke",
            "introspection_endpoint": "https://msnet.au.int/oauth/introspect",
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "scopes_supported": list(SCOPES),
        }
    },
    "introspect_token": {"application/json": {"active": True, "token_type": "Bearer", **_TOKEN_CLAIMS}},
    "revoke_token": {"application/json": {}},
    "export_experts": {
        "text/csv": "name,bio,seniority,themes,service_types,languages,nationalities,experience,availability\r\n"
        "Aïssatou Diallo,Former political affairs officer,senior,ceasefire_security:expert,"
        "process_design:advanced,fr:native/native/native;en:fluent/fluent/fluent,SN,ML;BF;africa,"
        "2027-03-01..2027-06-30:remote\r\n",
        "application/json": [struct_example(msgspec.inspect.type_info(Expert))],  # type: ignore[arg-type]
    },
    "get_training_calendar": {
        "text/calendar": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//msnet//msnet//EN\r\nBEGIN:VEVENT\r\n"
        "UID:0193f0c2-6a7e-7c41-9d2a-3b8e5f1a2c47@msnet.au.int\r\n"
        "SUMMARY:Mediation process design course for AU and REC staff\r\n"
        "DTSTART;TZID=Africa/Addis_Ababa:20270308T093000\r\nDTEND;TZID=Africa/Addis_Ababa:20270312T170000\r\n"
        "LOCATION:Addis Ababa\\, ET\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    },
    "get_training_feed": {
        "application/atom+xml": '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>msnet trainings</title>'
        "<entry><title>Mediation process design course for AU and REC staff</title>"
        "<updated>2027-01-15T09:30:00Z</updated></entry></feed>\n"
    },
    "show_unsubscribe_page": {
        "text/html": '<form method="post"><p>Stop the weekly digest to msu@au.example.org?</p>'
        "<button>Unsubscribe</button></form>"
    },
    "confirm_unsubscription": {"text/html": "<p>You are unsubscribed: no more digests will be sent.</p>"},
}


@cache
def _with_examples(operation_class: type[Operation]) -> type[Operation]:
    """``operation_class`` that also gives its parameters an example (a UUID, or :data:`PARAMETERS`)
    where their schema has none, and its successful answers one from :data:`ANSWERS`. Made once for
    each class and shared by every handler that has it: making a dataclass costs more than the rest
    of a handler's documenting, and an app has hundreds of handlers."""

    @dataclass
    class Documented(operation_class):  # type: ignore[valid-type,misc]
        def __post_init__(self) -> None:
            super_init = getattr(super(), "__post_init__", None)
            if super_init is not None:
                super_init()
            for parameter in self.parameters or ():
                if isinstance(parameter, Parameter) and parameter.example is None:
                    schema = parameter.schema if isinstance(parameter.schema, Schema) else None
                    if schema is not None and schema.format == OpenAPIFormat.UUID:
                        parameter.example = EXAMPLE_ID
                    elif parameter.name in PARAMETERS:
                        parameter.example = PARAMETERS[parameter.name]
            answers = ANSWERS.get(self.operation_id or "", {})
            for status, response in (self.responses or {}).items():
                if not status.startswith("2") or not isinstance(response, OpenAPIResponse):
                    continue
                for media_type, content in (response.content or {}).items():
                    if media_type in answers and not content.examples:
                        content.examples = {"example": Example(value=answers[media_type])}

    return Documented


class DocumentedStructs(OpenAPISchemaPlugin):
    """Gives each struct's schema its docstring as description, and an example (see
    :func:`struct_example`); Litestar's own plugin for structs does the rest."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return not field_definition.is_union and field_definition.is_subclass_of(msgspec.Struct)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        builtin = next(
            p
            for p in schema_creator.plugins
            if p is not self and schema_creator.plugin_supports_field(p, field_definition)
        )
        schema: Schema = builtin.to_openapi_schema(field_definition, schema_creator)
        struct = field_definition.type_
        if struct.__doc__ and schema.description is None:
            schema.description = cleandoc(struct.__doc__)
        example = struct_example(msgspec.inspect.type_info(struct))  # type: ignore[arg-type]
        if example is not MISSING and not schema.examples:
            schema.examples = [msgspec.to_builtins(example, enc_hook=_builtin)]
        return schema
