"""The demo's staff: three people per organisation, signed in by the demo's OpenID Connect provider
(:mod:`msnet.demo.provider`), which each organisation registers as its identity provider. Their roles
come from the provider's ``msnet_roles`` claim, so they can browse at once."""

from __future__ import annotations

from collections.abc import Collection

from msnet.demo import base, specs
from msnet.demo.provider import DemoUser
from msnet.organisations import service as organisations
from msnet.settings import Settings
from msnet.web import identity
from msnet.web.identity import ProviderSettings
from msnet.web.signin import redirect_uri

ROLE_CLAIM = "msnet_roles"
#: (subject suffix, what they are, their roles)
PEOPLE = (
    ("staff", "staff member", ["staff"]),
    ("roster", "roster manager", ["staff", "roster_manager"]),
    ("admin", "administrator", ["staff", "roster_manager", "org_admin"]),
)
SHOWN = "un"


def domain(slug: str) -> str:
    return f"{slug}.demo.example"


def users() -> list[DemoUser]:
    """Every demo person, as the provider knows them (subject ``un-staff``, ``un-roster``…)."""
    return [
        DemoUser(
            sub=f"{org.slug}-{suffix}",
            claims={
                "email": f"{suffix}@{domain(org.slug)}",
                "email_verified": True,
                "name": f"{org.acronym or org.slug.upper()} {what}",
                ROLE_CLAIM: roles,
            },
        )
        for org in specs.organisations()
        for suffix, what, roles in PEOPLE
    ]


async def register(settings: Settings, issuer: str, homes: Collection[str] | None = None) -> str:
    """Make the demo provider the identity provider of every demo organisation homed on this node
    (``homes``; None: every one); what to try."""
    slugs = base.homed(homes)
    shown_slug = SHOWN if SHOWN in slugs else slugs[0]
    async with base.session_of(settings) as session:
        for org_spec in specs.organisations():
            if org_spec.slug not in slugs:
                continue
            await identity.set_provider(
                session,
                await base.act_as(session, org_spec.slug),
                ProviderSettings(
                    issuer=issuer,
                    client_id=f"msnet-demo-{org_spec.slug}",
                    client_secret=f"demo-secret-{org_spec.slug}",
                    email_domains=[domain(org_spec.slug)],
                    role_claim=ROLE_CLAIM,
                ),
                secret_key=settings.secret_key or "",
                private_addresses=True,
            )
        shown = await organisations.get_by_slug(session, shown_slug)
    return "\n".join(
        [
            "",
            f"Staff pages: open {settings.issuer}/login in a browser, choose {shown.name}, and sign in at the",
            f"demo's OpenID Connect provider ({issuer}, for development only) as {shown_slug}-staff,",
            f"{shown_slug}-roster (a roster manager) or {shown_slug}-admin (an administrator); every organisation has",
            "its three, e.g. au-staff. Its callback for the UN: " + redirect_uri(settings, shown_slug),
        ]
    )
