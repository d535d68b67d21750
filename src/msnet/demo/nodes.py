"""``msnet demo --nodes N``: a federated demo network on one machine. N ``msnet demo`` processes on
consecutive ports, each with its own embedded database in ``MSNET_DATA_DIR/node-PORT`` and its own
demo organisations (the UN's node, the AU's, the EU's, …: :func:`split`), peered with each other as
``msnet peer add`` does (each node's fingerprint read from its own database), supervised until
SIGINT or SIGTERM stops them all. Each node runs its own demo OpenID Connect provider."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from msnet.auth.keys import ensure_secret_key, load_key_ring
from msnet.db.engine import make_engine, make_sessionmaker
from msnet.db.runtime import cli_session, database
from msnet.demo import base
from msnet.errors import SettingsError, StartupError
from msnet.federation import service
from msnet.federation.node import fingerprint
from msnet.settings import Settings

#: Who has a node of their own, in order: with N nodes, the first N.
LEADERS = ("un", "au", "eu", "igad", "osce", "oas", "eac", "eccas", "oic", "commonwealth")
#: Where an organisation without a node of its own is homed, if that one has a node (else the UN's).
NEAR = {"eac": "au", "eccas": "au", "igad": "au", "osce": "eu"}
READY_SECONDS = 600.0
STOP_SECONDS = 60.0


def split(n: int) -> list[list[str]]:
    """The demo organisations homed on each of ``n`` nodes, its leader first: each on exactly one."""
    if not 1 <= n <= len(LEADERS):
        raise SettingsError(f"--nodes: between 1 and {len(LEADERS)}, not {n}")
    homes = {leader: [leader] for leader in LEADERS[:n]}
    for slug in base.homed(None):
        if slug not in homes:
            homes[NEAR[slug] if NEAR.get(slug) in homes else "un"].append(slug)
    return [[leader, *sorted(homes[leader][1:])] for leader in LEADERS[:n]]


@dataclass(frozen=True)
class Node:
    url: str
    organisations: list[str]
    data_dir: Path
    env: dict[str, str]  # of its process, and of an `msnet peer status` for it

    @property
    def log(self) -> Path:
        return self.data_dir / "msnet.log"

    def settings(self) -> Settings:
        return ensure_secret_key(Settings.from_env(self.env))


def plan(settings: Settings, n: int, environ: Mapping[str, str]) -> list[Node]:
    """The ``n`` nodes: ports from ``settings.port`` on, data directories under its data directory."""
    if not settings.embedded:
        raise SettingsError(
            "msnet demo --nodes: each node runs its own embedded database; unset MSNET_DATABASE_URL"
        )
    nodes = []
    for i, organisations in enumerate(split(n)):
        port = settings.port + i
        url = f"http://{settings.host}:{port}"
        data_dir = settings.data_dir / f"node-{port}"
        env = {
            **environ,
            "MSNET_HOST": settings.host,
            "MSNET_PORT": str(port),
            "MSNET_PUBLIC_URL": url,
            "MSNET_DATA_DIR": str(data_dir),
            "MSNET_PROCESSES": "1",
        }
        nodes.append(Node(url, organisations, data_dir, env))
    return nodes


def _start(node: Node) -> subprocess.Popen[bytes]:
    node.data_dir.mkdir(parents=True, exist_ok=True)
    with node.log.open("ab") as log:
        return subprocess.Popen(  # noqa: S603 (this very program)
            [sys.executable, "-m", "msnet", "demo", "--organisations", ",".join(node.organisations)],
            env=node.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this process alone, which stops each node once
        )


def _wait_ready(nodes: list[Node], processes: list[subprocess.Popen[bytes]]) -> None:
    waiting = dict(zip((n.url for n in nodes), zip(nodes, processes, strict=True), strict=True))
    deadline = time.monotonic() + READY_SECONDS
    with httpx.Client(timeout=2) as http:
        while waiting:
            for url, (node, process) in list(waiting.items()):
                if process.poll() is not None:
                    raise StartupError(
                        f"the node {url} stopped (exit {process.returncode}); its log: {node.log}"
                    )
                try:
                    if http.get(f"{url}/health/ready").status_code == 200:
                        del waiting[url]
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                raise StartupError(f"not ready after {READY_SECONDS:.0f} s: {', '.join(waiting)}")
            time.sleep(0.5)


async def _fingerprint(ready: Settings) -> str:
    engine = make_engine(ready.database_url, pool_size=1)  # type: ignore[arg-type]
    try:
        key_ring = await load_key_ring(make_sessionmaker(engine), ready)
    finally:
        await engine.dispose()
    return fingerprint(key_ring.signing.as_dict(private=False))


async def _add_peers(ready: Settings, peers: list[tuple[str, str]]) -> None:
    async with cli_session(ready.database_url) as session:  # type: ignore[arg-type]
        for url, key in peers:
            await service.add_peer(session, url, key, ready.issuer)


def peer(nodes: list[Node]) -> None:
    """Each node peered with every other, with the fingerprint read from the other's database (its
    embedded server is shared with the node's process while this runs)."""
    fingerprints = {}
    for node in nodes:
        with database(node.settings()) as ready:
            fingerprints[node.url] = asyncio.run(_fingerprint(ready))
    for node in nodes:
        with database(node.settings()) as ready:
            asyncio.run(_add_peers(ready, [(n.url, fingerprints[n.url]) for n in nodes if n is not node]))


