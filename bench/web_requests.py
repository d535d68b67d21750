"""The home page and the inbox page with 10,000 requests in the database: p95 latency and throughput.

    .venv/bin/python bench/web_requests.py [--duration 15] [--concurrency 8] [--requests 10000]

Builds a fresh embedded database with bench/overlaps.py's synthetic requests (50 organisations with an
office each, ``--requests`` requests across 200 processes, in every state of the lifecycle, each
addressed to the next organisation's office: org1 made about 1/50 of them and was sent as many),
serves msnet (`msnet serve`, no worker), signs a staff member of org1 in (a person and a server-side
session made directly, as web_directory.py does) and drives with wrk, ``--concurrency`` connections,
3 seconds of warm-up not counted:

    GET /            (the home page: the inbox's count and oldest, open requests by state, overlap
                      cases, saved searches)
    GET /inbox       (the first page of requests sent to org1's office, with how long each waited)

Target (issue 23): p95 <= 50 ms for each at 8 clients on 2 cores. Needs wrk (`apt-get install wrk`).
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

import asyncpg
import httpx
from web_directory import staff_session

from msnet.db import migrate
from msnet.db.embedded import EmbeddedServer
from msnet.settings import Settings
from msnet.web import sessions
from overlaps import load
from search import serve_env, wait_ready, wrk

PROCESSES = 200


async def submitted(admin_url: str) -> None:
    """Every request but the drafts submitted at some time in the last 60 days (the loader leaves
    ``submitted_at`` empty)."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("ALTER TABLE requests NO FORCE ROW LEVEL SECURITY")
        await conn.execute(
            "UPDATE requests SET submitted_at = now() - (hashtext(id::text) % 86400 + 86400) * interval '30 s' "
            "WHERE state <> 'draft'"
        )
        await conn.execute("ALTER TABLE requests FORCE ROW LEVEL SECURITY")
        await conn.execute("VACUUM ANALYZE requests")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/web_requests.py needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="msnet-bench-") as data:
        server = EmbeddedServer(Path(data) / "msnet")
        urls = server.start()
        try:
            migrate.upgrade(urls.admin, urls.app)
            started = time.perf_counter()
            asyncio.run(load(urls.admin, args.requests, PROCESSES))
            asyncio.run(submitted(urls.admin))
            print(f"{args.requests:,} requests loaded in {time.perf_counter() - started:.0f} s", flush=True)
            results = measure(urls.app, urls.admin, args.duration, args.concurrency)
        finally:
            server.stop()
    print(f"\n{args.concurrency} clients, {args.duration} s each, {args.requests:,} requests")
    print("what          p50 ms   p95 ms   p99 ms     req/s  errors")
    for name, r in results.items():
        print(
            f"{name:<12}  {r['p50']:7.1f}  {r['p95']:7.1f}  {r['p99']:7.1f}  {r['rps']:8.0f}  {r['errors']:6d}"
        )
    for name, r in results.items():
        print(f"{name}: p95 {r['p95']:.1f} ms (target <= 50)")


def measure(app_url: str, admin_url: str, duration: int, concurrency: int) -> dict[str, dict[str, float]]:
    env, _, issuer = serve_env(app_url, admin_url, ["requests:read"])
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
        home = httpx.get(f"{issuer}/", headers={"Cookie": cookie})
        assert home.status_code == 200, home.status_code
        assert "await your answer" in home.text
        inbox = httpx.get(f"{issuer}/inbox", headers={"Cookie": cookie})
        assert inbox.status_code == 200, inbox.status_code
        assert 'id="next-page"' in inbox.text  # a full first page of the inbox
        return {
            "GET /": wrk(issuer, cookie, duration, concurrency, ["/"], header="Cookie"),
            "GET /inbox": wrk(issuer, cookie, duration, concurrency, ["/inbox"], header="Cookie"),
        }
    finally:
        msnet.send_signal(signal.SIGINT)
        msnet.wait(timeout=30)


if __name__ == "__main__":
    main()
