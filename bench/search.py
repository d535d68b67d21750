"""Expert search at scale: p95 latency and throughput, against the same SQL served bare.

    .venv/bin/python bench/search.py [--sizes 10000 100000] [--duration 15] [--concurrency 8] [--processes 1]
                                     [--search experts|offices|capacities]

For each size it builds a fresh embedded database (50 organisations, 2,000 offices, N experts,
realistic term distributions, mostly `network`, some `private` and `restricted`), serves msnet
(`msnet serve`, logs at warning), takes a token from /oauth/token, and drives the search

    GET /v1/experts?q=<word>&language=fr&theme=<theme>&region=africa   (text, three filters, facets)

with wrk (8 connections, a Lua script reports p50/p95/p99 over different query words; 3 seconds of
warm-up are not counted). In the same run it serves the very statements msnet executes for that
request once warm (captured from SQLAlchemy, with their parameters) through a minimal ASGI endpoint
on a bare asyncpg pool: the ceiling. Targets
(issue 4): p95 <= 30 ms at 8 clients on 2 cores; msnet >= 50 % of the ceiling's throughput; p95 at
100,000 experts within 1.5x of p95 at 10,000. With --processes N, msnet serves with N processes
(MSNET_PROCESSES) and the ceiling with N uvicorn workers. With --search offices (or capacities) it
adds three capacities per office and drives

    GET /v1/offices?q=<word>&language=fr&region=africa   (text, two capacity filters, facets)

the same way (no target: the office and capacity searches share the expert search's machinery).
Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from msnet.auth.keys import new_secret_key
from msnet.db import migrate
from msnet.db.embedded import EmbeddedServer
from msnet.taxonomy import service as taxonomy

WORDS = [
    "mediation",
    "ceasefire",
    "dialogue",
    "constitution",
    "negotiation",
    "inclusion",
    "security",
    "elections",
]
LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["%s"] = "%s"})
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%f %%f %%f %%d %%d %%d\\n", latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, summary.requests,
    summary.duration, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
"""
WARMUP = 3
#: Each search's path (without q) and the scope it needs.
SEARCHES = {
    "experts": ("/v1/experts?language=fr&theme=ceasefire_security&region=africa&limit=20", "roster:read"),
    "offices": ("/v1/offices?language=fr&region=africa&limit=20", "directory:read"),
    "capacities": ("/v1/capacities?language=fr&region=africa&limit=20", "directory:read"),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def load(admin_url: str, experts: int) -> None:
    """Synthetic data, generated in the database (as the owner, row-level security lifted)."""
    themes = sorted(taxonomy.theme_ids())
    services = sorted(taxonomy.service_type_ids())
    countries = sorted(
        taxonomy.countries_in("africa") | taxonomy.countries_in("europe") | taxonomy.countries_in("americas")
    )
    conn = await asyncpg.connect(admin_url)
    try:
        for table in ("offices", "experts"):
            await conn.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        await conn.execute(
            """
            INSERT INTO organisations (id, slug, name, kind, origin)
            SELECT gen_random_uuid(), 'org' || n, 'Organisation ' || n, 'regional', 'bench'
            FROM generate_series(1, 50) n
            """
        )
        await conn.execute(
            """
            INSERT INTO offices (id, organisation_id, name, mandate, sharing, origin)
            SELECT gen_random_uuid(), o.id, 'Mediation support unit ' || n,
                   (ARRAY['Supports envoys in negotiation and ceasefire talks',
                          'Dialogue and inclusion of women and youth in peace processes',
                          'Electoral violence prevention and early warning',
                          'Constitution making and power-sharing advice',
                          'Security arrangements and ceasefire monitoring',
                          'Appui à la médiation et au dialogue national'])[1 + n % 6],
                   'network', 'bench'
            FROM generate_series(1, 2000) n
            JOIN (SELECT id, row_number() OVER () - 1 AS k FROM organisations) o ON o.k = n % 50
            """
        )
        await conn.execute(
            """
            WITH orgs AS (SELECT array_agg(id) AS ids FROM organisations)
            INSERT INTO experts (id, organisation_id, name, bio, seniority, themes, service_types,
                                 language_codes, nationalities, experience, regions, available,
                                 sharing, share_with, origin)
            SELECT gen_random_uuid(),
                   orgs.ids[1 + n % 50],
                   'Expert ' || n,
                   (ARRAY['Former mediator and negotiation adviser', 'Constitution making and dialogue',
                          'Ceasefire and security arrangements', 'Gender and inclusion in peace processes',
                          'Electoral violence prevention', 'Médiation locale et dialogue intercommunautaire'])[1 + n % 6]
                     || ' ' || ($1::text[])[1 + (n * 7) % array_length($1::text[], 1)],
                   (ARRAY['junior', 'mid', 'senior', 'eminent'])[1 + n % 4],
                   ARRAY[($1::text[])[1 + n % array_length($1::text[], 1)],
                         ($1::text[])[1 + (n + 1 + (n / 3) % (array_length($1::text[], 1) - 1))
                                          % array_length($1::text[], 1)]],
                   ARRAY[($2::text[])[1 + n % array_length($2::text[], 1)]],
                   CASE n % 5 WHEN 0 THEN ARRAY['fr', 'en'] WHEN 1 THEN ARRAY['en', 'ar'] WHEN 2 THEN ARRAY['es', 'en']
                        WHEN 3 THEN ARRAY['fr', 'ar'] ELSE ARRAY['ru', 'en'] END,
                   ARRAY[($3::text[])[1 + n % array_length($3::text[], 1)]],
                   ARRAY[($3::text[])[1 + (n / 2) % array_length($3::text[], 1)]],
                   CASE n % 3 WHEN 0 THEN ARRAY['africa', 'sub_saharan_africa'] WHEN 1 THEN ARRAY['europe']
                        ELSE ARRAY['americas'] END,
                   datemultirange(daterange('2027-01-01'::date + (n % 90), '2027-06-30'::date + (n % 90), '[]')),
                   CASE WHEN n % 10 = 0 THEN 'private' WHEN n % 17 = 0 THEN 'restricted' ELSE 'network' END,
                   CASE WHEN n % 17 = 0 THEN ARRAY[orgs.ids[1 + (n + 1) % 50]] ELSE '{}' END,
                   'bench'
            FROM generate_series(1, $4) n, orgs
            """,
            themes,
            services,
            countries,
            experts,
        )
        for table in ("offices", "experts"):
            await conn.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def add_capacities(admin_url: str) -> None:
    services = sorted(taxonomy.service_type_ids())
    themes = sorted(taxonomy.theme_ids())
    countries = sorted(taxonomy.countries_in("africa"))
    conn = await asyncpg.connect(admin_url)
    try:
        for table in ("offices", "capacities"):
            await conn.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        await conn.execute(
            """
            INSERT INTO capacities (id, organisation_id, office_id, service_type, themes, countries, regions,
                                    languages, lead_time_days, concurrent_engagements, notes, sharing, origin)
            SELECT gen_random_uuid(), o.organisation_id, o.id,
                   ($1::text[])[1 + (k + o.n) % array_length($1::text[], 1)],
                   ARRAY[($2::text[])[1 + (k * 7 + o.n) % array_length($2::text[], 1)],
                         ($2::text[])[1 + (k * 3 + o.n) % array_length($2::text[], 1)]],
                   ARRAY[($3::text[])[1 + (k + o.n) % array_length($3::text[], 1)]],
                   CASE o.n % 3 WHEN 0 THEN ARRAY['africa', 'western_africa'] WHEN 1 THEN ARRAY['europe']
                        ELSE ARRAY['americas'] END,
                   CASE o.n % 2 WHEN 0 THEN ARRAY['fr', 'en'] ELSE ARRAY['en'] END,
                   (o.n % 6) * 7, 1 + o.n % 3,
                   (ARRAY['Mediation process design for ceasefire talks', 'Dialogue facilitation and inclusion',
                          'Electoral violence prevention and early warning', 'Negotiation coaching for envoys',
                          'Constitution making and security sector advice'])[1 + (k + o.n) % 5],
                   'network', 'bench'
            FROM (SELECT id, organisation_id, row_number() OVER () AS n FROM offices) o, generate_series(1, 3) k
            """,
            services,
            themes,
            countries,
        )
        for table in ("offices", "capacities"):
            await conn.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def wrk(
    url: str,
    headers: str,
    duration: int,
    concurrency: int,
    paths: list[str],
    header: str = "Authorization",
    cpu: Callable[[], dict[str, float]] | None = None,
) -> dict[str, float]:
    """Drive GET ``paths`` (in turn), ``header: headers`` on each, with ``concurrency`` connections for ``duration`` seconds, after
    ``WARMUP`` seconds of the same that are not counted (a server is measured in its steady state:
    connections open, statements prepared, caches filled). ``cpu``: the CPU seconds spent so far by
    each part measured (the server's process, PostgreSQL…); the result then has each part's
    milliseconds per request of the counted seconds."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % (", ".join(f'"{p}"' for p in paths), header, headers))
    try:
        out = ""
        spent: dict[str, float] = {}
        for seconds in (WARMUP, duration):
            spent = cpu() if cpu else {}
            out = subprocess.run(
                ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "-s", script.name, url],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
    finally:
        os.unlink(script.name)
    p50, p95, p99, requests, micros, errors = re.search(
        r"RESULT (\S+) (\S+) (\S+) (\d+) (\d+) (\d+)", out
    ).groups()  # type: ignore[union-attr]
    after = cpu() if cpu else {}
    return {
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "rps": int(requests) / (int(micros) / 1e6),
        "errors": int(errors),
        **{f"{part} ms": (after[part] - spent[part]) * 1000 / int(requests) for part in after},
    }


CEILING = """
import base64, json, os, pickle, asyncpg
STATEMENTS = pickle.loads(base64.b64decode(os.environ["BENCH_STATEMENTS"]))  # parameters keep their types
pool = None
async def app(scope, receive, send):
    global pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                pool = await asyncpg.create_pool(os.environ["BENCH_URL"], min_size=8, max_size=8)
                await send({"type": "lifespan.startup.complete"})
            else:
                await pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
    async with pool.acquire() as conn, conn.transaction():
        results = []
        for sql, params in STATEMENTS:
            params = [query.get("q", p) if p == "__Q__" else p for p in params]
            results.append([list(r) for r in await conn.fetch(sql, *params)])
    body = json.dumps(results, default=str).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--processes", type=int, default=1, help="msnet processes, ceiling workers")
    parser.add_argument("--search", choices=sorted(SEARCHES), default="experts")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/search.py needs wrk: apt-get install wrk")
    results: dict[int, dict[str, dict[str, float]]] = {}
    for size in args.sizes:
        results[size] = run_size(size, args.duration, args.concurrency, args.processes, args.search)
    print(f"\n{args.search}: GET {SEARCHES[args.search][0]}&q=<word>")
    print("experts   server   p50 ms   p95 ms   p99 ms     req/s  errors")
    for size, by_server in results.items():
        for name, r in by_server.items():
            print(
                f"{size:>7}  {name:>7}  {r['p50']:7.1f}  {r['p95']:7.1f}  {r['p99']:7.1f}  {r['rps']:8.0f}  {r['errors']:6d}"
            )
    for size, by_server in results.items():
        share = by_server["msnet"]["rps"] / by_server["ceiling"]["rps"]
        print(
            f"{size} experts: msnet p95 {by_server['msnet']['p95']:.1f} ms (target <= 30), "
            f"{share:.0%} of the ceiling's throughput (target >= 50%)"
        )
    if len(results) > 1:
        small, large = min(results), max(results)
        growth = {
            name: results[large][name]["p95"] / results[small][name]["p95"] for name in ("msnet", "ceiling")
        }
        print(
            f"p95 growth from {small} to {large} experts: {growth['msnet']:.2f}x (target <= 1.5x); "
            f"the ceiling's own: {growth['ceiling']:.2f}x"
        )


def run_size(
    size: int, duration: int, concurrency: int, processes: int, search: str = "experts"
) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="msnet-bench-") as data:
        server = EmbeddedServer(Path(data) / "msnet")
        urls = server.start()
        try:
            migrate.upgrade(urls.admin, urls.app)
            print(f"loading {size} experts …", flush=True)
            started = time.perf_counter()
            asyncio.run(load(urls.admin, size))
            if search != "experts":
                asyncio.run(add_capacities(urls.admin))
            print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
            return measure(urls.app, urls.admin, duration, concurrency, processes, search)
        finally:
            server.stop()


