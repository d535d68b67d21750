"""Requests per second of an authenticated GET against the same route unauthenticated.

    .venv/bin/python bench/auth_overhead.py [--duration 10] [--concurrency 16]

Uses wrk as the load generator when it is on PATH (`apt-get install wrk`), else httpx.

Starts `msnet serve` on a fresh embedded database in a temporary directory (log level warning),
loads the demo network (`msnet demo --no-serve`, which prints a client's credentials), takes a
token from /oauth/token, and drives `GET /v1/organisations/au` (a public record, so it answers
with or without a token) from a pool of keep-alive connections: alternately without and with
`Authorization: Bearer …`, two rounds each, after a warm-up. With a token the request also pays
for signature verification (cached per token), the principal, and the deny-list check in its
transaction. Target (issue 3): authenticated >= 80 % of unauthenticated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

MSNET = [sys.executable, "-m", "msnet"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def drive_wrk(base: str, headers: dict[str, str], duration: float, concurrency: int) -> tuple[float, int]:
    """The same measurement with wrk (a C load generator), when it is installed."""
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{round(duration)}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, f"{base}/v1/organisations/au"], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rps, int(errors.group(1)) if errors else 0


async def _drive_python(
    base: str, headers: dict[str, str], duration: float, concurrency: int
) -> tuple[float, int]:
    done = errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=10) as client:
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                response = await client.get("/v1/organisations/au")
                if response.status_code == 200:
                    done += 1
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started), errors


def drive_python(base: str, headers: dict[str, str], duration: float, concurrency: int) -> tuple[float, int]:
    """Requests per second over ``duration`` seconds from ``concurrency`` httpx workers; and the errors.
    httpx is much slower than the server: this measures mostly the client (use wrk)."""
    return asyncio.run(_drive_python(base, headers, duration, concurrency))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent connections (default 16)")
    args = parser.parse_args()
    drive = drive_wrk if shutil.which("wrk") else drive_python
    print(f"load generator: {'wrk' if drive is drive_wrk else 'httpx (install wrk for real figures)'}")

    with tempfile.TemporaryDirectory(prefix="msnet-bench-") as data:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MSNET_")}
        env.update(MSNET_DATA_DIR=str(Path(data) / "msnet"), MSNET_PORT=str(port), MSNET_LOG_LEVEL="warning")
        print("loading the demo network …", flush=True)
        printed = subprocess.run(
            [*MSNET, "demo", "--no-serve"], env=env, capture_output=True, text=True, check=True
        )
        creds = dict(re.findall(r"^\s+(client_id|client_secret):\s+(\S+)$", printed.stdout, re.MULTILINE))
        server = subprocess.Popen(
            [*MSNET, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            token = httpx.post(
                f"{base}/oauth/token",
                data={"grant_type": "client_credentials", "scope": "directory:read"},
                auth=(creds["client_id"], creds["client_secret"]),
            ).json()["access_token"]
            authenticated = {"Authorization": f"Bearer {token}"}
            print(f"warming up ({args.concurrency} connections) …", flush=True)
            drive(base, {}, 2, args.concurrency)
            drive(base, authenticated, 2, args.concurrency)
            results: dict[str, list[float]] = {"unauthenticated": [], "authenticated": []}
            for round_ in (1, 2):
                for label, headers in (("unauthenticated", {}), ("authenticated", authenticated)):
                    rps, errors = drive(base, headers, args.duration, args.concurrency)
                    results[label].append(rps)
                    print(f"round {round_} {label:>15}: {rps:8.0f} req/s ({errors} errors)", flush=True)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    unauth = sum(results["unauthenticated"]) / 2
    auth = sum(results["authenticated"]) / 2
    ratio = auth / unauth
    print(
        f"\nGET /v1/organisations/au, {args.concurrency} connections, {args.duration:.0f} s x 2 rounds each"
    )
    print(f"unauthenticated {unauth:8.0f} req/s")
    print(f"authenticated   {auth:8.0f} req/s")
    print(f"ratio           {ratio:8.1%}  (target >= 80%: {'met' if ratio >= 0.8 else 'NOT met'})")


if __name__ == "__main__":
    main()
