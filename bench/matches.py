"""Routing at scale: p95 latency of GET /v1/requests/{id}/matches over 2,000 offices and N experts.

    .venv/bin/python bench/matches.py [--sizes 10000 100000] [--duration 10] [--concurrency 1 8]

For each size it builds a fresh embedded database with bench/search.py's synthetic network (50
organisations, 2,000 offices, N experts) plus three capacities per office, serves msnet, proposes a
process and drafts a request through the API (two service types, two themes, French, a country of
the Sahel), and drives the matches call with wrk at each concurrency. Target (issue 5): p95 <= 50 ms.
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

from msnet.db import migrate
from msnet.db.embedded import EmbeddedServer
from search import add_capacities, load, serve_env, wait_ready, wrk


def draft_request(base: str, token: str) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    office = httpx.get(
        f"{base}/v1/offices", params={"organisation": "org1", "limit": 1}, headers=headers
    ).json()
    process = httpx.post(
        f"{base}/v1/processes",
        json={
            "name": "Liptako-Gourma dialogue",
            "countries": ["NE", "ML"],
            "conflict_parties": ["Armed group X"],
        },
        headers=headers,
    )
    process.raise_for_status()
    request = httpx.post(
        f"{base}/v1/requests",
        json={
            "process_id": process.json()["id"],
            "office_id": office["items"][0]["id"],
            "title": "Process design and ceasefire advice",
            "service_types": ["process_design", "thematic_expertise"],
            "themes": ["ceasefire_security", "transhumance"],
            "period": {"start": "2027-03-01", "end": "2027-05-31"},
            "languages": ["fr"],
            "mandate": {"type": "organisation_decision"},
        },
        headers=headers,
    )
    request.raise_for_status()
    return request.json()["id"]


def run_size(size: int, duration: int, concurrencies: list[int]) -> dict[int, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="msnet-bench-") as data:
        server = EmbeddedServer(Path(data) / "msnet")
        urls = server.start()
        try:
            migrate.upgrade(urls.admin, urls.app)
            print(f"loading 2000 offices, 6000 capacities, {size} experts …", flush=True)
            started = time.perf_counter()
            asyncio.run(load(urls.admin, size))
            asyncio.run(add_capacities(urls.admin))
            print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
            env, client, base = serve_env(
                urls.app, urls.admin, ["requests:read", "requests:write", "directory:read"]
            )
            msnet = subprocess.Popen(
                [sys.executable, "-m", "msnet", "serve"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_ready(f"{base}/health/ready")
                token = httpx.post(
                    f"{base}/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(client["client_id"], client["client_secret"]),
                ).json()["access_token"]
                request_id = draft_request(base, token)
                path = f"/v1/requests/{request_id}/matches"
                first = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}).json()
                print(
                    f"  {len(first['offices'])} offices and {len(first['experts'])} experts ranked",
                    flush=True,
                )
                return {c: wrk(base, f"Bearer {token}", duration, c, [path]) for c in concurrencies}
            finally:
                msnet.send_signal(signal.SIGINT)
                msnet.wait(timeout=30)
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/matches.py needs wrk: apt-get install wrk")
    results = {size: run_size(size, args.duration, args.concurrency) for size in args.sizes}
    print("\nexperts  clients   p50 ms   p95 ms   p99 ms     req/s  errors")
    for size, by_clients in results.items():
        for clients, r in by_clients.items():
            print(
                f"{size:>7}  {clients:>7}  {r['p50']:7.1f}  {r['p95']:7.1f}  {r['p99']:7.1f}  {r['rps']:8.0f}  {r['errors']:6d}"
            )
    print("target (issue 5): p95 <= 50 ms over 2,000 offices and 100,000 experts")


if __name__ == "__main__":
    main()
