"""Overlap detection at scale: the check's own time in the database, p50/p95, at each size.

    .venv/bin/python bench/overlaps.py [--sizes 10000 1000000] [--probes 300] [--per-process 50]

For each size it builds a fresh embedded database, loads (as the owner, row-level security lifted)
50 organisations with an office each, N / per-process processes (a registry grows by processes: the
requests on one process stay a few dozen) and N requests across them (every state of
the lifecycle, periods spread over four years, one or two service types and themes each), then, as
the service role acting for the requesting organisation, runs ``msnet_overlap_detect`` for
``--probes`` submitted requests, each in a transaction rolled back afterwards (so a match opens a
case every time, the most work the check does), and a bare ``SELECT 1`` for the round trip.
Targets (issue 6): p95 <= 10 ms at 1,000,000 requests; growth from 10,000 to 1,000,000 <= 1.5x.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from msnet.db import migrate
from msnet.db.embedded import EmbeddedServer
from msnet.taxonomy import service as taxonomy

TABLES = ("organisations", "offices", "processes", "requests")


async def load(admin_url: str, size: int, processes: int) -> None:
    services = sorted(taxonomy.service_type_ids())
    themes = sorted(taxonomy.theme_ids())
    conn = await asyncpg.connect(admin_url)
    try:
        for table in TABLES[1:]:
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
            INSERT INTO offices (id, organisation_id, name, sharing, origin)
            SELECT gen_random_uuid(), id, 'Mediation support unit', 'network', 'bench' FROM organisations
            """
        )
        await conn.execute(
            """
            INSERT INTO processes (id, organisation_id, name, level, track, phase, sharing, origin)
            SELECT gen_random_uuid(), o.ids[1 + n % 50], 'Process ' || n, 'national', '1', 'negotiation',
                   'network', 'bench'
            FROM generate_series(1, $1) n, (SELECT array_agg(id ORDER BY id) AS ids FROM organisations) o
            """,
            processes,
        )
        await conn.execute(
            """
            WITH o AS (SELECT array_agg(organisation_id ORDER BY organisation_id) AS orgs,
                              array_agg(id ORDER BY organisation_id) AS offices FROM offices),
                 p AS (SELECT array_agg(id ORDER BY id) AS ids FROM processes)
            INSERT INTO requests (id, organisation_id, office_id, process_id, title, service_types, themes,
                                  period_start, period_end, urgency, mandate_type, route,
                                  addressee_offices, addressee_orgs, state, sharing, origin)
            SELECT gen_random_uuid(), o.orgs[1 + n % 50], o.offices[1 + n % 50], p.ids[1 + (n / 7) % $4],
                   'Request ' || n,
                   ARRAY[($1::text[])[1 + n % array_length($1::text[], 1)],
                         ($1::text[])[1 + (n / 11) % array_length($1::text[], 1)]],
                   ARRAY[($2::text[])[1 + n % array_length($2::text[], 1)]],
                   '2025-01-01'::date + (n * 37) % 1400, '2025-01-01'::date + (n * 37) % 1400 + 30 + n % 120,
                   'routine', 'other', 'named',
                   ARRAY[o.offices[1 + (n + 1) % 50]], ARRAY[o.orgs[1 + (n + 1) % 50]],
                   (ARRAY['submitted', 'received', 'accepted', 'in-progress', 'on-hold', 'completed',
                          'cancelled', 'draft', 'completed', 'completed'])[1 + n % 10],
                   'private', 'bench'
            FROM generate_series(1, $3) n, o, p
            """,
            services,
            themes,
            size,
            processes,
        )
        for table in TABLES[1:]:
            await conn.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def probe(admin_url: str, app_url: str, probes: int) -> dict[str, float]:
    owner = await asyncpg.connect(admin_url)
    try:
        picked = await owner.fetch(
            "SELECT id, organisation_id FROM requests WHERE state = 'submitted' ORDER BY md5(id::text) LIMIT $1",
            probes,
        )
    finally:
        await owner.close()
    conn = await asyncpg.connect(app_url)
    check, trip, matched = [], [], 0
    try:
        for row in picked:
            for timings, statement in (
                (check, "SELECT * FROM msnet_overlap_detect($1, $2)"),
                (trip, "SELECT 1"),
            ):
                transaction = conn.transaction()
                await transaction.start()
                await conn.execute("SELECT set_config('msnet.org', $1, true)", str(row["organisation_id"]))
                started = time.perf_counter()
                if statement == "SELECT 1":
                    await conn.fetch(statement)
                else:
                    matched += bool(await conn.fetch(statement, row["id"], uuid.uuid4()))
                timings.append((time.perf_counter() - started) * 1000)
                await transaction.rollback()
    finally:
        await conn.close()

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[18]

    return {
        "p50": statistics.median(check),
        "p95": p95(check),
        "trip_p95": p95(trip),
        "matched": matched / len(picked),
    }


def run_size(size: int, probes: int, per_process: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="msnet-bench-") as data:
        server = EmbeddedServer(Path(data) / "msnet")
        urls = server.start()
        try:
            migrate.upgrade(urls.admin, urls.app)
            print(f"loading {size} requests …", flush=True)
            started = time.perf_counter()
            asyncio.run(load(urls.admin, size, max(1, size // per_process)))
            print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
            return asyncio.run(probe(urls.admin, urls.app, probes))
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument("--per-process", type=int, default=50, help="requests per process")
    args = parser.parse_args()
    results = {size: run_size(size, args.probes, args.per_process) for size in args.sizes}
    print("\nrequests   check p50 ms   check p95 ms   round trip p95 ms   probes that matched")
    for size, r in results.items():
        print(
            f"{size:>8}   {r['p50']:12.2f}   {r['p95']:12.2f}   {r['trip_p95']:17.2f}   {r['matched']:19.0%}"
        )
    if len(results) > 1:
        small, large = min(results), max(results)
        growth = results[large]["p95"] / results[small]["p95"]
        print(f"check p95 at {large}: {results[large]['p95']:.2f} ms (target <= 10)")
        print(f"p95 growth from {small} to {large} requests: {growth:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
