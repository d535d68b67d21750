"""Typed settings, read once from ``MSNET_*`` environment variables and validated at start."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from msnet.errors import SettingsError

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "json", "console")
SMTP_TLS = ("starttls", "tls", "none")


def _default_data_dir() -> Path:
    # As root the embedded server widens the permissions of the data directory's parents;
    # keep it out of root's home by default.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/msnet")
    return platformdirs.user_data_path("msnet")


def _int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {raw!r}")
        return value

    return parse


def _postgres_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError("must be a postgresql:// URL")
    if not parts.path.strip("/"):
        raise ValueError("must name a database, e.g. postgresql://user@host:5432/msnet")
    return raw


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def _secret_key(raw: str) -> str:
    try:
        key = base64.urlsafe_b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("must be URL-safe base64 (make one with `msnet keys secret`)") from None
    if len(key) < 32:
        raise ValueError("must decode to at least 32 bytes (make one with `msnet keys secret`)")
    return raw.strip()


def _switch(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"must be on or off, got {raw!r}")
    return value in ("on", "true", "1", "yes")


def _email(raw: str) -> str:
    value = raw.strip()
    if value.count("@") != 1 or any(c.isspace() or c in "<>,;" for c in value):
        raise ValueError(f"must be one e-mail address, got {raw!r}")
    return value


def _path(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("must not be empty")
    return Path(raw).expanduser()


def _spec(env: str, parse: Callable[[str], Any], doc: str) -> Any:
    """An optional setting, None unless its variable is set."""
    return field(default=None, metadata={"env": env, "parse": parse, "doc": doc})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting of a node; each one is documented in the README's configuration table."""

    database_url: str | None = _spec(
        "MSNET_DATABASE_URL",
        _postgres_url,
        "URL of an existing PostgreSQL server for the service role (owns nothing, no BYPASSRLS). "
        "Unset: an embedded server in MSNET_DATA_DIR.",
    )
    database_admin_url: str | None = _spec(
        "MSNET_DATABASE_ADMIN_URL",
        _postgres_url,
        "URL with the schema owner role, used only to run migrations. Unset with MSNET_DATABASE_URL: "
        "`msnet serve` does not migrate and refuses to start on a schema that is not at head.",
    )
    database_replica_url: str | None = _spec(
        "MSNET_DATABASE_REPLICA_URL",
        _postgres_url,
        "URL of a streaming replica (hot standby) of MSNET_DATABASE_URL's database, as the service role: "
        "searches and lists read from it when it is fresh enough. Unset: every read is from the primary.",
    )
    database_replica_max_lag: int = field(
        default=5,
        metadata={
            "env": "MSNET_DATABASE_REPLICA_MAX_LAG",
            "parse": _int(0, 3600),
            "doc": "Seconds the replica may lag behind the primary and still serve searches and lists; "
            "0: only a replica that has replayed everything does.",
        },
    )
    data_dir: Path = field(
        default_factory=_default_data_dir,
        metadata={
            "env": "MSNET_DATA_DIR",
            "parse": _path,
            "doc": "Where the embedded PostgreSQL keeps its data. Default: the per-user data directory "
            "(~/.local/share/msnet on Linux), /var/lib/msnet when run as root.",
        },
    )
    host: str = field(
        default="127.0.0.1",
        metadata={"env": "MSNET_HOST", "parse": str.strip, "doc": "Address `msnet serve` listens on."},
    )
    port: int = field(
        default=8000,
        metadata={"env": "MSNET_PORT", "parse": _int(1, 65535), "doc": "Port `msnet serve` listens on."},
    )
    processes: int = field(
        default=1,
        metadata={
            "env": "MSNET_PROCESSES",
            "parse": _int(1, 64),
            "doc": "Processes `msnet serve` answers requests with, on one port; each has its own "
            "MSNET_DB_POOL_SIZE connections and, with MSNET_WORKER on, its own delivery worker. "
            "One a core is a good start.",
        },
    )
    public_url: str | None = _spec(
        "MSNET_PUBLIC_URL",
        _http_url,
        "This node's public base URL: the OAuth issuer, token audience and `origin` of its records. "
        "Default: http://HOST:PORT.",
    )
    log_level: str = field(
        default="info",
        metadata={
            "env": "MSNET_LOG_LEVEL",
            "parse": _choice(LOG_LEVELS),
            "doc": "debug, info, warning or error.",
        },
    )
    log_format: str = field(
        default="auto",
        metadata={
            "env": "MSNET_LOG_FORMAT",
            "parse": _choice(LOG_FORMATS),
            "doc": "json, console, or auto (console on a terminal, JSON otherwise).",
        },
    )
    max_body_bytes: int = field(
        default=1_048_576,
        metadata={
            "env": "MSNET_MAX_BODY_BYTES",
            "parse": _int(1024, 64 * 1_048_576),
            "doc": "Largest request body accepted; larger ones get 413.",
        },
    )
    secret_key: str | None = _spec(
        "MSNET_SECRET_KEY",
        _secret_key,
        "Key that encrypts the node's signing keys and peppers client-secret hashes (URL-safe base64, "
        "32 bytes). Required with MSNET_DATABASE_URL; with the embedded database msnet creates one in "
        "MSNET_DATA_DIR/secret.key and says so.",
    )
    access_token_ttl: int = field(
        default=600,
        metadata={
            "env": "MSNET_ACCESS_TOKEN_TTL",
            "parse": _int(60, 3600),
            "doc": "Lifetime of access tokens, in seconds.",
        },
    )
    db_pool_size: int = field(
        default=10,
        metadata={
            "env": "MSNET_DB_POOL_SIZE",
            "parse": _int(1, 200),
            "doc": "Database connections per process.",
        },
    )
    db_connect_timeout: int = field(
        default=5,
        metadata={
            "env": "MSNET_DB_CONNECT_TIMEOUT",
            "parse": _int(1, 120),
            "doc": "Seconds to wait for a new database connection.",
        },
    )
    db_pool_timeout: int = field(
        default=5,
        metadata={
            "env": "MSNET_DB_POOL_TIMEOUT",
            "parse": _int(1, 120),
            "doc": "Seconds a request waits for a free connection of the pool.",
        },
    )
    db_statement_timeout: int = field(
        default=10,
        metadata={
            "env": "MSNET_DB_STATEMENT_TIMEOUT",
            "parse": _int(1, 3600),
            "doc": "Seconds one statement may run (the server cancels it; msnet gives up two seconds later "
            "should the server not answer at all).",
        },
    )
    db_lock_timeout: int = field(
        default=5,
        metadata={
            "env": "MSNET_DB_LOCK_TIMEOUT",
            "parse": _int(1, 3600),
            "doc": "Seconds a statement may wait for a lock another transaction holds.",
        },
    )
    db_idle_in_transaction_timeout: int = field(
        default=60,
        metadata={
            "env": "MSNET_DB_IDLE_IN_TRANSACTION_TIMEOUT",
            "parse": _int(1, 3600),
            "doc": "Seconds a transaction may stay open doing nothing before the server ends it.",
        },
    )
    read_cache_entries: int = field(
        default=10_000,
        metadata={
            "env": "MSNET_READ_CACHE_ENTRIES",
            "parse": _int(0, 10_000_000),
            "doc": "Answers of the plain reads (organisations, offices) each process keeps, served while "
            "the database has had no write they could show; 0 turns the read cache off.",
        },
    )
    read_cache_bytes: int = field(
        default=64 * 1_048_576,
        metadata={
            "env": "MSNET_READ_CACHE_BYTES",
            "parse": _int(1_048_576, 64 * 1024 * 1_048_576),
            "doc": "Bytes of answers the read cache keeps at most in each process, the least recently "
            "used dropped first.",
        },
    )
    request_timeout: int = field(
        default=20,
        metadata={
            "env": "MSNET_REQUEST_TIMEOUT",
            "parse": _int(1, 3600),
            "doc": "Seconds a request may take before it is answered 503 with Retry-After, whatever it waits for.",
        },
    )
    request_burst_limit: int = field(
        default=30,
        metadata={
            "env": "MSNET_REQUEST_BURST_LIMIT",
            "parse": _int(1, 10_000),
            "doc": "Submit and withdraw calls a client may make in a minute; past it, 429 with Retry-After.",
        },
    )
    auth_failure_window: int = field(
        default=60,
        metadata={
            "env": "MSNET_AUTH_FAILURE_WINDOW",
            "parse": _int(1, 3600),
            "doc": "Seconds of the intervals failed authentications are counted and audited in (one "
            "entry a source, reason and interval, with its count) and a source's limit applies to.",
        },
    )
    auth_failure_limit: int = field(
        default=20,
        metadata={
            "env": "MSNET_AUTH_FAILURE_LIMIT",
            "parse": _int(1, 1_000_000),
            "doc": "Failed authentications from one address in an interval, per process; past it, its "
            "failing attempts get 429 with Retry-After until the interval ends (valid ones still pass).",
        },
    )
    auth_refusal_delay: int = field(
        default=2,
        metadata={
            "env": "MSNET_AUTH_REFUSAL_DELAY",
            "parse": _int(0, 60),
            "doc": "Seconds a refused address's 429 is held before it is sent (0: sent at once), and its "
            "token-endpoint requests wait before they are checked: a client that tries again when "
            "answered then makes at most one attempt a connection in that time.",
        },
    )
    auth_refusal_hold_limit: int = field(
        default=256,
        metadata={
            "env": "MSNET_AUTH_REFUSAL_HOLD_LIMIT",
            "parse": _int(1, 100_000),
            "doc": "Refused answers a process holds at once (MSNET_AUTH_REFUSAL_DELAY); beyond it, a "
            "refused address's failing token is answered 429 at once, and its token-endpoint request "
            "429 unchecked, so memory and database work stay bounded.",
        },
    )

    webhook_private_addresses: bool = field(
        default=False,
        metadata={
            "env": "MSNET_WEBHOOK_PRIVATE_ADDRESSES",
            "parse": _switch,
            "doc": "on: webhook endpoints may be on loopback, private, link-local or other non-public "
            "addresses (development, tests); off: such endpoints are refused at registration and at "
            "delivery, so an organisation cannot make the node call into the network it runs in.",
        },
    )
    session_idle_minutes: int = field(
        default=120,
        metadata={
            "env": "MSNET_SESSION_IDLE_MINUTES",
            "parse": _int(1, 10_080),
            "doc": "Minutes without a request after which a person's browser session ends (the staff pages).",
        },
    )
    session_max_hours: int = field(
        default=12,
        metadata={
            "env": "MSNET_SESSION_MAX_HOURS",
            "parse": _int(1, 720),
            "doc": "Hours after sign-in at which a person's browser session ends, however active.",
        },
    )
    identity_provider_private_addresses: bool = field(
        default=False,
        metadata={
            "env": "MSNET_IDENTITY_PROVIDER_PRIVATE_ADDRESSES",
            "parse": _switch,
            "doc": "on: an organisation's identity provider may be on a loopback, private or other "
            "non-public address (development, tests, `msnet demo`); off: such an issuer is refused, so "
            "an organisation cannot make the node call into the network it runs in.",
        },
    )
    worker: bool = field(
        default=True,
        metadata={
            "env": "MSNET_WORKER",
            "parse": _switch,
            "doc": "on: `msnet serve` also delivers webhooks and e-mails from the outbox; off: only "
            "`msnet worker` processes do.",
        },
    )
    worker_poll_interval: int = field(
        default=5,
        metadata={
            "env": "MSNET_WORKER_POLL_INTERVAL",
            "parse": _int(1, 3600),
            "doc": "Seconds a delivery worker waits before looking again when nothing is due (a message "
            "queued wakes it at once; the poll finds the retries falling due).",
        },
    )
    outbox_retention_days: int = field(
        default=30,
        metadata={
            "env": "MSNET_OUTBOX_RETENTION_DAYS",
            "parse": _int(1, 3650),
            "doc": "Days a delivered or failed outbox message is kept before the workers delete it.",
        },
    )
    federation_poll_interval: int = field(
        default=30,
        metadata={
            "env": "MSNET_FEDERATION_POLL_INTERVAL",
            "parse": _int(1, 3600),
            "doc": "Seconds at most between two pulls of a peer's change feed by the delivery worker "
            "(a peer's poke brings the next one forward; a failing peer is retried after a backoff "
            "that doubles up to this).",
        },
    )
    checkpoint_interval: int = field(
        default=300,
        metadata={
            "env": "MSNET_CHECKPOINT_INTERVAL",
            "parse": _int(1, 86400),
            "doc": "Seconds between two checkpoints of the audit chain that the delivery worker signs with "
            "the node key (one more at shutdown; none while the chain has not grown) and fetches from "
            "every peer, which keep each other's for `msnet audit verify`.",
        },
    )
    smtp_host: str | None = _spec(
        "MSNET_SMTP_HOST",
        str.strip,
        "SMTP server e-mails are sent through. Unset: e-mails wait in the outbox.",
    )
    smtp_port: int = field(
        default=587,
        metadata={"env": "MSNET_SMTP_PORT", "parse": _int(1, 65535), "doc": "Port of the SMTP server."},
    )
    smtp_tls: str = field(
        default="starttls",
        metadata={
            "env": "MSNET_SMTP_TLS",
            "parse": _choice(SMTP_TLS),
            "doc": "starttls (upgrade the connection, port 587), tls (TLS from the start, port 465) or none.",
        },
    )
    smtp_user: str | None = _spec(
        "MSNET_SMTP_USER", str.strip, "User name for the SMTP server, if it needs one."
    )
    smtp_password: str | None = _spec("MSNET_SMTP_PASSWORD", str, "Password for the SMTP server.")
    mail_from: str | None = _spec(
        "MSNET_MAIL_FROM", _email, "The From address of e-mails msnet sends; required with MSNET_SMTP_HOST."
    )
    reports_min_count: int = field(
        default=5,
        metadata={
            "env": "MSNET_REPORTS_MIN_COUNT",
            "parse": _int(2, 1000),
            "doc": "The network report shows a cell only when at least this many of its requests come from "
            "organisations other than the one that asked most in it; otherwise the cell is suppressed.",
        },
    )
    reports_refresh_seconds: int = field(
        default=30,
        metadata={
            "env": "MSNET_REPORTS_REFRESH_SECONDS",
            "parse": _int(1, 60),
            "doc": "Seconds between two refreshes of the reports' figures (the reports.refresh job): a "
            "change to a request shows in the reports within this time and the refresh's own.",
        },
    )
    otlp_endpoint: str | None = _spec(
        "MSNET_OTLP_ENDPOINT",
        _http_url,
        "Base URL of an OpenTelemetry collector's OTLP/HTTP receiver (e.g. http://127.0.0.1:4318): "
        "requests, database statements and outbox deliveries are traced to it (needs msnet[tracing]). "
        "Unset: no tracing, and OpenTelemetry is not loaded.",
    )

    @property
    def issuer(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read and validate every ``MSNET_*`` variable; raise SettingsError naming the first bad one."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = f.metadata["parse"](raw)
            except ValueError as exc:
                raise SettingsError(f"{f.metadata['env']}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values.get("database_admin_url") and not values.get("database_url"):
            raise SettingsError(
                "MSNET_DATABASE_ADMIN_URL: set MSNET_DATABASE_URL too (the service role's URL)"
            )
        if values.get("database_replica_url") and not values.get("database_url"):
            raise SettingsError(
                "MSNET_DATABASE_REPLICA_URL: set MSNET_DATABASE_URL too (the embedded server has no replica)"
            )
        if values.get("smtp_host") and not values.get("mail_from"):
            raise SettingsError("MSNET_MAIL_FROM: set it too when MSNET_SMTP_HOST is set")
        return cls(**values)
