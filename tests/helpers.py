"""What several test modules share."""

from __future__ import annotations

import os
import subprocess
import sys

from msnet.settings import Settings


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSNET_")}
    env.update(
        MSNET_DATABASE_URL=settings.database_url or "",
        MSNET_DATABASE_ADMIN_URL=settings.database_admin_url or "",
        MSNET_PUBLIC_URL=settings.issuer,
        MSNET_LOG_FORMAT="json",
        MSNET_LOG_LEVEL="warning",
    )
    env.update(extra)
    return env


def run_cli(settings: Settings | None, *args: str, env: dict[str, str] | None = None, timeout: float = 60):
    """Run ``msnet ARGS`` in a fresh process, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "msnet", *args],
        env=env if env is not None else cli_env(settings),  # type: ignore[arg-type]
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
