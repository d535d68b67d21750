"""The cost of a request: msnet beside the bare stack it is built on, doing the same database work (issue 24).

    .venv/bin/python bench/overhead.py [--duration 10] [--connections 16] [--profile DIR] [--no-cache]
                                       [--only anonymous|token|list|search|patch …]

Builds a fresh embedded PostgreSQL in a temporary directory, loads the demo network into it (`msnet
demo --no-serve`, which prints the UN client's credentials) and adds one UN office per connection
for the writes. Serves it two ways, one process each:

- msnet: `msnet serve` (log level warning, no background jobs in the process: MSNET_WORKER=off), its
  read cache on (the reads by key and the list page are answered from it once warm, as nothing
  writes meanwhile), or off with --no-cache (MSNET_READ_CACHE_ENTRIES=0);
- bare: bench/bare_app.py under uvicorn, one worker: Litestar and an asyncpg pool, connected as the
  same service role (row-level security applies), one transaction per request opened with msnet's
  tenant statement (and, with a token, the deny-list check in the same round trip). For the reads it
  runs the statements msnet ran for the same path, captured with their parameters from an in-process
  msnet's second request, its read cache off (the counts are printed); for the PATCH it runs msnet's statements
  (checked against the captured ones) and appends the same audit entry under the same head lock. It
  verifies a token with joserfc once and remembers it until it expires, as msnet does.

and drives both alike with wrk (N connections, after 3 seconds of warm-up that are not counted):

    GET   /v1/organisations/au                  anonymous, then with a token
    GET   /v1/offices?limit=20                  token
    GET   /v1/experts?q=mediation&language=fr   token (text search and facets)
    PATCH /v1/offices/{id}                      token, If-Match: each connection its own office and
                                                the ETag of its last answer (wrk -t = -c)

For each: requests per second, p50/p95/p99, and CPU milliseconds per request of the serving Python
process and of PostgreSQL (utime + stime in /proc: the process, and the postmaster with all its
children, read before and after the measured run), and msnet's share of the bare throughput beside
the issue's targets. At the end the audit chain is verified (the bare side's entries included).

With --profile DIR it then samples msnet with py-spy (`pip install py-spy`) while wrk drives each
path again, writes the collapsed stacks to DIR (speedscope opens them) and prints where msnet's
busy time went: each sample goes to the innermost frame that names a part (logging, metrics,
authentication, the transaction at the request edge, the handler and its services, serialisation,
msnet's outer middleware, Litestar, uvicorn, the event loop), frames of SQLAlchemy, asyncpg and the
standard library counting for their caller; SQLAlchemy's greenlet, where the ORM works between two
awaits, shows no caller and is a row of its own. Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from msnet.audit.service import verify
from msnet.db.embedded import EmbeddedServer
from msnet.db.engine import plain_url
from search import free_port, node_env, wait_ready

BENCH = Path(__file__).resolve().parent
MSNET = [sys.executable, "-m", "msnet"]
UVICORN = [sys.executable, "-m", "uvicorn", "bare_app:app", "--log-level", "warning", "--no-access-log"]
PY_SPY = [
    str(Path(sys.executable).parent / "py-spy"),
    "record",
    "--rate",
    "200",
    "--format",
    "raw",
    "--full-filenames",
]
WARMUP = 3
TICK = os.sysconf("SC_CLK_TCK")
RESULT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %f %f %f %d %d %d\\n", latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
"""
READ = """
wrk.method = "GET"
wrk.path = "%(path)s"
%(auth)s
"""
#: Each thread (one connection) patches its own office with the ETag of its last answer ("*" first).
WRITE = """
local offices = {%(offices)s}
local assigned = 0
function setup(thread)
  assigned = assigned + 1
  thread:set("office", offices[assigned])
end
local etag = "*"
local size = 0
function request()
  size = size %% 50 + 1
  return wrk.format("PATCH", "/v1/offices/" .. office, {["Authorization"] = "%(token)s",
    ["Content-Type"] = "application/json", ["If-Match"] = etag}, '{"staff_size": ' .. size .. '}')
end
function response(status, headers, body)
  if status == 200 then etag = headers["etag"] or headers["ETag"] end
end
"""


