"""msnet as an operator runs it: ``msnet serve`` and ``msnet worker`` in processes of their own, started,
stopped, killed and started again by the fault tests."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from msnet.settings import Settings
from tests.conftest import free_port
from tests.helpers import cli_env

#: Timeouts short enough to see within a test, in seconds, as msnet reads them from its environment.
SHORT_TIMEOUTS = {
    "MSNET_DB_CONNECT_TIMEOUT": "2",
    "MSNET_DB_POOL_TIMEOUT": "1",
    "MSNET_DB_STATEMENT_TIMEOUT": "2",
    "MSNET_DB_LOCK_TIMEOUT": "1",
    "MSNET_REQUEST_TIMEOUT": "4",
}


class Process:
    """``msnet COMMAND`` in a process of its own, its output in a file of ``logs``."""

    def __init__(self, settings: Settings, command: str, logs: Path, **env: str) -> None:
        self.command = command
        self.env = cli_env(settings, **env)
        self.logs = logs
        self.started = 0
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.started += 1
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{self.command}-{id(self)}-{self.started}.log").open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "msnet", self.command], env=self.env, stdout=out, stderr=out
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def output(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.logs.glob(f"*-{id(self)}-*.log")))

    def stop(self) -> int:
        """SIGTERM, as an orchestrator stops it: it finishes what it is doing, then exits."""
        return self._end(signal.SIGTERM)

    def kill(self) -> int:
        """SIGKILL: it ends where it is, as a crash or an out-of-memory kill ends it."""
        return self._end(signal.SIGKILL)

    def _end(self, signum: int) -> int:
        assert self.popen is not None
        if self.popen.poll() is None:
            self.popen.send_signal(signum)
        code = self.popen.wait(timeout=60)
        self.popen = None
        return code

    def close(self) -> None:
        if self.popen is not None:
            self.kill()


class Server(Process):
    """``msnet serve`` on a port of its own."""

    def __init__(self, settings: Settings, logs: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__(settings, "serve", logs, MSNET_PORT=str(self.port), **env)

    async def up(self, within: float = 60) -> None:
        """Start and wait until it answers ``/health/live``."""
        self.start()
        async with httpx.AsyncClient(base_url=self.base, timeout=5) as http:
            await until(
                lambda: _live(http, self), within, lambda: f"msnet serve did not start:\n{self.output()}"
            )


async def _live(http: httpx.AsyncClient, server: Server) -> bool:
    assert server.popen is not None
    if server.popen.poll() is not None:
        raise AssertionError(f"msnet serve ended ({server.popen.returncode}):\n{server.output()}")
    try:
        return (await http.get("/health/live")).status_code == 200
    except httpx.TransportError:
        return False


async def until(
    check: Callable[[], Awaitable[bool]], within: float, failure: str | Callable[[], str]
) -> None:
    """Poll ``check`` until it holds, failing with ``failure`` (or what it returns, then: the logs of
    the processes at that moment, say) after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(failure if isinstance(failure, str) else failure())
        await asyncio.sleep(0.1)
