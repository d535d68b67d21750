"""`msnet serve` on the embedded PostgreSQL: starts, keeps data across restarts, stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from tests.conftest import free_port
from tests.helpers import run_cli


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSNET_")}
    env.update(MSNET_DATA_DIR=str(data_dir), MSNET_PORT=str(port), MSNET_LOG_FORMAT="json")
    return env


def _start(command: str, env: dict[str, str], *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "msnet", command, *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_ready(process: subprocess.Popen, base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"msnet exited early: {process.communicate()[1]}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("msnet did not become ready")


def _read_until(process: subprocess.Popen, marker: str) -> str:
    """What the process printed up to and including the line that starts with ``marker``."""
    lines = []
    for line in process.stdout:  # type: ignore[union-attr]
        lines.append(line)
        if line.startswith(marker):
            return "".join(lines)
    raise AssertionError(f"msnet never printed {marker!r}: {''.join(lines)}")


def _postgres_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    return psutil.pid_exists(int(pid_file.read_text().split()[0]))


def _stop(process: subprocess.Popen, sig: int) -> tuple[str, str]:
    process.send_signal(sig)
    try:
        return process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        for fork in psutil.Process(process.pid).children():
            fork.kill()
        process.kill()
        process.communicate()
        raise


def test_serve_keeps_data_across_restarts_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "msnet-data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(data_dir, port)

    first = _start("serve", env)
    try:
        _wait_ready(first, base)
        created = run_cli(None, "org", "create", "asean", "--name", "ASEAN", env=env)
        assert created.returncode == 0, created.stderr
        assert httpx.get(f"{base}/v1/organisations/asean").status_code == 200
    finally:
        _, errors = _stop(first, signal.SIGINT)
    assert first.returncode == 0, errors
    assert not _postgres_running(data_dir / "pgdata")

    second = _start("demo", env)
    try:
        printed = _read_until(second, "Try:")
        _wait_ready(second, base)
        assert httpx.get(f"{base}/v1/organisations/asean").json()["name"] == "ASEAN"
        assert httpx.get(f"{base}/v1/organisations").json()["total"] == 11
        credentials = dict(re.findall(r"^\s+(client_id|client_secret):\s+(\S+)$", printed, re.MULTILINE))
        token = httpx.post(
            f"{base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials["client_id"], credentials["client_secret"]),
        ).json()["access_token"]
        clients = httpx.get(
            f"{base}/v1/organisations/un/clients", headers={"Authorization": f"Bearer {token}"}
        )
        assert clients.json()["items"][0]["client_id"] == credentials["client_id"]
    finally:
        _, errors = _stop(second, signal.SIGTERM)
    assert second.returncode == 0, errors
    assert printed.startswith("msnet demo: 10 organisations (10 new)")
    assert not _postgres_running(data_dir / "pgdata")


def test_serve_with_several_processes(tmp_path: Path) -> None:
    data_dir = tmp_path / "msnet-data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(data_dir, port)

    def forks(process: subprocess.Popen) -> list[psutil.Process]:
        return [p for p in psutil.Process(process.pid).children() if "msnet" in " ".join(p.cmdline())]

    first = _start("serve", env, "--processes", "2")
    try:
        _wait_ready(first, base)
        serving = forks(first)
        assert len(serving) == 2
        assert all(httpx.get(f"{base}/v1/organisations").status_code == 200 for _ in range(20))
    finally:
        _, errors = _stop(first, signal.SIGTERM)
    assert first.returncode == 0, errors
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in serving)
    assert not _postgres_running(data_dir / "pgdata")

    second = _start("serve", env, "--processes", "2")
    try:
        _wait_ready(second, base)
        failed, other = forks(second)
        failed.kill()
        _, errors = second.communicate(timeout=30)
    finally:
        if second.poll() is None:
            _stop(second, signal.SIGTERM)
    assert second.returncode == 1
    assert f"serving process {failed.pid} ended" in errors
    assert not other.is_running()
    assert not _postgres_running(data_dir / "pgdata")

    # Started in a shell's background, with SIGINT ignored: Ctrl-C (to this process alone) still stops it.
    third = subprocess.Popen(
        [sys.executable, "-m", "msnet", "serve", "--processes", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        _wait_ready(third, base)
    finally:
        _, errors = _stop(third, signal.SIGINT)
    assert third.returncode == 0, errors
    assert not _postgres_running(data_dir / "pgdata")