def what_to_try(nodes: list[Node]) -> str:
    first = nodes[0]
    read = (
        "python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))[sys.argv[2]]; "
        'print(c["client_id"] + ":" + c["client_secret"])\''
    )
    by_origin = (
        "python3 -c 'import collections,json,sys; "
        'print(dict(collections.Counter(i["origin"] for i in json.load(sys.stdin)["items"])))\''
    )
    status = " ".join(f"{k}={first.env[k]}" for k in ("MSNET_DATA_DIR", "MSNET_PUBLIC_URL"))
    return "\n".join(
        [
            f"msnet demo: {len(nodes)} nodes, each peered with the others",
            *(f"  {n.url}  {', '.join(n.organisations)}  (data: {n.data_dir}, log: {n.log})" for n in nodes),
            "",
            "Try (within seconds, each node holds what the others share with the network, with its origin):",
            f'  TOKEN=$(curl -s -u "$({read} {first.data_dir}/demo-credentials.json {first.organisations[0]})" '
            f"-d grant_type=client_credentials {first.url}/oauth/token "
            "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
            *(
                f'  curl -s -H "Authorization: Bearer $TOKEN" "{first.url}/v1/{resource}?organisation='
                f'{n.organisations[0]}&limit=100" | {by_origin}   # from {n.url}'
                for n in nodes[1:]
                for resource in ("experts", "offices")
            ),
            f"  curl -s {first.url}/.well-known/msnet-node   # its signed node document",
            f"  Ask across nodes: POST {first.url}/v1/requests naming an office listed above from "
            f"{nodes[1].url} as addressee (the process and requesting office shared with the network), then "
            f"POST /v1/requests/ID/submit; within seconds it is in {nodes[1].organisations[0]}'s "
            f"{nodes[1].url}/v1/inbox, and its offer or decline comes back to /v1/requests/ID/responses",
            f"  {status} msnet peer status   # each peer's last sync, lag and last error",
            "  (each node's demo clients are in its data directory's demo-credentials.json; "
            "every node has the environment above with its own port)",
            "",
            "Ctrl-C stops every node.",
        ]
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> int:
    """SIGINT to each node still running (as Ctrl-C: also while it loads, its embedded server is
    stopped), then wait; the first non-zero exit, or 0."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return next((p.returncode for p in processes if p.returncode not in (0, -signal.SIGINT)), 0)


class _Stop(BaseException):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def run(settings: Settings, n: int) -> int:
    """Start, peer and supervise the ``n`` nodes until SIGINT or SIGTERM (or one stops by itself);
    the exit status."""
    nodes = plan(settings, n, os.environ)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for node in nodes:
            processes.append(_start(node))
        print(f"msnet demo: starting {n} nodes (logs in {settings.data_dir}/node-*/msnet.log)", flush=True)
        _wait_ready(nodes, processes)
        peer(nodes)
        print(what_to_try(nodes), flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        stopped = next(node for node, p in zip(nodes, processes, strict=True) if p.poll() is not None)
        print(
            f"msnet demo: the node {stopped.url} stopped; stopping the others (its log: {stopped.log})",
            file=sys.stderr,
        )
        _stop(processes)
        return 1
    except _Stop:
        print("msnet demo: stopping every node", flush=True)
        return _stop(processes)
    except BaseException:
        _stop(processes)
        raise
