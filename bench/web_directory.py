"""The directory's page against the API's office search, in the same run: p95 latency and throughput.

    .venv/bin/python bench/web_directory.py [--duration 15] [--concurrency 8] [--processes 1]

Builds a fresh embedded database with bench/search.py's synthetic network (50 organisations, 2,000
offices with three capacities each: 6,000 capacities, mostly `network`), serves msnet (`msnet serve`,
logs at warning, no worker), signs a staff member of org1 in (a person and a server-side session made
directly, as a sign-in through the organisation's provider would leave them: the sign-in is not
what is measured), takes an API token for a client of org1, and drives with wrk, ``--concurrency``
connections, over different query words (3 seconds of warm-up not counted), with the CPU msnet's
process and PostgreSQL spent per request meanwhile:

    GET /v1/offices?q=<word>&language=fr&region=africa&limit=20   (the API: JSON with facets)
    GET /directory?q=<word>&language=fr&region=africa             (the page: 20 offices, facets, HTML)

With ``--processes N`` msnet answers with N forked processes (``MSNET_PROCESSES``; the README
advises one a core), whose CPU is counted together. msnet runs with its read cache off (``MSNET_READ_CACHE_ENTRIES=0``): it would answer the API's
repeated searches from memory, and the page is not cached.

Target (issue 22): the page's p95 <= 50 ms at 8 clients on 2 cores. Needs wrk (`apt-get install wrk`).
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
from overhead import cpu_seconds, process_tree

from msnet.db import migrate
from msnet.db.embedded import EmbeddedServer
from msnet.db.engine import set_organisation
from msnet.db.runtime import cli_session
from msnet.organisations import service as organisations
from msnet.settings import Settings
from msnet.web import people, sessions
from search import WORDS, add_capacities, load, serve_env, wait_ready, wrk

FILTERS = "language=fr&region=africa"


async def staff_session(settings: Settings) -> str:
    """A staff member of org1 with a session, as their first sign-in leaves them; the session's token."""
    async with cli_session(settings.database_url) as session:  # type: ignore[arg-type]
        org = await organisations.get_by_slug(session, "org1")
        await set_organisation(session, org.id)
        person, _ = await people.signed_in(
            session,
            org.id,
            "https://idp.org1.example",
            "bench-staff",
            email="staff@org1.example",
            name="Bench Staff",
            claimed_roles=["staff"],
        )
        return await sessions.start(session, settings, person, "en")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--processes", type=int, default=1, help="MSNET_PROCESSES: msnet's serving processes")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/web_directory.py needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="msnet-bench-") as data:
        server = EmbeddedServer(Path(data) / "msnet")
        urls = server.start()
        try:
            migrate.upgrade(urls.admin, urls.app)
            started = time.perf_counter()
            asyncio.run(load(urls.admin, 0))
            asyncio.run(add_capacities(urls.admin))
            print(
                f"2,000 offices and 6,000 capacities loaded in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            postmaster = int((Path(data) / "msnet" / "pgdata" / "postmaster.pid").read_text().split()[0])
            results = measure(
                urls.app, urls.admin, args.duration, args.concurrency, args.processes, postmaster
            )
        finally:
            server.stop()
    print(
        f"\n{args.concurrency} clients, {args.processes} msnet process(es), {args.duration} s each, q over {len(WORDS)} words, {FILTERS}"
    )
    print(
        "what                 p50 ms   p95 ms   p99 ms     req/s  errors   CPU ms/request: msnet  PostgreSQL"
    )
    for name, r in results.items():
        print(
            f"{name:<19}  {r['p50']:7.1f}  {r['p95']:7.1f}  {r['p99']:7.1f}  {r['rps']:8.0f}  {r['errors']:6d}"
            f"  {r['msnet ms']:21.2f}  {r['postgres ms']:10.2f}"
        )
    print(f"the page's p95 {results['GET /directory']['p95']:.1f} ms (target <= 50)")


def measure(
    app_url: str, admin_url: str, duration: int, concurrency: int, processes: int, postmaster: int
) -> dict[str, dict[str, float]]:
    env, client, issuer = serve_env(app_url, admin_url, ["directory:read"])
    env["MSNET_READ_CACHE_ENTRIES"] = "0"  # the API's half measures the search, not answers kept
    env["MSNET_PROCESSES"] = str(processes)
    settings = Settings(
        database_url=app_url, secret_key=env["MSNET_SECRET_KEY"], public_url=issuer, worker=False
    )
    cookie = f"{sessions.cookie_name(settings)}={asyncio.run(staff_session(settings))}"
    msnet = subprocess.Popen(
        [sys.executable, "-m", "msnet", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"{issuer}/health/ready")
        token = httpx.post(
            f"{issuer}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        ).json()["access_token"]
        api = [f"/v1/offices?{FILTERS}&limit=20&q={word}" for word in WORDS]
        pages = [f"/directory?{FILTERS}&q={word}" for word in WORDS]
        page = httpx.get(f"{issuer}{pages[0]}", headers={"Cookie": cookie})
        assert page.status_code == 200, page.status_code
        assert "offices found" in page.text

        def cpu() -> dict[str, float]:
            return {
                "msnet": sum(cpu_seconds(process_tree(msnet.pid)).values()),
                "postgres": sum(cpu_seconds(process_tree(postmaster)).values()),
            }

        return {
            "GET /v1/offices": wrk(issuer, f"Bearer {token}", duration, concurrency, api, cpu=cpu),
            "GET /directory": wrk(issuer, cookie, duration, concurrency, pages, header="Cookie", cpu=cpu),
        }
    finally:
        msnet.send_signal(signal.SIGINT)
        msnet.wait(timeout=30)


if __name__ == "__main__":
    main()
