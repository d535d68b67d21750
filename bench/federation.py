"""Federation: how soon what one node writes is held by its peers, and how fast a new peer catches up.

    .venv/bin/python bench/federation.py [--superuser-url postgresql://postgres@127.0.0.1:5432/postgres]
                                         [--rate 20] [--duration 30] [--records 100000]
    .venv/bin/python bench/federation.py --catch-up 100000    (the catch-up alone: nodes A, D and E)
    .venv/bin/python bench/federation.py --requests 100 [--rate 2]   (requests across nodes alone)
    .venv/bin/python bench/federation.py --overlaps 30 [--rate 1] [--gap 1]   (overlaps across nodes alone)

Three nodes A, B and C (`msnet serve`, its worker on, logs at warning) on this machine, each on a
database of its own on the PostgreSQL server at --superuser-url (created afresh: msnet_fedbench_a,
_b, _c, and _d and _e for the new peers), each with an organisation of its own, peered with each other as
their operators would (`msnet node fingerprint`, `msnet peer add URL --fingerprint F`).

1. Propagation: a steady --rate writes a second on node A for --duration seconds (POST /v1/experts,
   network-shared) once every node has pulled its peers, each timed from its 201 (its commit) to
   the moment node B, and node C, hold it
   (its row in federation_replicas, polled every 20 ms): p50, p95 and the slowest, per peer.
   Target (issue 20): p95 <= 2 s.
2. Catch-up: B and C stopped; --records network-shared experts inserted on A in SQL (through the
   change log's trigger, as the API's writes are); a new node D peers with A; from D's `peer add`
   until D holds every one of them (each item's signature verified, as always). Target: >= 2,000
   records a second. Then a second new node E likewise: A signed each item once, as D first read
   it, and serves that signature again (as it would when its other peers pulled the records as they
   were written). `--catch-up N` measures this alone, with N records and nodes A, D and E only.
3. Requests across nodes (`--requests N`, alone, nodes A and B): a process and an office of A's, an
   office of B's, all network-shared and held by the other node; then N requests of A's organisation
   to B's office, submitted at a steady --rate, each timed from its submission's 200 (its commit) to
   its first appearance in B's organisation's `GET /v1/inbox` on node B (polled every 50 ms).
   Target (issue 21): p95 <= 2 s.
4. Overlaps across nodes (`--overlaps N`, alone, nodes A, B and C): N processes homed on A (their
   coordinator) and an office of A's, held by B and C; then, at a steady --rate, for each process a
   request of B's organisation submitted on B and, --gap seconds later, an overlapping one of C's on
   C (both to A's office); each timed from the second submission's 200 to the moment the case is in
   `GET /v1/overlaps` of both B's organisation on B and C's on C (each polled every 50 ms).
   Target (issue 21): p95 <= 3 s.

The load average is printed with each figure: other processes share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import asyncpg
import httpx

from msnet.auth.keys import new_secret_key
from msnet.db import migrate
from msnet.db.embedded import bootstrap, with_database

NODES = "abc"
OWNER, APP = "msnet_fedbench_owner", "msnet_fedbench_app"
POLL = 0.02
API_POLL = 0.05  # seconds between two looks at an API list (a request each, unlike a replica's row)
SCOPES = "directory:read directory:write requests:read requests:write"
THEMES = ["ceasefire_security", "constitution_making", "gender_inclusion", "local_mediation"]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclass
class Node:
    name: str
    superuser_url: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def database(self) -> str:
        return f"msnet_fedbench_{self.name}"

    @property
    def slug(self) -> str:
        return f"org-{self.name}"

    @property
    def url(self) -> str:
        return self.env["MSNET_PUBLIC_URL"]

    @property
    def direct(self) -> str:
        """The superuser's URL of its database (row-level security does not apply)."""
        return with_database(self.superuser_url, self.database)

    def create(self) -> None:
        async def fresh() -> tuple[str, str]:
            conn = await asyncpg.connect(self.superuser_url)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            finally:
                await conn.close()
            urls = await bootstrap(self.superuser_url, self.database, OWNER, APP)
            return urls.app, urls.admin

        app_url, admin_url = asyncio.run(fresh())
        migrate.upgrade(admin_url, app_url)
        port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MSNET_")}
        self.env.update(
            MSNET_DATABASE_URL=app_url,
            MSNET_DATABASE_ADMIN_URL=admin_url,
            MSNET_SECRET_KEY=new_secret_key(),
            MSNET_PUBLIC_URL=f"http://127.0.0.1:{port}",
            MSNET_PORT=str(port),
            MSNET_LOG_LEVEL="warning",
            MSNET_REQUEST_BURST_LIMIT="10000",  # one client submits every request of the bench's steady rate
        )
        self.msnet("org", "create", self.slug, "--name", f"Organisation {self.name.upper()}")

    def msnet(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "msnet", *args], env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"msnet {' '.join(args)} on {self.name}: {done.stderr.strip()}")
        return done.stdout

    def serve(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "msnet", "serve"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=sys.stderr,
        )

    def wait_ready(self) -> None:
        for _ in range(1200):
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process is not None and self.process.poll() is not None:
                raise SystemExit(f"node {self.name} stopped ({self.process.returncode})")
            time.sleep(0.1)
        raise SystemExit(f"node {self.name} did not come up")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(60)


