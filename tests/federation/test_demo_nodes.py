"""``msnet demo --nodes 3`` as someone trying msnet runs it: three nodes on consecutive ports, each
with its own embedded database and demo organisations, peered; what one shares with the network
is found on the others with its origin; Ctrl-C stops them all."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import free_port

NODES = 3
UP_WITHIN = 300.0  # three embedded servers initialised, migrated and loaded on a busy 2-core machine
SHARED_WITHIN = 60.0


def _consecutive_ports(n: int) -> int:
    """The first of ``n`` consecutive free loopback ports."""
    while True:
        first = free_port()
        try:
            for port in range(first + 1, first + n):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first


def _until(check: Callable[[], bool], within: float, failure: Callable[[], str]) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(failure())
        time.sleep(0.1)


def _homed(url: str) -> set[str]:
    """The organisations a node's signed node document says are homed there."""
    payload = httpx.get(f"{url}/.well-known/msnet-node", timeout=10).json()["payload"]  # JWS, JSON form
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return {o["slug"] for o in document["organisations"]}


def _token(credentials: Path, slug: str, url: str) -> str:
    client = json.loads(credentials.read_text())[slug]
    answer = httpx.post(
        f"{url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def _origins(url: str, token: str, resource: str, organisation: str) -> set[str]:
    answer = httpx.get(
        f"{url}/v1/{resource}",
        params={"organisation": organisation, "limit": 100},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return {item["origin"] for item in answer.json()["items"]}


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_three_peered_nodes_share_with_their_origin_and_stop_on_ctrl_c(tmp_path: Path) -> None:
    first = _consecutive_ports(NODES)
    urls = [f"http://127.0.0.1:{first + i}" for i in range(NODES)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSNET_")}
    env.update(MSNET_DATA_DIR=str(tmp_path), MSNET_LOG_FORMAT="json", MSNET_LOG_LEVEL="warning")
    output = tmp_path / "demo.out"
    with output.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "msnet", "demo", "--nodes", str(NODES), "--port", str(first)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def logs() -> str:
        nodes = "".join(
            f"\n--- {log}\n{log.read_text(errors='replace')[-3000:]}"
            for log in sorted(tmp_path.glob("node-*/msnet.log"))
        )
        return output.read_text(errors="replace") + nodes

    try:
        _until(
            lambda: demo.poll() is not None or "Ctrl-C stops every node" in output.read_text(),
            UP_WITHIN,
            lambda: f"the nodes were not up and peered:\n{logs()}",
        )
        assert demo.poll() is None, logs()
        printed = output.read_text()
        assert f"{urls[0]}/v1/experts" in printed
        assert "msnet peer status" in printed

        homes = [_homed(url) for url in urls]
        assert "un" in homes[0]
        assert "au" in homes[1]
        assert "eu" in homes[2]
        assert sum(len(h) for h in homes) == len(set().union(*homes)) == 10  # each on exactly one

        credentials = tmp_path / f"node-{first}" / "demo-credentials.json"
        assert set(json.loads(credentials.read_text())) == homes[0]  # clients of its own only
        token = _token(credentials, "un", urls[0])

        def shared() -> bool:
            return all(
                _origins(urls[0], token, resource, slug) == {urls[i]}
                for i, slug in ((1, "au"), (2, "eu"))
                for resource in ("experts", "offices")
            )

        _until(shared, SHARED_WITHIN, lambda: f"AU's and EU's records not on the UN's node:\n{logs()}")
        assert _origins(urls[0], token, "experts", "un") == {urls[0]}
        # and the other way: the AU's node holds the UN's records, from the UN's node
        au_token = _token(tmp_path / f"node-{first + 1}" / "demo-credentials.json", "au", urls[1])
        _until(
            lambda: _origins(urls[1], au_token, "experts", "un") == {urls[0]},
            SHARED_WITHIN,
            lambda: f"the UN's experts not on the AU's node:\n{logs()}",
        )
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
        code = demo.wait(120)

    assert code == 0, logs()
    assert not any(_listening(first + i) for i in range(NODES))
    assert not list(tmp_path.glob("node-*/pgdata/postmaster.pid")), "an embedded server still runs"