@dataclass(frozen=True)
class Scenario:
    name: str  # for --only
    label: str
    path: str
    token: bool
    target: float  # msnet's share of the bare throughput, issue 24
    write: bool = False


SCENARIOS = [
    Scenario("anonymous", "read by key, anonymous", "/v1/organisations/au", False, 0.60),
    Scenario("token", "read by key, token", "/v1/organisations/au", True, 0.60),
    Scenario("list", "list page, token", "/v1/offices?limit=20", True, 0.60),
    Scenario("search", "expert search, token", "/v1/experts?q=mediation&language=fr", True, 0.75),
    Scenario("patch", "audited write (PATCH)", "/v1/offices/{id}", True, 0.50, write=True),
]


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """utime + stime of each process still there, in seconds."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):  # it ended between the listing and the reading
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return seconds


def process_tree(root: int) -> list[int]:
    """A process and its children: the postmaster's backends, walwriter, checkpointer, autovacuum …,
    or the forks of ``msnet serve`` with ``MSNET_PROCESSES``."""
    pids = [root]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        if parent == root:
            pids.append(int(stat.parent.name))
    return pids


def used(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def wrk(url: str, script: str, duration: int, connections: int, threads: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script + RESULT)
    try:
        output = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "-s", file.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(file.name)
    p50, p95, p99, requests, micros, errors = re.search(  # type: ignore[union-attr]
        r"RESULT (\S+) (\S+) (\S+) (\d+) (\d+) (\d+)", output
    ).groups()
    return {
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "requests": int(requests),
        "rps": int(requests) / (int(micros) / 1e6),
        "errors": int(errors),
    }


def script_for(scenario: Scenario, token: str, offices: list[str]) -> str:
    if scenario.write:
        return WRITE % {"offices": ", ".join(f'"{o}"' for o in offices), "token": f"Bearer {token}"}
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if scenario.token else ""
    return READ % {"path": scenario.path, "auth": auth}


def measure(
    url: str, scenario: Scenario, script: str, duration: int, connections: int, server: int, postmaster: int
) -> dict[str, float]:
    """wrk on ``url`` after a warm-up, with the CPU the server process and PostgreSQL spent meanwhile."""
    threads = connections if scenario.write else 1
    wrk(url, script, WARMUP, connections, threads)
    python, database = cpu_seconds([server]), cpu_seconds(process_tree(postmaster))
    result = wrk(url, script, duration, connections, threads)
    python_used = used(python, cpu_seconds([server]))
    database_used = used(database, cpu_seconds(process_tree(postmaster)))
    requests = max(result["requests"], 1)
    return {**result, "py_ms": python_used * 1000 / requests, "pg_ms": database_used * 1000 / requests}


def capture(
    env: dict[str, str], issuer: str, token: str, office: str
) -> dict[str, list[tuple[str, list[Any]]]]:
    """The statements msnet runs for each path once warm (the second request), with their parameters,
    from an in-process msnet: SQLAlchemy's cursor events, and asyncpg's query logger for what msnet
    runs on the driver itself (the searches). The tenant statement is left out (the bare side sends
    its own), as are BEGIN and COMMIT."""
    from litestar.testing import AsyncTestClient
    from sqlalchemy import event

    from msnet import logs
    from msnet.app import create_app
    from msnet.settings import Settings

    logs.configure("warning")
    settings = Settings(
        database_url=env["MSNET_DATABASE_URL"],
        secret_key=env["MSNET_SECRET_KEY"],
        public_url=issuer,
        worker=False,
        read_cache_entries=0,  # the statements of the handlers, which the bare side runs
    )
    app = create_app(settings)
    bearer = {"Authorization": f"Bearer {token}"}
    requests = {
        "organisation": ("GET", "/v1/organisations/au", {}, None),
        "offices": ("GET", "/v1/offices?limit=20", bearer, None),
        "experts": ("GET", "/v1/experts?q=mediation&language=fr", bearer, None),
        "patch": (
            "PATCH",
            f"/v1/offices/{office}",
            {**bearer, "If-Match": "*", "Content-Type": "application/json"},
            b'{"staff_size": %d}',  # a new value each time, so the UPDATE sets it
        ),
    }
    captured: dict[str, list[tuple[str, list[Any]]]] = {}

    async def run() -> None:
        recording: list[tuple[str, list[Any]]] | None = None
        logged: set[int] = set()

        def record(sql: str, args: Any) -> None:
            if recording is not None:
                recording.append((sql, list(args or ())))

        def log_driver(dbapi: Any, connection_record: Any, proxy: Any) -> None:
            if id(dbapi) not in logged:  # once a connection, however often it is checked out
                logged.add(id(dbapi))
                dbapi.driver_connection.add_query_logger(lambda query: record(query.query, query.args))

        async with AsyncTestClient(app, base_url="http://127.0.0.1") as client:
            # what goes through SQLAlchemy, and what msnet runs on the driver itself (msnet.search)
            engine = app.state.engine.sync_engine
            event.listen(
                engine, "before_cursor_execute", lambda c, cur, sql, args, ctx, many: record(sql, args)
            )
            event.listen(engine, "checkout", log_driver)
            for name, (method, path, headers, body) in requests.items():
                for round_ in (1, 2):
                    recording = [] if round_ == 2 else None
                    content = body % round_ if body else None
                    response = await client.request(method, path, headers=headers, content=content)
                    assert response.status_code == 200, (path, response.text)
                    if recording is not None:
                        captured[name] = [
                            (sql, args)
                            for sql, args in recording
                            if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))
                            and "set_config('msnet.org'" not in sql
                        ]

    asyncio.run(run())
    return captured


def same_statements(ours: tuple[str, ...], theirs: list[tuple[str, list[Any]]]) -> bool:
    """The same SQL, whatever the white space."""
    return [" ".join(sql.split()) for sql in ours] == [" ".join(sql.split()) for sql, _ in theirs]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--profile", type=Path, help="sample msnet with py-spy into this directory")
    parser.add_argument("--no-cache", action="store_true", help="serve msnet with its read cache off")
    parser.add_argument(
        "--only",
        choices=[scenario.name for scenario in SCENARIOS],
        action="append",
        help="measure only this path (repeatable; default all)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/overhead.py needs wrk: apt-get install wrk")
    if args.profile and not Path(PY_SPY[0]).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="msnet-bench-") as data:
        server = EmbeddedServer(Path(data) / "msnet")
        urls = server.start()
        try:
            postmaster = int((Path(data) / "msnet" / "pgdata" / "postmaster.pid").read_text().split()[0])
            results, profile = run(urls.app, urls.admin, postmaster, args)
            report = asyncio.run(verify(urls.admin))
        finally:
            server.stop()
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print_results(results, args)
    print(
        f"audit chain: {report.checked} entries, "
        + ("intact" if report.ok else f"BROKEN at {report.first_bad}: {report.reason}")
    )
    if profile:
        print_profile(profile)


def run(
    app_url: str, admin_url: str, postmaster: int, args: argparse.Namespace
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, Counter[str]]]:
    env, issuer = node_env(app_url, admin_url, **({"MSNET_READ_CACHE_ENTRIES": "0"} if args.no_cache else {}))
    print("loading the demo network …", flush=True)
    printed = subprocess.run([*MSNET, "demo", "--no-serve"], env=env, capture_output=True, text=True)
    if printed.returncode:
        raise SystemExit(f"msnet demo --no-serve failed:\n{printed.stderr}")
    creds = dict(re.findall(r"^\s+(client_id|client_secret):\s+(\S+)$", printed.stdout, re.MULTILINE))
    msnet = subprocess.Popen([*MSNET, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bare: subprocess.Popen[bytes] | None = None
    try:
        wait_ready(f"{issuer}/health/ready")
        token = httpx.post(
            f"{issuer}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], creds["client_secret"]),
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        offices = [
            httpx.post(f"{issuer}/v1/offices", json={"name": f"Bench office {n}"}, headers=bearer).json()[
                "id"
            ]
            for n in range(args.connections + 1)
        ]
        statements = capture(env, issuer, token, offices.pop())
        counts = ", ".join(f"{name} {len(run)}" for name, run in statements.items())
        print(f"statements per request after the tenant one: {counts}", flush=True)
        from bare_app import PATCH_STATEMENTS

        if not same_statements(PATCH_STATEMENTS, statements["patch"]):
            shown = "\n\n".join(sql for sql, _ in statements["patch"])
            raise SystemExit(f"msnet's PATCH runs other statements than bench/bare_app.py's:\n\n{shown}")
        bare_port = free_port()
        bare_env = {
            **env,
            "BENCH_URL": plain_url(app_url),
            "BENCH_ISSUER": issuer,
            "BENCH_JWKS": httpx.get(f"{issuer}/.well-known/jwks.json").text,
            "BENCH_STATEMENTS": base64.b64encode(pickle.dumps(statements)).decode(),
        }
        bare = subprocess.Popen(
            [*UVICORN, "--app-dir", str(BENCH), "--port", str(bare_port)],
            env=bare_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        bare_url = f"http://127.0.0.1:{bare_port}"
        wait_ready(f"{bare_url}/v1/organisations/au")
        results: dict[str, dict[str, dict[str, float]]] = {}
        scenarios = [scenario for scenario in SCENARIOS if not args.only or scenario.name in args.only]
        for scenario in scenarios:
            script = script_for(scenario, token, offices)
            results[scenario.label] = {}
            for name, url, pid in (("msnet", issuer, msnet.pid), ("bare", bare_url, bare.pid)):
                print(f"{scenario.label}: {name} …", flush=True)
                results[scenario.label][name] = measure(
                    url, scenario, script, args.duration, args.connections, pid, postmaster
                )
        profile = {}
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            for scenario in scenarios:
                print(f"profiling msnet: {scenario.label} …", flush=True)
                profile[scenario.label] = sample(
                    issuer, scenario, script_for(scenario, token, offices), args, msnet.pid
                )
        return results, profile
    finally:
        for process in (msnet, bare):
            if process is not None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)


def sample(url: str, scenario: Scenario, script: str, args: argparse.Namespace, pid: int) -> Counter[str]:
    """py-spy's collapsed stacks of msnet while wrk drives ``scenario``, by part."""
    out = args.profile / (re.sub(r"\W+", "-", scenario.label).strip("-") + ".txt")
    threads = args.connections if scenario.write else 1
    spy = subprocess.Popen(
        [*PY_SPY, "--pid", str(pid), "--duration", str(args.duration), "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    wrk(url, script, args.duration, args.connections, threads)
    spy.wait(timeout=60)
    return parts_of(out)


def parts_of(stacks: Path) -> Counter[str]:
    """py-spy's samples (collapsed stacks) by part of msnet, and how many had SQLAlchemy on the stack."""
    parts: Counter[str] = Counter()
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        parts[part_of(frames)] += int(count)
        if any("/sqlalchemy/" in frame for frame in frames):
            parts[IN_SQLALCHEMY] += int(count)
    return parts


#: The loop's own frames, with nothing of a request's above them: its work, and the callbacks it runs in C
#: (the sockets, asyncpg's protocol reading rows).
LOOP = "event loop and its C callbacks (sockets, asyncpg)"
#: Where a frame's file is, and the part of a request it belongs to; the innermost named frame wins.
PARTS = (
    ("/structlog/", "logging"),
    ("/logging/", "logging"),
    ("/msnet/logs.py", "logging"),
    ("/prometheus_client/", "metrics"),
    ("/joserfc/", "authentication"),
    ("/msnet/auth/middleware.py", "authentication"),
    ("/msnet/auth/service.py", "authentication"),
    ("/msnet/auth/principal.py", "authentication"),
    ("/msnet/auth/transaction.py", "transaction at the edge (begin, tenant, commit)"),
    ("/msnet/db/engine.py", "transaction at the edge (begin, tenant, commit)"),
    ("/litestar/response/", "serialisation"),
    ("/litestar/serialization/", "serialisation"),
    ("/msnet/middleware.py", "msnet outer middleware (request id, deadline, access log)"),
    ("/msnet/app.py", "msnet before_request check"),
    ("/msnet/", "handler and services (with their SQLAlchemy and asyncpg)"),
    ("/litestar/", "Litestar (routing, DI, parameters)"),
    ("/asyncio/base_events.py", LOOP),
    ("/asyncio/events.py", LOOP),
    ("/asyncio/runners.py", LOOP),
    ("/uvicorn/", "uvicorn (HTTP parsing, ASGI)"),
    ("/h11/", "uvicorn (HTTP parsing, ASGI)"),
    ("/httptools/", "uvicorn (HTTP parsing, ASGI)"),
)


#: Not a part: the samples with SQLAlchemy anywhere on the stack, whichever part they went to.
IN_SQLALCHEMY = "(any part) SQLAlchemy on the stack"


def part_of(frames: list[str]) -> str:
    """The innermost frame's part; SQLAlchemy's own greenlet (the ORM's work between two awaits) does
    not show who called it."""
    for frame in reversed(frames):
        for where, part in PARTS:
            if where in frame:
                return part
    if any("/sqlalchemy/" in frame for frame in frames):
        return "SQLAlchemy in its greenlet (caller not on the stack)"
    return "other"


def print_results(results: dict[str, dict[str, dict[str, float]]], args: argparse.Namespace) -> None:
    print(f"\n{args.connections} connections, {args.duration} s each after {WARMUP} s of warm-up")
    print(
        f"{'':24} {'server':>6} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'py ms/req':>9} {'pg ms/req':>9} {'errors':>6}"
    )
    for label, by_server in results.items():
        for name, r in by_server.items():
            print(
                f"{label:24} {name:>6} {r['rps']:8.0f} {r['p50']:7.1f} {r['p95']:7.1f} {r['p99']:7.1f} "
                f"{r['py_ms']:9.2f} {r['pg_ms']:9.2f} {r['errors']:6d}"
            )
    print("\nmsnet's share of the bare throughput")
    for scenario in SCENARIOS:
        if scenario.label not in results:
            continue
        by_server = results[scenario.label]
        share = by_server["msnet"]["rps"] / by_server["bare"]["rps"]
        verdict = "met" if share >= scenario.target else "NOT met"
        print(f"{scenario.label:24} {share:6.0%}  (target >= {scenario.target:.0%}: {verdict})")


def samples(parts: Counter[str]) -> int:
    return sum(count for part, count in parts.items() if part != IN_SQLALCHEMY)


def print_profile(profile: dict[str, Counter[str]]) -> None:
    print("\nwhere msnet's busy time goes (py-spy samples, % of each path's)")
    total = sum(profile.values(), Counter())
    parts = [*sorted(total.keys() - {IN_SQLALCHEMY}, key=lambda part: -total[part]), IN_SQLALCHEMY]
    labels = list(profile)
    print(f"{'':58}" + "".join(f"{n + 1:>7}" for n in range(len(labels))))
    for part in parts:
        print(
            f"{part:58}"
            + "".join(
                f"{profile[label][part] * 100 / max(samples(profile[label]), 1):6.1f}%" for label in labels
            )
        )
    print(f"{'samples':58}" + "".join(f"{samples(profile[label]):7d}" for label in labels))
    for n, label in enumerate(labels, 1):
        print(f"  {n}: {label}")


if __name__ == "__main__":
    main()
