"""deploy/compose.yaml read as Compose would read it (no container runtime here): with the example
env file filled as it says, every msnet service's environment passes msnet's own settings check; left
empty, Compose refuses to start; the API and workers wait for the migration; no replica takes a fixed
host port; every service has a healthcheck."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from msnet.auth.keys import new_secret_key
from msnet.settings import Settings

DEPLOY = Path(__file__).parents[2] / "deploy"
# How an operator fills each value of .env.example, as its comments say.
FILL = {
    "MSNET_HOSTNAME": lambda: "msnet.example.org",
    "MSNET_SECRET_KEY": new_secret_key,
    "POSTGRES_PASSWORD": lambda: secrets.token_hex(32),
    "MSNET_OWNER_PASSWORD": lambda: secrets.token_hex(32),
    "MSNET_APP_PASSWORD": lambda: secrets.token_hex(32),
}
_VARIABLE = re.compile(r"\$(?:\$|\{(\w+)(?:(:?[-?])([^}]*))?\}|(\w+))")


class Refused(Exception):
    """Compose would not start: a required variable is unset or empty."""


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of ``text``: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}`` and ``${VAR?error}``."""

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, argument = match.group(2), match.group(3)
        present = env.get(name)
        empty = present is None or (present == "" and operator is not None and operator.startswith(":"))
        if operator and operator.endswith("?") and empty:
            raise Refused(f"{name}: {argument}")
        if operator and operator.endswith("-") and empty:
            return argument
        return present or ""

    return _VARIABLE.sub(value, text)


def test_interpolate() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("$$SET ${SET} $SET ${EMPTY:-d} ${EMPTY-d} ${UNSET-d}", env) == "$SET x x d  d"
    assert interpolate("${EMPTY?must}", env) == ""
    with pytest.raises(Refused, match="EMPTY: must"):
        interpolate("${EMPTY:?must}", env)
    with pytest.raises(Refused, match="UNSET: must"):
        interpolate("${UNSET?must}", env)


def example_env() -> dict[str, str]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def compose(env: dict[str, str]) -> dict[str, Any]:
    return yaml.safe_load(interpolate((DEPLOY / "compose.yaml").read_text(), env))


def filled() -> dict[str, str]:
    env = example_env()
    return env | {name: FILL[name]() for name, value in env.items() if not value}


def msnet_services(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in document["services"].items()
        if service.get("build", {}).get("dockerfile") == "deploy/Containerfile"
    }


def test_every_empty_value_of_the_example_is_one_the_operator_fills() -> None:
    empty = {name for name, value in example_env().items() if not value}
    assert empty == set(FILL)


@pytest.mark.parametrize("name", sorted(FILL))
def test_compose_refuses_to_start_with_a_value_left_empty(name: str) -> None:
    with pytest.raises(Refused, match=f"^{name}: fill {name} in deploy/.env"):
        compose(filled() | {name: ""})


def test_every_msnet_service_passes_the_settings_check() -> None:
    env = filled()
    services = msnet_services(compose(env))
    assert {s["command"][0] for s in services.values()} == {"migrate", "serve", "worker"}
    for name, service in services.items():
        environment = {k: str(v) for k, v in service["environment"].items()}
        settings = Settings.from_env(environment)
        assert not settings.embedded, name
        assert settings.secret_key == env["MSNET_SECRET_KEY"], name
        assert settings.public_url == f"https://{env['MSNET_HOSTNAME']}", name
        assert urlsplit(settings.database_url).username == "msnet_app", name
        assert urlsplit(settings.database_url).password == env["MSNET_APP_PASSWORD"], name
        if service["command"] == ["migrate"]:
            assert urlsplit(settings.database_admin_url).username == "msnet_owner"
            assert urlsplit(settings.database_admin_url).password == env["MSNET_OWNER_PASSWORD"]
        else:
            assert settings.database_admin_url is None, f"{name} must not hold the owner's password"
        assert service["read_only"] is True, name


def test_the_roles_the_urls_name_are_the_ones_initdb_makes_with_the_same_passwords() -> None:
    env = filled()
    document = compose(env)
    users = {
        urlsplit(str(url)).username
        for service in msnet_services(document).values()
        for key, url in service["environment"].items()
        if key in ("MSNET_DATABASE_URL", "MSNET_DATABASE_ADMIN_URL")
    }
    initdb = (DEPLOY / "initdb.sql").read_text()
    assert dict(re.findall(r"^CREATE ROLE (\w+) LOGIN PASSWORD :'(\w+)'", initdb, re.M)) == {
        "msnet_owner": "owner_password",
        "msnet_app": "app_password",
    }
    assert users == {"msnet_owner", "msnet_app"}
    initdb_sh = (DEPLOY / "initdb.sh").read_text()
    assert '-v owner_password="$MSNET_OWNER_PASSWORD"' in initdb_sh
    assert '-v app_password="$MSNET_APP_PASSWORD"' in initdb_sh
    db = document["services"]["db"]["environment"]
    assert (db["MSNET_OWNER_PASSWORD"], db["MSNET_APP_PASSWORD"]) == (
        env["MSNET_OWNER_PASSWORD"],
        env["MSNET_APP_PASSWORD"],
    )


def test_the_api_and_workers_wait_for_the_migration() -> None:
    services = compose(filled())["services"]
    migration = [
        name for name, s in msnet_services({"services": services}).items() if s["command"] == ["migrate"]
    ]
    assert len(migration) == 1
    assert services[migration[0]]["restart"] == "no"
    assert services[migration[0]]["depends_on"]["db"]["condition"] == "service_healthy"
    for name, service in msnet_services({"services": services}).items():
        if service["command"] != ["migrate"]:
            assert service["depends_on"][migration[0]] == {"condition": "service_completed_successfully"}, (
                name
            )


def _host_port(mapping: Any) -> bool:
    """Whether a ``ports`` entry fixes a port on the host (a bare container port does not)."""
    if isinstance(mapping, dict):
        return "published" in mapping
    return ":" in str(mapping).split("/")[0]


def test_no_replica_maps_a_fixed_host_port() -> None:
    services = compose(filled())["services"]
    for name, service in msnet_services({"services": services}).items():
        assert not any(_host_port(p) for p in service.get("ports", [])), name
    replicated = [n for n, s in services.items() if s.get("deploy", {}).get("replicas", 1) > 1]
    assert "api" in replicated
    for name in replicated:
        assert not any(_host_port(p) for p in services[name].get("ports", [])), name


def test_the_proxy_forwards_to_the_api_replicas_by_name() -> None:
    services = compose(filled())["services"]
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    assert re.search(r"dynamic a \{\s*name api\s*port 8000", caddyfile)
    assert services["api"]["environment"]["MSNET_PORT"] == "8000"
    assert services["proxy"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_every_service_has_a_healthcheck() -> None:
    for name, service in compose(filled())["services"].items():
        check = service.get("healthcheck", {})
        assert check.get("test"), name
        assert not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
