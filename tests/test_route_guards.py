"""Negative tests generated from the application's route table: every endpoint that is not public
refuses a token of its own organisation without its scope (403) and another organisation's records
(404; 403 under /v1/organisations/{slug}/, whose guard compares the slug). A new handler without a
guard, or with a path parameter no record below stands for, fails here."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from msnet.auth.principal import SCOPES
from msnet.settings import Settings
from tests.helpers import Caller, MakeCaller, add_client, bearer, token_for
from tests.requests.conftest import make_office, make_process, post, request_body
from tests.roster.conftest import expert_body
from tests.training.conftest import publication_body, training_body

# Endpoints anyone may call, and why. Everything else must carry a scope guard.
PUBLIC = {
    ("GET", "/health/live"): "a liveness probe",
    ("GET", "/health/ready"): "a readiness probe",
    ("GET", "/metrics"): "Prometheus scrapes it; it counts requests, never records",
    ("GET", "/v1/organisations"): "the registry of organisations is public",
    ("GET", "/v1/organisations/{slug}"): "the registry of organisations is public",
    ("POST", "/oauth/token"): "the client authenticates with its own credentials",
    ("POST", "/oauth/introspect"): "the client authenticates with its own credentials",
    ("POST", "/oauth/revoke"): "the client authenticates with its own credentials",
    ("GET", "/.well-known/jwks.json"): "the keys that verify this node's tokens",
    ("GET", "/.well-known/oauth-authorization-server"): "the authorization server's metadata",
    ("GET", "/.well-known/msnet-node"): "this node's signed node document, read by its peers",
    ("GET", "/v1/taxonomy"): "the controlled vocabularies",
    ("GET", "/v1/subscriptions/unsubscribe"): "the digest's link: its signed token is the credential",
    ("POST", "/v1/subscriptions/unsubscribe"): "the digest's link: its signed token is the credential",
    ("GET", "/schema"): "the OpenAPI document and its viewers",
    ("GET", "/schema/openapi.json"): "the OpenAPI document and its viewers",
    ("GET", "/schema/swagger"): "the OpenAPI document and its viewers",
    ("GET", "/schema/oauth2-redirect.html"): "the OpenAPI document and its viewers",
    ("GET", "/schema/{path}"): "the OpenAPI document and its viewers",
    ("GET", "/schema/assets/{file_path}"): "the viewers' own scripts and styles",
    ("HEAD", "/schema/assets/{file_path}"): "the viewers' own scripts and styles",
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as the OpenAPI document writes it: /v1/offices/{office_id}
    handler: HTTPRouteHandler

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def url(self, records: dict[str, str]) -> str:
        return re.sub(r"{(\w+)}", lambda m: records[m[1]], self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: Litestar) -> Iterator[Endpoint]:
    """Every HTTP handler of the app, one per method (Litestar's implicit OPTIONS left out), but the
    staff pages (a session, not a token: tests/web/test_security.py checks their guards)."""
    for route in app.routes:
        assert isinstance(route, HTTPRoute), route
        path = re.sub(r"{(\w+):\w+}", r"{\1}", route.path)
        for handler in route.route_handlers:
            if handler.opt.get("page"):
                continue
            for method in sorted(handler.http_methods - {"OPTIONS"}):
                yield Endpoint(method, path, handler)


def scopes_of(guard: Callable[..., Any]) -> frozenset[str]:
    """The scopes a guard made by ``requires`` or ``reads`` demands (none for any other guard)."""
    names = inspect.getclosurevars(guard).nonlocals
    if "needed" in names:
        return frozenset(names["needed"])
    if "scoped" in names:
        return scopes_of(names["scoped"])
    return frozenset()


def needed(endpoint: Endpoint) -> frozenset[str]:
    return frozenset().union(*(scopes_of(g) for g in endpoint.handler.resolve_guards()))


def guarded(app: Litestar) -> list[Endpoint]:
    return [e for e in endpoints(app) if (e.method, e.path) not in PUBLIC]


# A body that passes validation for each endpoint that takes one and has a path parameter, so that
# the record's lookup (the 404) is what answers; ``records`` fills in ids.
BODIES: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "POST /v1/organisations/{slug}/clients": lambda r: {"name": "intruder", "scopes": ["directory:read"]},
    "POST /v1/offices/{office_id}/capacities": lambda r: {"service_type": "coaching"},
    "PATCH /v1/offices/{office_id}": lambda r: {"name": "Taken over"},
    "PATCH /v1/capacities/{capacity_id}": lambda r: {"notes": "taken over"},
    "PATCH /v1/experts/{expert_id}": lambda r: {"bio": "taken over"},
    "PATCH /v1/processes/{process_id}": lambda r: {"description": "taken over"},
    "POST /v1/processes/{process_id}/merge": lambda r: {"into": r["outsider_process_id"]},
    "PATCH /v1/requests/{request_id}": lambda r: {"title": "Taken over"},
    "POST /v1/requests/{request_id}/close": lambda r: {"delivered": False, "reason": "taken over"},
    "POST /v1/requests/{request_id}/responses": lambda r: {
        "kind": "offer",
        "office_id": r["outsider_office_id"],
    },
    "POST /v1/overlaps/{case_id}/messages": lambda r: {"body": "hello"},
    "POST /v1/overlaps/{case_id}/resolution": lambda r: {"kind": "coordinate", "note": "taken over"},
    "POST /v1/overlaps/{case_id}/share": lambda r: {"request_id": r["request_id"], "shared": True},
    "PATCH /v1/trainings/{training_id}": lambda r: {"title": "Taken over"},
    "PATCH /v1/publications/{publication_id}": lambda r: {"title": "Taken over"},
}


def takes_body(endpoint: Endpoint) -> bool:
    return "data" in endpoint.handler.parsed_fn_signature.parameters


async def owned_records(
    client: AsyncTestClient, settings: Settings, make_caller: MakeCaller
) -> dict[str, str]:
    """One private record of each kind a path names, the AU's (or one the AU is party to: its
    request's response, the overlap case of its request), by path parameter."""
    created = await add_client(settings, "au", list(SCOPES))
    au = Caller("au", bearer(await token_for(client, created)))
    eu = await make_caller("eu", SCOPES)
    igad = await make_caller("igad", SCOPES)
    office = await make_office(client, au, sharing="private")
    network_process = await make_process(client, au)
    eu_office = await make_office(client, eu)
    igad_office = await make_office(client, igad)
    request = await post(
        client,
        au,
        "/v1/requests",
        request_body(network_process["id"], office["id"], addressees=[eu_office["id"]]),
    )
    await post(client, au, f"/v1/requests/{request['id']}/submit", status=200)
    response = await post(
        client, eu, f"/v1/requests/{request['id']}/responses", {"kind": "offer", "office_id": eu_office["id"]}
    )
    start = date.today() + timedelta(days=45)
    overlapping = await post(
        client,
        igad,
        "/v1/requests",
        request_body(
            network_process["id"],
            igad_office["id"],
            addressees=[eu_office["id"]],
            period={"start": start.isoformat(), "end": (start + timedelta(days=60)).isoformat()},
        ),
    )
    await post(client, igad, f"/v1/requests/{overlapping['id']}/submit", status=200)
    case = (await client.get("/v1/overlaps", headers=au.headers)).json()["items"][0]
    return {
        "slug": "au",
        "client_id": created.client_id,
        "office_id": office["id"],
        "capacity_id": (
            await post(
                client,
                au,
                f"/v1/offices/{office['id']}/capacities",
                {"service_type": "coaching", "sharing": "private"},
            )
        )["id"],
        "expert_id": (await post(client, au, "/v1/experts", expert_body(sharing="private")))["id"],
        "process_id": (await make_process(client, au, name="A private process", sharing="private"))["id"],
        "request_id": request["id"],
        "response_id": response["id"],
        "case_id": case["id"],
        "webhook_id": (
            await post(
                client,
                au,
                "/v1/webhooks",
                {"url": "https://au.example.org/hooks", "event_types": ["request.received"]},
            )
        )["id"],
        "training_id": (await post(client, au, "/v1/trainings", training_body(sharing="private")))["id"],
        "publication_id": (await post(client, au, "/v1/publications", publication_body(sharing="private")))[
            "id"
        ],
        "subscription_id": (
            await post(client, au, "/v1/subscriptions", {"email": "desk@au.example.org", "period": "weekly"})
        )["id"],
    }


def test_every_endpoint_is_public_by_name_or_guarded_by_a_scope(app: Litestar) -> None:
    listed = {(e.method, e.path) for e in endpoints(app)}
    assert set(PUBLIC) <= listed, "a PUBLIC entry names no endpoint"
    unguarded = [str(e) for e in guarded(app) if not needed(e)]
    assert unguarded == [], "endpoints with no scope guard: guard them, or add them to PUBLIC with the reason"


def test_every_path_parameter_has_a_record_and_every_body_a_value(app: Litestar) -> None:
    kinds = {
        "slug", "client_id", "office_id", "capacity_id", "expert_id", "process_id", "request_id",
        "response_id", "case_id", "webhook_id", "training_id", "publication_id", "subscription_id",
    }  # fmt: skip
    unknown = sorted({p for e in guarded(app) for p in e.params} - kinds)
    assert unknown == [], "add a record of each of these kinds to owned_records"
    with_path = [e for e in guarded(app) if e.params]
    assert sorted(str(e) for e in with_path if takes_body(e) and str(e) not in BODIES) == []
    assert sorted(set(BODIES) - {str(e) for e in with_path if takes_body(e)}) == []


async def test_a_token_without_the_endpoints_scope_is_refused(
    client: AsyncTestClient, app: Litestar, settings: Settings, make_caller: MakeCaller
) -> None:
    records = await owned_records(client, settings, make_caller)
    tokens: dict[frozenset[str], dict[str, str]] = {}
    answers = {}
    for endpoint in guarded(app):
        scopes = needed(endpoint)
        if scopes not in tokens:
            others = [s for s in SCOPES if s not in scopes]
            tokens[scopes] = (await make_caller("au", others)).headers
        response = await client.request(endpoint.method, endpoint.url(records), headers=tokens[scopes])
        answers[str(endpoint)] = response.status_code
    assert {e: s for e, s in answers.items() if s != 403} == {}


async def test_another_organisations_records_are_not_found(
    client: AsyncTestClient, app: Litestar, settings: Settings, make_caller: MakeCaller
) -> None:
    records = await owned_records(client, settings, make_caller)
    un = await make_caller("un", SCOPES)
    un_if_match = {**un.headers, "If-Match": '"1"'}  # as changes of versioned records need
    outsider_office = await make_office(client, un)
    records["outsider_office_id"] = outsider_office["id"]
    records["outsider_process_id"] = (await make_process(client, un, name="The UN's process"))["id"]
    answers = {}
    expected = {}
    for endpoint in guarded(app):
        if not endpoint.params:
            continue
        body = BODIES[str(endpoint)](records) if takes_body(endpoint) else None
        response = await client.request(
            endpoint.method, endpoint.url(records), headers=un_if_match, json=body
        )
        answers[str(endpoint)] = response.status_code
        # an organisation's token never opens a peer node's endpoints, whatever the record
        refused = "slug" in endpoint.params or endpoint.path.startswith("/federation/")
        expected[str(endpoint)] = 403 if refused else 404
        if "slug" in endpoint.params and len(endpoint.params) > 1:  # its own slug, the AU's client
            own = endpoint.url({**records, "slug": "un"})
            response = await client.request(endpoint.method, own, headers=un.headers, json=body)
            answers[f"{endpoint} as its own"] = response.status_code
            expected[f"{endpoint} as its own"] = 404
    assert answers == expected
