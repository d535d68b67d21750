"""The demo network: the ten organisations of the 2018 UN–EU technical expert workshop (Nairobi),
loaded idempotently; each capability adds its part.

What it is made of is data, in ``msnet/demo/data``, read through the structs of ``msnet.demo.specs``;
the roster (about 200 experts) is generated from its pools with a fixed seed (``msnet.demo.roster``).
Records are keyed by name or title within an organisation: a second run creates nothing new.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from msnet.auth import schemas as auth_schemas
from msnet.auth import service as auth
from msnet.auth.models import OAuthClient
from msnet.auth.principal import SCOPES
from msnet.db.engine import set_organisation
from msnet.demo import base, directory, requests, roster, specs, trainings
from msnet.organisations import service as organisations
from msnet.organisations.models import Organisation
from msnet.settings import Settings

DEMO_CLIENT = "demo integration"
#: One of the searches printed: experts on transhumance free for the first half of May 2027.
AVAILABLE_FOR_TRANSHUMANCE = {
    "q": "transhumance",
    "available_from": "2027-05-01",
    "available_to": "2027-05-14",
}
SHOWN = "un"  # whose credentials the demo prints (or the first homed on the node)
#: The organisations ``walkthrough`` takes through a request and an overlap.
WALKTHROUGH = frozenset({"au", "igad", "un", "oas"})


async def _ensure_clients(
    session: AsyncSession, settings: Settings, slugs: list[str]
) -> dict[str, auth_schemas.ClientCreated]:
    """One client with every scope per organisation, each with a fresh secret each run (secrets are
    stored only as hashes, so this is the only way to hand out working ones)."""
    clients = {}
    for slug in slugs:
        org = await organisations.get_by_slug(session, slug)
        await set_organisation(session, org.id)
        client_id = await session.scalar(
            select(OAuthClient.client_id).where(
                OAuthClient.organisation_id == org.id, OAuthClient.name == DEMO_CLIENT
            )
        )
        if client_id is None:
            created = await auth.create_client(
                session,
                org,
                auth_schemas.ClientCreate(name=DEMO_CLIENT, scopes=list(SCOPES)),
                secret_key=settings.secret_key,  # type: ignore[arg-type]
                created_by="operator",
            )
            client_id = created.client_id
            await base.audit(session, org.id, "client.create", "client", client_id)
        clients[slug] = await auth.rotate_secret(session, org, client_id, secret_key=settings.secret_key)  # type: ignore[arg-type]
        await base.audit(session, org.id, "client.rotate_secret", "client", client_id)
    return clients


def write_credentials(path: Path, clients: dict[str, auth_schemas.ClientCreated], issuer: str) -> None:
    """Every demo client's id and secret, by organisation, in a file only its owner may read (mode
    600, set before anything is written to it, also when it existed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(
            {
                slug: {
                    "client_id": c.client_id,
                    "client_secret": c.client_secret,
                    "token_endpoint": f"{issuer}/oauth/token",
                }
                for slug, c in clients.items()
            },
            out,
            indent=2,
        )
        out.write("\n")


def walkthrough(base_url: str, credentials: Path) -> list[str]:
    """Shell lines that take a request and an overlap case across two organisations (AU and IGAD,
    who both asked for support on Sudan) and the UN's inbox, with the credentials file."""
    read = (
        "python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))[sys.argv[2]]; "
        'print(c["client_id"] + ":" + c["client_secret"])\' "$CREDS" "$1"'
    )
    field = 'python3 -c \'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])\''
    json_tool = "python3 -m json.tool"
    post = "-H 'Content-Type: application/json'"
    message = '{"body": "Could our teams speak this week to divide the work?"}'
    resolution = (
        '{"kind": "complementary", "note": "IGAD: ceasefire arrangements; AU: civilian consultations"}'
    )
    return [
        f"CREDS={credentials}; NODE={base_url}",
        f'token() {{ curl -s -u "$({read})" -d grant_type=client_credentials "$NODE/oauth/token" '
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'; }",
        "AU=$(token au); IGAD=$(token igad); UN=$(token un); OAS=$(token oas)",
        f'curl -s -H "Authorization: Bearer $UN" "$NODE/v1/inbox" | {json_tool}   # what AU and IGAD asked the UN',
        f'curl -s -H "Authorization: Bearer $AU" "$NODE/v1/overlaps" | {json_tool}   # AU and IGAD both on Sudan',
        f'CASE=$(curl -s -H "Authorization: Bearer $AU" "$NODE/v1/overlaps?status=open" | {field})',
        f'curl -s -H "Authorization: Bearer $AU" {post} -d \'{message}\' "$NODE/v1/overlaps/$CASE/messages" '
        f"| {json_tool}",
        f'curl -s -H "Authorization: Bearer $IGAD" "$NODE/v1/overlaps/$CASE/messages" | {json_tool}   # IGAD reads it',
        f"curl -s -H \"Authorization: Bearer $IGAD\" {post} -d '{resolution}' "
        f'"$NODE/v1/overlaps/$CASE/resolution" | {json_tool}   # AU agrees with {{"agree": <proposal id>}}',
        f'curl -s -H "Authorization: Bearer $OAS" "$NODE/v1/overlaps/$CASE" | {json_tool}   # 404: not a party',
    ]