def peer(nodes: list[Node]) -> None:
    """Each with every other, as their operators would."""
    fingerprints = {n.name: n.msnet("node", "fingerprint").strip() for n in nodes}
    for node in nodes:
        for other in nodes:
            if other is not node:
                node.msnet("peer", "add", other.url, "--fingerprint", fingerprints[other.name])


async def synced(nodes: list[Node]) -> None:
    """Until every node has pulled each of its peers without a failure since (the first pulls,
    while the peers were still being added, were refused and backed off)."""
    for node in nodes:
        conn = await asyncpg.connect(node.direct)
        try:
            for _ in range(1200):
                unsynced = await conn.fetchval(
                    "SELECT count(*) FROM peers WHERE last_sync_at IS NULL OR failures > 0 "
                    "OR last_error_at > last_sync_at"
                )
                if not unsynced:
                    break
                await asyncio.sleep(0.1)
            else:
                raise SystemExit(f"node {node.name} never pulled its peers")
        finally:
            await conn.close()


def token(node: Node, scopes: str = "roster:write") -> str:
    client = json.loads(
        node.msnet("client", "create", "--org", node.slug, "--name", "bench", "--scopes", scopes)
    )
    answer = httpx.post(
        f"{node.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def expert(n: int) -> dict[str, object]:
    return {
        "name": f"Bench expert {n}",
        "bio": "Mediation adviser, written by bench/federation.py",
        "expertise": [{"kind": "theme", "term": THEMES[n % len(THEMES)], "level": "expert"}],
        "languages": [{"code": "fr"}, {"code": "en"}],
        "sharing": "network",
    }


async def propagation(
    origin: Node, peers: list[Node], rate: float, duration: float
) -> dict[str, list[float]]:
    """Seconds from each write's 201 on ``origin`` to its row on each of ``peers``; a write never
    seen within 60 s after the last counts as missing (not in the list)."""
    bearer = {"Authorization": f"Bearer {token(origin)}"}
    committed: dict[uuid.UUID, float] = {}
    seen: dict[str, dict[uuid.UUID, float]] = {p.name: {} for p in peers}
    failures: list[str] = []
    writing = True

    async def write(http: httpx.AsyncClient, n: int) -> None:
        answer = await http.post("/v1/experts", json=expert(n), headers=bearer)
        if answer.status_code != 201:
            failures.append(f"{answer.status_code} {answer.text[:200]}")
            return
        committed[uuid.UUID(answer.json()["id"])] = time.monotonic()

    async def watch(node: Node) -> None:
        conn = await asyncpg.connect(node.direct)
        try:
            mine = seen[node.name]
            while writing or len(mine) < len(committed):
                pending = [i for i in committed if i not in mine]
                if pending:
                    rows = await conn.fetch(
                        "SELECT record_id FROM federation_replicas WHERE record_id = ANY($1::uuid[])", pending
                    )
                    now = time.monotonic()
                    for row in rows:
                        mine[row["record_id"]] = now
                await asyncio.sleep(POLL)
        finally:
            await conn.close()

    async with httpx.AsyncClient(base_url=origin.url, timeout=30) as http:
        watchers = [asyncio.create_task(watch(p)) for p in peers]
        writes = []
        started = time.monotonic()
        for n in range(int(rate * duration)):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            writes.append(asyncio.create_task(write(http, n)))
        await asyncio.gather(*writes)
        print(
            f"  {len(committed)} writes in {time.monotonic() - started:.1f} s, {len(failures)} failed",
            flush=True,
        )
        for failure in failures[:3]:
            print(f"    {failure}")
        writing = False
        try:
            await asyncio.wait_for(asyncio.gather(*watchers), 60)
        except TimeoutError:
            print("  some writes not seen within 60 s", flush=True)
    return {name: [at - committed[i] for i, at in by_id.items()] for name, by_id in seen.items()}


def client(node: Node) -> httpx.AsyncClient:
    """An API client of ``node``'s organisation, with the directory's and the requests' scopes."""
    return httpx.AsyncClient(
        base_url=node.url, timeout=30, headers={"Authorization": f"Bearer {token(node, SCOPES)}"}
    )


async def api(
    http: httpx.AsyncClient, method: str, path: str, status: int = 200, body: object = None
) -> dict:
    answer = await http.request(method, path, json=body)
    if answer.status_code != status:
        raise SystemExit(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
    return answer.json()


async def held(node: Node, table: str, ids: list[str]) -> None:
    """Until ``node`` holds the records ``ids`` of ``table`` (pulled from their home node)."""
    conn = await asyncpg.connect(node.direct)
    try:
        for _ in range(1200):
            count = await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE id = ANY($1::uuid[])",  # noqa: S608 (a table name of this file's)
                ids,
            )
            if count == len(ids):
                return
            await asyncio.sleep(0.1)
        raise SystemExit(f"node {node.name} never held {table} {ids}")
    finally:
        await conn.close()


def request(process_id: str, office_id: str, addressee: str, n: int) -> dict[str, object]:
    start = datetime.date.today() + datetime.timedelta(days=30)
    return {
        "process_id": process_id,
        "office_id": office_id,
        "title": f"Bench request {n}",
        "description": "Written by bench/federation.py",
        "service_types": ["process_design"],
        "themes": ["ceasefire_security"],
        "period": {"start": start.isoformat(), "end": (start + datetime.timedelta(days=60)).isoformat()},
        "languages": ["fr"],
        "mandate": {"type": "regional_council_decision", "reference": "PSC/PR/COMM.1234"},
        "addressees": [addressee],
    }


async def submitted(http: httpx.AsyncClient, body: dict[str, object]) -> tuple[str, float]:
    """A draft made of ``body`` and submitted: its id and the moment its submission was answered."""
    draft = await api(http, "POST", "/v1/requests", 201, body)
    await api(http, "POST", f"/v1/requests/{draft['id']}/submit")
    return draft["id"], time.monotonic()


async def first_seen(
    http: httpx.AsyncClient, path: str, key: str, found: dict[str, float], done: asyncio.Event
) -> None:
    """``found``: when each item's ``key`` (an id, or the id of a nested object: ``process.id``) first
    appeared on the first page of ``path``, until ``done`` is set."""
    while not done.is_set():
        page = await api(http, "GET", path)
        now = time.monotonic()
        for item in page["items"]:
            value = item
            for part in key.split("."):
                value = value[part]
            found.setdefault(value, now)
        await asyncio.sleep(API_POLL)


async def until_all(found: list[dict[str, float]], ids: list[str], seconds: float = 60) -> None:
    """Until every one of ``found`` has every id, or ``seconds`` have passed."""
    for _ in range(int(seconds / API_POLL)):
        if all(all(i in f for i in ids) for f in found):
            return
        await asyncio.sleep(API_POLL)


async def requests_across(a: Node, b: Node, rate: float, count: int) -> tuple[list[float], int]:
    """Seconds from each submission on ``a`` to the request in ``b``'s inbox; and how many never
    arrived (within 60 s of the last submission)."""
    async with client(a) as on_a, client(b) as on_b:
        process = await api(
            on_a,
            "POST",
            "/v1/processes",
            201,
            {"name": "Bench process", "countries": ["CF"], "sharing": "network"},
        )
        office_a = await api(on_a, "POST", "/v1/offices", 201, {"name": "A MSU", "sharing": "network"})
        office_b = await api(on_b, "POST", "/v1/offices", 201, {"name": "B MSU", "sharing": "network"})
        await held(a, "offices", [office_b["id"]])
        await held(b, "offices", [office_a["id"]])
        await held(b, "processes", [process["id"]])
        print(f"  process and offices held by both; submitting (load average {load()})", flush=True)
        found: dict[str, float] = {}
        done = asyncio.Event()
        watcher = asyncio.create_task(first_seen(on_b, "/v1/inbox?limit=200", "id", found, done))
        started = time.monotonic()
        asks = []
        for n in range(count):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            body = request(process["id"], office_a["id"], office_b["id"], n)
            asks.append(asyncio.create_task(submitted(on_a, body)))
        sent = dict(await asyncio.gather(*asks))
        await until_all([found], list(sent))
        done.set()
        await watcher
    delays = [max(0.0, found[i] - at) for i, at in sent.items() if i in found]
    return delays, len(sent) - len(delays)


async def overlaps_across(
    a: Node, b: Node, c: Node, rate: float, count: int, gap: float
) -> tuple[list[float], int]:
    """Seconds from each second overlapping submission (on ``c``) to the case in the overlaps of both
    parties (``b``'s organisation on ``b``, ``c``'s on ``c``); and how many cases never showed on both."""
    async with client(a) as on_a, client(b) as on_b, client(c) as on_c:
        office = await api(on_a, "POST", "/v1/offices", 201, {"name": "A MSU", "sharing": "network"})
        offices = {
            node.name: (await api(http, "POST", "/v1/offices", 201, {"name": f"{node.name.upper()} MSU"}))[
                "id"
            ]
            for node, http in ((b, on_b), (c, on_c))
        }
        processes = [
            (
                await api(
                    on_a,
                    "POST",
                    "/v1/processes",
                    201,
                    {"name": f"Bench process {n}", "countries": ["CF"], "sharing": "network"},
                )
            )["id"]
            for n in range(count)
        ]
        for node in (b, c):
            await held(node, "offices", [office["id"]])
            await held(node, "processes", processes)
        print(
            f"  {count} processes and A's office held by B and C; submitting (load average {load()})",
            flush=True,
        )
        seen: dict[str, dict[str, float]] = {b.name: {}, c.name: {}}
        done = asyncio.Event()
        watchers = [
            asyncio.create_task(
                first_seen(http, "/v1/overlaps?limit=200", "process.id", seen[node.name], done)
            )
            for node, http in ((b, on_b), (c, on_c))
        ]

        async def pair(n: int, process_id: str) -> tuple[str, float]:
            await submitted(on_b, request(process_id, offices[b.name], office["id"], n))
            await asyncio.sleep(gap)
            _, second = await submitted(on_c, request(process_id, offices[c.name], office["id"], n))
            return process_id, second

        started = time.monotonic()
        pairs = []
        for n, process_id in enumerate(processes):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            pairs.append(asyncio.create_task(pair(n, process_id)))
        second = dict(await asyncio.gather(*pairs))
        await until_all(list(seen.values()), list(second))
        done.set()
        await asyncio.gather(*watchers)
    delays = [
        max(0.0, max(seen[b.name][p], seen[c.name][p]) - at)
        for p, at in second.items()
        if p in seen[b.name] and p in seen[c.name]
    ]
    return delays, len(second) - len(delays)


def report(label: str, delays: list[float], missing: int, target: float) -> None:
    if not delays:
        print(f"  {label}: none arrived ({missing} missing)")
        return
    print(
        f"  {label}: {len(delays)} measured, {missing} missing; p50 {percentile(delays, 50):.2f} s, "
        f"p95 {percentile(delays, 95):.2f} s, slowest {max(delays):.2f} s (target p95 <= {target:g} s); "
        f"load average {load()}",
        flush=True,
    )


async def seed(origin: Node, records: int) -> None:
    """``records`` network-shared experts of the origin's organisation, in SQL (the change log's
    trigger records each, as for the API's writes)."""
    conn = await asyncpg.connect(origin.direct)
    try:
        org = await conn.fetchval("SELECT id FROM organisations WHERE slug = $1", origin.slug)
        await conn.execute(
            """
            INSERT INTO experts (id, organisation_id, name, bio, seniority, themes, language_codes,
                                 languages, sharing, share_with, origin)
            SELECT gen_random_uuid(), $1, 'Seeded expert ' || n, 'Mediation adviser, seeded by bench/federation.py',
                   (ARRAY['junior', 'mid', 'senior', 'eminent'])[1 + n % 4],
                   ARRAY[($2::text[])[1 + n % array_length($2::text[], 1)]],
                   ARRAY['fr', 'en'], '[{"code": "fr"}, {"code": "en"}]'::jsonb,
                   'network', '{}', $3
            FROM generate_series(1, $4) n
            """,
            org,
            THEMES,
            origin.url,
            records,
        )
    finally:
        await conn.close()


async def catch_up(origin: Node, new: Node) -> tuple[float, float, int, int]:
    """Seconds from the new node's `peer add` (once it returned) until it holds every expert of
    ``origin``, and from its first to its last; how many it holds and how many there are."""
    conn = await asyncpg.connect(origin.direct)
    try:
        expected = await conn.fetchval("SELECT count(*) FROM experts WHERE origin = $1", origin.url)
    finally:
        await conn.close()
    conn = await asyncpg.connect(new.direct)
    try:
        fingerprint = origin.msnet("node", "fingerprint").strip()
        origin.msnet("peer", "add", new.url, "--fingerprint", new.msnet("node", "fingerprint").strip())
        new.msnet("peer", "add", origin.url, "--fingerprint", fingerprint)
        started, first, held = time.monotonic(), None, 0
        while held < expected and time.monotonic() - started < 1800:
            await asyncio.sleep(0.2)
            held = await conn.fetchval(
                "SELECT count(*) FROM federation_replicas WHERE kind = 'expert' AND origin = $1", origin.url
            )
            if held and first is None:
                first = time.monotonic()
        done = time.monotonic()
        return done - started, done - (first or started), held, expected
    finally:
        await conn.close()


def percentile(values: list[float], p: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]
    )


