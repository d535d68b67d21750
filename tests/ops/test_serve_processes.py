"""`msnet serve --processes 2`: whichever process answers /metrics counts the requests every process
answered, exactly, and the pool's gauges are summed over both; the metrics directory is removed."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from msnet.settings import Settings
from tests.conftest import free_port
from tests.helpers import cli_env

ROUTE = "/v1/organisations"


def _answered_by(directory: Path, pid: int) -> float:
    """The requests to ROUTE that process ``pid`` counted, from its own file."""
    files = [str(f) for f in directory.glob(f"counter_{pid}.db")]
    return sum(
        s.value
        for family in MultiProcessCollector.merge(files)
        for s in family.samples
        if s.name == "msnet_http_requests_total" and s.labels["route"] == ROUTE
    )


def _scrape(base: str) -> dict[tuple[str, str | None], float]:
    text = httpx.get(f"{base}/metrics").text
    return {
        (s.name, s.labels.get("route") or s.labels.get("pool")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels.get("status", "200") == "200"
    }


def test_counters_are_exact_over_serving_processes(settings: Settings) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = cli_env(settings, MSNET_PORT=str(port), MSNET_WORKER="off")
    server = subprocess.Popen(
        [sys.executable, "-m", "msnet", "serve", "--processes", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _ready(base):
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "msnet did not become ready"
            time.sleep(0.1)
        forks = psutil.Process(server.pid).children()
        assert len(forks) == 2
        # the directory msnet made for their metrics: where one of them counted the readiness checks
        (directory,) = {
            d
            for d in Path(tempfile.gettempdir()).glob("msnet-metrics-*")
            for fork in forks
            if any(d.glob(f"*_{fork.pid}.db"))
        }
        # requests on connections of their own, until each process has answered some
        sent = 0
        while not all(_answered_by(directory, fork.pid) for fork in forks):
            assert time.monotonic() < deadline, "one process answered every request"
            for _ in range(10):
                assert httpx.get(f"{base}{ROUTE}").status_code == 200
                sent += 1
        for _ in range(4):  # whichever process answers the scrape
            samples = _scrape(base)
            assert samples[("msnet_http_requests_total", ROUTE)] == sent
            assert samples[("msnet_http_request_duration_seconds_count", ROUTE)] == sent
            assert samples[("msnet_db_pool_size", "primary")] == 2 * settings.db_pool_size
            assert samples[("msnet_ready", None)] == 1
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors
    assert not directory.exists()


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
