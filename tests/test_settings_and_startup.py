"""Bad settings and impossible starts are one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
from pathlib import Path

import pytest

from msnet.auth.keys import new_secret_key
from msnet.db.embedded import check_data_dir
from msnet.errors import SettingsError, StartupError
from msnet.settings import Settings
from tests.conftest import free_port
from tests.helpers import run_cli

README = Path(__file__).parents[1] / "README.md"


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.embedded
    assert settings.port == 8000
    assert settings.issuer == "http://127.0.0.1:8000"


def test_values_are_typed() -> None:
    settings = Settings.from_env(
        {"MSNET_PORT": "9100", "MSNET_LOG_LEVEL": "DEBUG", "MSNET_MAX_BODY_BYTES": "2048"}
    )
    assert (settings.port, settings.log_level, settings.max_body_bytes) == (9100, "debug", 2048)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MSNET_PORT", "eighty"),
        ("MSNET_PORT", "70000"),
        ("MSNET_LOG_LEVEL", "loud"),
        ("MSNET_LOG_FORMAT", "xml"),
        ("MSNET_DATABASE_URL", "mysql://x/y"),
        ("MSNET_DATABASE_URL", "postgresql://host-without-database"),
        ("MSNET_PUBLIC_URL", "not a url"),
        ("MSNET_MAX_BODY_BYTES", "10"),
        ("MSNET_PROCESSES", "0"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: "):
        Settings.from_env({variable: value})


def test_admin_url_alone_is_refused() -> None:
    with pytest.raises(SettingsError, match="MSNET_DATABASE_ADMIN_URL"):
        Settings.from_env({"MSNET_DATABASE_ADMIN_URL": "postgresql://owner@db/msnet"})


def test_every_setting_is_in_the_readme() -> None:
    readme = README.read_text()
    missing = [f.metadata["env"] for f in dataclasses.fields(Settings) if f.metadata["env"] not in readme]
    assert missing == []


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSNET_")}
    env.update(values)
    return env


def _one_line_failure(result, exit_code: int, text: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == exit_code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert text in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_bad_setting() -> None:
    result = run_cli(None, "migrate", env=_env(MSNET_PORT="eighty"))
    _one_line_failure(result, 2, "MSNET_PORT: must be a whole number")


def test_cli_bad_port_option() -> None:
    result = run_cli(None, "serve", "--port", "99999", env=_env())
    _one_line_failure(result, 2, "MSNET_PORT: must be between 1 and 65535")


def test_cli_unreachable_database() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    url = f"postgresql://msnet@127.0.0.1:{port}/msnet"
    env = _env(MSNET_DATABASE_URL=url, MSNET_SECRET_KEY=new_secret_key())
    # (msnet serve starts anyway and answers 503 until the database is up: tests/faults)
    result = run_cli(None, "worker", env=env)
    _one_line_failure(result, 1, f"cannot reach the database at msnet@127.0.0.1:{port}/msnet")


def test_cli_external_database_needs_a_secret_key() -> None:
    result = run_cli(None, "serve", env=_env(MSNET_DATABASE_URL="postgresql://msnet@127.0.0.1:1/msnet"))
    _one_line_failure(result, 2, "MSNET_SECRET_KEY: required with MSNET_DATABASE_URL")


def test_a_short_secret_key_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"^MSNET_SECRET_KEY: must decode to at least 32 bytes"):
        Settings.from_env({"MSNET_SECRET_KEY": "c2hvcnQ"})


def test_cli_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(None, "serve", "--port", str(port), env=_env(MSNET_DATA_DIR=str(tmp_path / "data")))
    _one_line_failure(result, 1, f"port {port} on 127.0.0.1 is already in use")


def _unusable_data_dir(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A data directory msnet cannot use, and what its one line must say."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    if kind == "a file":
        return a_file, f"MSNET_DATA_DIR {a_file} is not a writable directory: {a_file} is not a directory"
    if kind == "below a file":
        return a_file / "data", f"is not a writable directory: {a_file} is not a directory"
    data = tmp_path / "data"
    if kind == "secret key is a directory":
        (data / "secret.key").mkdir(parents=True)
        return data, f"the node's secret key {data / 'secret.key'}: Is a directory"
    data.mkdir()
    (data / "pgdata").write_text("not a directory")  # the embedded PostgreSQL's own directory
    return data, f'initdb: error: could not access directory "{data / "pgdata"}": Not a directory'


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (["migrate"], "below a file"),
        (["serve"], "a file"),
        (["client", "create", "--org", "au", "--name", "x", "--scopes", "audit:read"], "below a file"),
        (["worker"], "secret key is a directory"),
        (["migrate"], "pgdata is a file"),
    ],
)
def test_cli_unusable_data_dir(tmp_path: Path, command: list[str], kind: str) -> None:
    data_dir, said = _unusable_data_dir(tmp_path, kind)
    env = _env(MSNET_DATA_DIR=str(data_dir), MSNET_PORT=str(free_port()))
    _one_line_failure(run_cli(None, *command, env=env), 1, said)


def test_a_data_dir_that_cannot_even_be_looked_at_is_one_line(tmp_path: Path) -> None:
    """Looking at the path fails before anything is made (here a name too long; for an operator who
    is not root, a parent they may not enter): a StartupError, which msnet prints as one line."""
    data_dir = tmp_path / ("x" * 300) / "data"
    with pytest.raises(StartupError) as raised:
        check_data_dir(data_dir)
    assert raised.value.detail == (
        f"MSNET_DATA_DIR {data_dir} is not a writable directory: {os.strerror(errno.ENAMETOOLONG)}"
    )
    assert list(tmp_path.iterdir()) == []  # nothing made
