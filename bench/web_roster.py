"""The roster page (/roster, signed in) against GET /v1/experts with the same query, in the same run.

    .venv/bin/python bench/web_roster.py [--experts 100000] [--duration 15] [--concurrency 8]

Builds a fresh embedded database with bench/search.py's synthetic network (50 organisations, N
experts: realistic term distributions, 10 % private, 6 % restricted), serves msnet (`msnet serve`,
logs at warning), registers a real OpenID Connect provider (oidc-provider-mock, in this process) for
org1 with one person holding the role `staff`, signs that person in (the authorization code flow,
as a browser would), and drives, with wrk at ``--concurrency`` connections (3 seconds of warm-up not
counted), first

    GET /v1/experts?q=<word>&language=fr&theme=ceasefire_security&region=africa&limit=20   (a token)

then the page of the same search, 20 experts a page with its facets, as the person's browser asks
for it (the session cookie)

    GET /roster?q=<word>&language=fr&theme=ceasefire_security&region=africa

over bench/search.py's eight words. Target (issue 22): the page at >= 60 % of the API's throughput.
Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import search
from msnet.auth.principal import Principal
from msnet.db import migrate
from msnet.db.embedded import EmbeddedServer
from msnet.db.engine import set_organisation
from msnet.db.runtime import cli_session
from msnet.demo.provider import DemoUser, running
from msnet.organisations import service as organisations
from msnet.web import identity, people

ORG = "org1"
PERSON = DemoUser("bench-staff", {"email": "staff@org1.example.org", "name": "Bench Staff"})
QUERY = "language=fr&theme=ceasefire_security&region=africa"
API = f"/v1/experts?{QUERY}&limit=20"
PAGE = f"/roster?{QUERY}"


async def register(app_url: str, secret_key: str, issuer: str) -> None:
    """org1 signs in through ``issuer``; the bench's person holds the role ``staff`` already."""
    async with cli_session(app_url) as session:
        org = await organisations.get_by_slug(session, ORG)
        await set_organisation(session, org.id)
        await identity.set_provider(
            session,
            Principal.operator(org.id, ORG, "bench"),
            identity.ProviderSettings(
                issuer=issuer,
                client_id="msnet-bench",
                client_secret="bench-secret",  # noqa: S106  the provider lets any secret in
                email_domains=[],
                role_claim=None,
            ),
            secret_key=secret_key,
            private_addresses=True,
        )
        await people.signed_in(
            session,
            org.id,
            issuer,
            PERSON.sub,
            email=PERSON.claims["email"],
            name=PERSON.claims["name"],
            claimed_roles=["staff"],
        )


def session_cookie(base: str) -> str:
    """The ``Cookie`` header of the person's browser once signed in through the provider."""
    with httpx.Client() as http:
        begun = http.get(f"{base}/login/{ORG}")
        assert begun.status_code == 303, begun.text
        authorized = http.post(begun.headers["location"], data={"sub": PERSON.sub})
        assert authorized.status_code == 302, authorized.text
        done = http.get(authorized.headers["location"])
        assert done.status_code == 303, done.text
        page = http.get(f"{base}{PAGE}&q=mediation")
        assert page.status_code == 200, page.status_code
        assert "experts found" in page.text
        return "; ".join(f"{name}={value}" for name, value in http.cookies.items())


def drive(base: str, header: str, value: str, path: str, duration: int, concurrency: int) -> dict[str, float]:
    """bench/search.py's wrk run of ``path`` with each of its words, ``header: value`` on every request."""
    return search.wrk(
        base, value, duration, concurrency, [f"{path}&q={word}" for word in search.WORDS], header=header
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experts", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/web_roster.py needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="msnet-bench-") as data:
        server = EmbeddedServer(Path(data) / "msnet")
        urls = server.start()
        try:
            migrate.upgrade(urls.admin, urls.app)
            print(f"loading {args.experts} experts …", flush=True)
            started = time.perf_counter()
            asyncio.run(search.load(urls.admin, args.experts))
            print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
            results = measure(urls.app, urls.admin, args.duration, args.concurrency)
        finally:
            server.stop()
    print(f"\n{args.experts} experts, {args.concurrency} clients, ?{QUERY}&q=<word>")
    print("                      p50 ms   p95 ms   p99 ms     req/s  errors")
    for name, r in results.items():
        print(
            f"{name:<20}  {r['p50']:7.1f}  {r['p95']:7.1f}  {r['p99']:7.1f}  {r['rps']:8.0f}  {r['errors']:6d}"
        )
    share = results["GET /roster (page)"]["rps"] / results["GET /v1/experts"]["rps"]
    print(f"the page at {share:.0%} of the API's throughput (target >= 60 %)")


def measure(app_url: str, admin_url: str, duration: int, concurrency: int) -> dict[str, dict[str, float]]:
    env, client, base = search.serve_env(app_url, admin_url, ["roster:read"])
    env["MSNET_IDENTITY_PROVIDER_PRIVATE_ADDRESSES"] = "on"  # the provider listens on 127.0.0.1
    with running([PERSON]) as issuer:
        asyncio.run(register(app_url, env["MSNET_SECRET_KEY"], issuer))
        msnet = subprocess.Popen(
            [sys.executable, "-m", "msnet", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            search.wait_ready(f"{base}/health/ready")
            token = httpx.post(
                f"{base}/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client["client_id"], client["client_secret"]),
            ).json()["access_token"]
            cookie = session_cookie(base)
            return {
                "GET /v1/experts": drive(
                    base, "Authorization", f"Bearer {token}", API, duration, concurrency
                ),
                "GET /roster (page)": drive(base, "Cookie", cookie, PAGE, duration, concurrency),
            }
        finally:
            msnet.send_signal(signal.SIGINT)
            msnet.wait(timeout=30)


if __name__ == "__main__":
    main()