def node_env(app_url: str, admin_url: str, **extra: str) -> tuple[dict[str, str], str]:
    """The environment to run msnet on this database on a free port (no worker, warnings only),
    and the node's issuer URL."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSNET_")}
    env.update(
        MSNET_DATABASE_URL=app_url,
        MSNET_DATABASE_ADMIN_URL=admin_url,
        MSNET_SECRET_KEY=new_secret_key(),
        MSNET_PUBLIC_URL=issuer,
        MSNET_PORT=str(port),
        MSNET_LOG_LEVEL="warning",
        MSNET_WORKER="off",
        **extra,
    )
    return env, issuer


def serve_env(app_url: str, admin_url: str, scopes: list[str]) -> tuple[dict[str, str], dict[str, Any], str]:
    """The environment to run msnet on this database, and a client of org1 holding ``scopes``."""
    env, issuer = node_env(app_url, admin_url, MSNET_DB_POOL_SIZE="8")
    subprocess.run(  # the first command makes the node's signing key
        [sys.executable, "-m", "msnet", "org", "create", "bench", "--name", "Bench org"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "msnet",
            "client",
            "create",
            "--org",
            "org1",
            "--name",
            "bench",
            "--scopes",
            " ".join(scopes),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return env, json.loads(made.stdout), issuer


def measure(
    app_url: str, admin_url: str, duration: int, concurrency: int, processes: int = 1, search: str = "experts"
) -> dict[str, dict[str, float]]:
    path, scope = SEARCHES[search]
    paths = [f"{path}&q={word}" for word in WORDS]
    env, client, issuer = serve_env(app_url, admin_url, [scope])
    env["MSNET_PROCESSES"] = str(processes)
    secret = env["MSNET_SECRET_KEY"]
    ceiling_port = free_port()
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
        statements = capture(app_url, secret, issuer, token, path)
        results = {"msnet": wrk(issuer, f"Bearer {token}", duration, concurrency, paths)}
    finally:
        msnet.send_signal(signal.SIGINT)
        msnet.wait(timeout=30)
    ceiling_env = {
        **os.environ,
        "BENCH_STATEMENTS": base64.b64encode(pickle.dumps(statements)).decode(),
        "BENCH_URL": app_url.replace("postgresql+asyncpg", "postgresql"),
    }
    with tempfile.TemporaryDirectory() as code:
        (Path(code) / "ceiling.py").write_text(CEILING)
        ceiling = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "ceiling:app",
                "--port",
                str(ceiling_port),
                "--log-level",
                "warning",
                "--workers",
                str(processes),
            ],
            env=ceiling_env,
            cwd=code,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(f"http://127.0.0.1:{ceiling_port}/")
            results["ceiling"] = wrk(f"http://127.0.0.1:{ceiling_port}", "none", duration, concurrency, paths)
        finally:
            ceiling.send_signal(signal.SIGINT)
            ceiling.wait(timeout=30)
    return results


def capture(app_url: str, secret: str, issuer: str, token: str, path: str) -> list[tuple[str, list[Any]]]:
    """Run the search at ``path`` in-process, the second time with its statements recorded (what msnet runs once
    warm: organisation slugs, say, are read once), whether through SQLAlchemy or on the driver; q
    becomes a marker."""
    from litestar.testing import AsyncTestClient
    from sqlalchemy import event

    from msnet.app import create_app
    from msnet.settings import Settings

    captured: list[tuple[str, list[Any]]] = []
    app = create_app(Settings(database_url=app_url, secret_key=secret, public_url=issuer, worker=False))

    async def run() -> None:
        async with AsyncTestClient(app, base_url="http://127.0.0.1") as client:
            warm = await client.get(f"{path}&q=mediation", headers={"Authorization": f"Bearer {token}"})
            assert warm.status_code == 200, warm.text

            def grab(statement: str, parameters: Any) -> None:
                captured.append((statement, ["__Q__" if p == "mediation" else p for p in (parameters or ())]))

            engine = app.state.engine.sync_engine
            # what goes through SQLAlchemy, and what msnet runs on the driver itself (msnet.search)
            event.listen(engine, "before_cursor_execute", lambda c, cur, s, p, ctx, many: grab(s, p))
            logged: set[int] = set()

            def log_driver(dbapi: Any, record: Any, proxy: Any) -> None:
                if id(dbapi) not in logged:  # once a connection, however often it is checked out
                    logged.add(id(dbapi))
                    dbapi.driver_connection.add_query_logger(lambda query: grab(query.query, query.args))

            event.listen(engine, "checkout", log_driver)

            response = await client.get(f"{path}&q=mediation", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text

    asyncio.run(run())
    return [(s, p) for s, p in captured if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]


def wait_ready(url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


if __name__ == "__main__":
    main()
