"""Alembic, run from code: the only way the schema changes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

import msnet
from msnet.db.engine import async_url


def migrations_dir() -> Path:
    package = Path(msnet.__file__).parent
    installed = package / "migrations"  # wheels carry them inside the package
    return installed if installed.is_dir() else package.parents[1] / "migrations"


def alembic_config(admin_url: str | None = None, app_role: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if admin_url:
        cfg.attributes["url"] = async_url(admin_url)
    if app_role:
        cfg.attributes["app_role"] = app_role
    return cfg


def role_of(url: str) -> str:
    user = urlsplit(url).username
    if not user:
        raise ValueError("the database URL must name its user")
    return user


def upgrade(admin_url: str, app_url: str, revision: str = "head") -> None:
    """Migrate as the owner, granting the service role (the user of ``app_url``) what it needs."""
    command.upgrade(alembic_config(admin_url, role_of(app_url)), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