def measure_catch_up(a: Node, new: Node, second: Node, records: int) -> None:
    """``records`` experts seeded on ``a``, then the new node ``new`` started, peered, and timed
    (every item signed as it is first read); then ``second`` likewise (every item signed already)."""
    print(f"catch-up: seeding {records} experts on A …", flush=True)
    started = time.monotonic()
    asyncio.run(seed(a, records))
    print(
        f"  seeded in {time.monotonic() - started:.0f} s; starting node D (load average {load()})",
        flush=True,
    )
    for node, signed in ((new, "none signed yet: A signs each item as D first reads it"), (second, "")):
        if node is second:
            print(
                "  then a second new peer, E: A's items are signed already (as when its other peers "
                "pulled the records as they were written)",
                flush=True,
            )
        node.create()
        node.serve()
        node.wait_ready()
        seconds, steady, held, expected = asyncio.run(catch_up(a, node))
        name = node.name.upper()
        print(
            f"  {name} holds {held}/{expected} of A's experts {seconds:.1f} s after its `peer add`: "
            f"{held / seconds:,.0f} records a second (target >= 2,000); {held / steady:,.0f} a second from "
            f"the first to the last{'; ' + signed if signed else ''}; load average {load()}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--superuser-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rate", type=float, default=20, help="writes a second on node A")
    parser.add_argument("--duration", type=float, default=30, help="seconds of writing")
    parser.add_argument("--records", type=int, default=100_000, help="records the new peer catches up")
    parser.add_argument(
        "--catch-up", type=int, metavar="N", help="measure only the catch-up of N records (nodes A and D)"
    )
    parser.add_argument(
        "--requests", type=int, metavar="N", help="measure only N requests from A to B's inbox (at --rate)"
    )
    parser.add_argument(
        "--overlaps", type=int, metavar="N", help="measure only N overlaps between B and C (at --rate)"
    )
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between an overlap's two submissions")
    args = parser.parse_args()

    nodes = [Node(name, args.superuser_url) for name in NODES]
    new = Node("d", args.superuser_url)
    second = Node("e", args.superuser_url)
    if args.catch_up is not None:
        nodes = nodes[:1]
    elif args.requests is not None:
        nodes = nodes[:2]
    try:
        if args.requests is not None or args.overlaps is not None:
            print(
                f"setting up nodes {', '.join(n.name.upper() for n in nodes)} (load average {load()})",
                flush=True,
            )
            for node in nodes:
                node.create()
                node.serve()
            for node in nodes:
                node.wait_ready()
            peer(nodes)
            asyncio.run(synced(nodes))
            if args.requests is not None:
                print(
                    f"requests across nodes: {args.requests} from A to B at {args.rate:g} a second",
                    flush=True,
                )
                delays, missing = asyncio.run(requests_across(nodes[0], nodes[1], args.rate, args.requests))
                report("A submits -> in B's /v1/inbox", delays, missing, 2)
            else:
                print(
                    f"overlaps across nodes: {args.overlaps} pairs (B, then C {args.gap:g} s later) at "
                    f"{args.rate:g} a second, coordinated by A",
                    flush=True,
                )
                delays, missing = asyncio.run(overlaps_across(*nodes, args.rate, args.overlaps, args.gap))
                report("second submission -> case in both parties' /v1/overlaps", delays, missing, 3)
            return
        if args.catch_up is not None:
            print(f"setting up node A (load average {load()})", flush=True)
            nodes[0].create()
            nodes[0].serve()
            nodes[0].wait_ready()
            measure_catch_up(nodes[0], new, second, args.catch_up)
            return
        print(f"setting up nodes A, B, C (load average {load()})", flush=True)
        for node in nodes:
            node.create()
            node.serve()
        for node in nodes:
            node.wait_ready()
        peer(nodes)
        asyncio.run(synced(nodes))
        a, others = nodes[0], nodes[1:]
        print(
            f"propagation: {args.rate:g} writes a second on A for {args.duration:g} s (load average {load()})"
        )
        delays = asyncio.run(propagation(a, others, args.rate, args.duration))
        written = int(args.rate * args.duration)
        for name, values in delays.items():
            if not values:
                print(f"  {name.upper()}: nothing arrived")
                continue
            print(
                f"  A -> {name.upper()}: {len(values)}/{written} arrived; p50 {percentile(values, 50):.2f} s, "
                f"p95 {percentile(values, 95):.2f} s, slowest {max(values):.2f} s (target p95 <= 2 s)"
            )
        print(f"  load average after: {load()}", flush=True)

        for node in others:
            node.stop()
        measure_catch_up(a, new, second, args.records)
    finally:
        for node in [*nodes, new, second]:
            node.stop()


if __name__ == "__main__":
    main()