async def _ensure_records(session: AsyncSession, settings: Settings, slugs: list[str]) -> base.Counts:
    """Each organisation's offices and capacities, experts, trainings and publications."""
    counts = base.Counts()
    for slug in sorted(set(specs.offices()) & set(slugs)):
        org = await organisations.get_by_slug(session, slug)
        await set_organisation(session, org.id)
        await directory.ensure(session, settings, org, counts)
        await roster.ensure(session, settings, org, counts)
        await trainings.ensure(session, settings, org, counts)
    return counts


async def load(
    settings: Settings, credentials_file: Path | None = None, homes: Collection[str] | None = None
) -> str:
    """Create what is missing of the organisations homed on this node (``homes``; None: every demo
    organisation), give each of their demo clients a new secret (written to ``credentials_file`` if
    one is named); return what to try next."""
    slugs = base.homed(homes)
    async with base.session_of(settings) as session:
        existing = set(await session.scalars(select(Organisation.slug)))
        created = 0
        for org in specs.organisations():
            if org.slug in slugs and org.slug not in existing:
                await organisations.create_organisation(session, org, origin=settings.issuer)
                created += 1
    async with base.session_of(settings) as session:
        clients = await _ensure_clients(session, settings, slugs)
    if credentials_file is not None:
        write_credentials(credentials_file, clients, settings.issuer)
    shown = SHOWN if SHOWN in slugs else slugs[0]
    client = clients[shown]
    async with base.session_of(settings) as session:
        counts = await _ensure_records(session, settings, slugs)
    async with base.session_of(settings) as session:
        n_processes, new_processes, new_requests = await requests.ensure(session, settings, homes)
    base_url = settings.issuer
    token_call = (
        f"TOKEN=$(curl -s -u '{client.client_id}:{client.client_secret}' -d grant_type=client_credentials "
        f"{base_url}/oauth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
    )
    auth_header = '-H "Authorization: Bearer $TOKEN"'
    return "\n".join(
        [
            f"msnet demo: {len(slugs)} organisations ({created} new), one OAuth client each",
            f"  {counts.offices} offices ({counts.new_offices} new), {counts.capacities} capacities "
            f"({counts.new_capacities} new; {counts.stale} not confirmed for 180 days), "
            f"{counts.experts} experts on the rosters ({counts.new_experts} new)",
            f"  {n_processes} peace processes ({new_processes} new), {len(requests.homed(homes))} support requests "
            f"in every state of their lifecycle ({new_requests} new)",
            f"  {counts.trainings} trainings in 2027 ({counts.new_trainings} new), "
            f"{counts.publications} publications ({counts.new_publications} new)",
            "",
            f"Credentials of the {shown.upper()} demo client (every scope; a new secret on each run):",
            f"  client_id:     {client.client_id}",
            f"  client_secret: {client.client_secret}",
            "",
            "Try:",
            f"  curl -s {base_url}/v1/organisations | python3 -m json.tool",
            f"  curl -s {base_url}/v1/offices | python3 -m json.tool   # without a token: public offices only",
            f"  {token_call}",
            f"  curl -s {auth_header} {base_url}/v1/organisations/{shown}/clients | python3 -m json.tool",
            f"  curl -s {auth_header} '{base_url}/v1/capacities?region=eastern_africa' | python3 -m json.tool",
            f"  curl -s {auth_header} '{base_url}/v1/experts?language=fr&theme=ceasefire_security' "
            "| python3 -m json.tool",
            f"  curl -s {auth_header} '{base_url}/v1/experts?{urlencode(AVAILABLE_FOR_TRANSHUMANCE)}' "
            "| python3 -m json.tool",
            f"  curl -s {auth_header} {base_url}/v1/inbox | python3 -m json.tool",
            f"  curl -s {auth_header} '{base_url}/v1/requests?role=requester' | python3 -m json.tool",
            f"  curl -s {auth_header} {base_url}/v1/overlaps | python3 -m json.tool   # AU and IGAD both on Sudan",
            f"  curl -s {auth_header} '{base_url}/v1/trainings?open=true&theme=gender_inclusion' "
            "| python3 -m json.tool",
            f"  curl -s {base_url}/v1/trainings.ics   # a calendar of the public trainings",
            f"  curl -s {auth_header} {base_url}/v1/audit | python3 -m json.tool",
            f"  open {base_url}/schema for the API documentation",
            *(
                [
                    "",
                    f"Every organisation's demo client is in {credentials_file} (mode 600). A request and an "
                    "overlap across two organisations, in a shell:",
                    *(f"  {line}" for line in walkthrough(base_url, credentials_file)),
                ]
                if credentials_file is not None and set(slugs) >= WALKTHROUGH
                else []
            ),
        ]
    )
