"""msnet: serve | demo | worker | migrate | backup | restore | org … | user … | client … | node fingerprint | peer … | roster import | keys … | audit verify | digest send | openapi."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import gc
import json
import os
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import msgspec

from msnet import logs
from msnet.auth.keys import ensure_secret_key, new_secret_key
from msnet.errors import InvalidInput, MsnetError, SettingsError, StartupError
from msnet.settings import Settings

EXIT_BAD_SETTING = 2
EXIT_FAILED = 1


class Shutdown(BaseException):
    """SIGTERM, raised like Ctrl-C once uvicorn has shut down, so the embedded server is stopped."""


def _raise_shutdown(signum: int, frame: object) -> None:
    raise Shutdown


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="msnet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, help_text in (
        ("serve", "migrate, then serve the API (embedded PostgreSQL unless MSNET_DATABASE_URL is set)"),
        ("demo", "as serve, with the demo network loaded (idempotent)"),
    ):
        cmd = commands.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("--host", help="address to listen on (default: MSNET_HOST, 127.0.0.1)")
        cmd.add_argument("--port", help="port to listen on (default: MSNET_PORT, 8000)")
        cmd.add_argument("--processes", help="processes answering requests (default: MSNET_PROCESSES, 1)")
        if name == "demo":
            cmd.add_argument("--no-serve", action="store_true", help="load the demo data and exit")
            cmd.add_argument(
                "--nodes",
                type=int,
                default=1,
                help="run N peered nodes on consecutive ports from --port, each with its own embedded "
                "database in MSNET_DATA_DIR/node-PORT and its own demo organisations (default: 1)",
            )
            cmd.add_argument(
                "--organisations",
                help="load only these demo organisations (comma-separated slugs; default: all), "
                "as one node of `--nodes`",
            )

    commands.add_parser(
        "worker", help="deliver webhooks and e-mails from the outbox, without serving the API"
    )
    migrate = commands.add_parser("migrate", help="bring the schema to the latest revision")
    migrate.add_argument(
        "--check",
        action="store_true",
        help="change nothing: exit 0 at the latest revision, 1 behind it, 2 ahead of it (a newer release)",
    )
    backup = commands.add_parser(
        "backup", help="write the embedded database to FILE (pg_dump, custom format)"
    )
    backup.add_argument("file", type=Path, help="where to write the backup")
    restore = commands.add_parser("restore", help="restore the embedded database from a `msnet backup` FILE")
    restore.add_argument("file", type=Path, help="a file `msnet backup` wrote")
    restore.add_argument("--force", action="store_true", help="replace a database that already holds data")

    org = commands.add_parser("org", help="the organisation registry").add_subparsers(
        dest="org_command", required=True, metavar="ACTION"
    )
    create = org.add_parser("create", help="register an organisation")
    create.add_argument("slug", help="short lower-case name, e.g. au")
    create.add_argument("--name", required=True, help="full name")
    create.add_argument("--acronym", help="e.g. AU")
    create.add_argument(
        "--kind", default="other", help="global, regional, subregional, interregional or other"
    )
    create.add_argument(
        "--identifier", action="append", default=[], help="org-id.guide identifier (repeatable)"
    )
    create.add_argument("--home-node", help="URL of the node that holds its data, if not this one")
    idp = org.add_parser(
        "idp", help="the identity provider the organisation's staff sign in with"
    ).add_subparsers(dest="idp_command", required=True, metavar="ACTION")
    idp_set = idp.add_parser(
        "set", help="register or change the organisation's OpenID Connect provider; prints JSON"
    )
    idp_set.add_argument("slug", help="the organisation's slug")
    idp_set.add_argument("--issuer", required=True, help="the provider's issuer URL (https)")
    idp_set.add_argument("--client-id", required=True, help="msnet's client id at the provider")
    idp_set.add_argument(
        "--client-secret-file", required=True, type=Path, help="a file holding the client secret"
    )
    idp_set.add_argument(
        "--email-domain",
        action="append",
        default=[],
        help="only people with an e-mail at this domain sign in (repeatable; none: anyone the provider signs in)",
    )
    idp_set.add_argument(
        "--role-claim",
        help="an ID token claim listing the person's roles (staff, roster_manager, org_admin); "
        "without it roles are granted in msnet",
    )

    user = commands.add_parser("user", help="the people who sign in to the staff pages").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    for action, verb in (("grant", "give"), ("revoke", "take away")):
        change = user.add_parser(action, help=f"{verb} a person roles (they must have signed in once)")
        change.add_argument("--org", required=True, help="the person's organisation's slug")
        who = change.add_mutually_exclusive_group(required=True)
        who.add_argument("--email", help="the person's e-mail")
        who.add_argument("--subject", help="the person's subject at the provider")
        change.add_argument("roles", nargs="+", metavar="ROLE", help="staff, roster_manager or org_admin")

    client = commands.add_parser("client", help="OAuth clients").add_subparsers(
        dest="client_command", required=True, metavar="ACTION"
    )
    client_create = client.add_parser("create", help="register an OAuth client; prints JSON")
    client_create.add_argument("--org", required=True, help="the organisation's slug")
    client_create.add_argument("--name", required=True, help="what the client is, e.g. 'MSU roster sync'")
    client_create.add_argument(
        "--scopes", required=True, help='space-separated, e.g. "roster:read directory:read"'
    )
    client_create.add_argument(
        "--jwks-file", type=Path, help="public JWKS for private_key_jwt (no secret is made then)"
    )

    roster = commands.add_parser("roster", help="the expert roster").add_subparsers(
        dest="roster_command", required=True, metavar="ACTION"
    )
    roster_import = roster.add_parser(
        "import", help="import experts from CSV: every row checked first, nothing written if one fails"
    )
    roster_import.add_argument("file", type=Path, help="CSV with a header row (columns: see the README)")
    roster_import.add_argument("--org", required=True, help="the organisation whose roster it is")
    roster_import.add_argument(
        "--mode",
        choices=("upsert", "create"),
        help="upsert: update the experts rows name by external_id (or id), create the others; create: "
        "only create. Default: upsert when a row has an external_id or an id, create otherwise",
    )
    roster_import.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be created, changed and left alone; write nothing",
    )

    keys = commands.add_parser("keys", help="the node's keys").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION"
    )
    keys.add_parser("rotate", help="make a new signing key; the old one verifies until its tokens expire")
    keys.add_parser("secret", help="print a new value for MSNET_SECRET_KEY")

    node = commands.add_parser("node", help="this node's identity").add_subparsers(
        dest="node_command", required=True, metavar="ACTION"
    )
    node.add_parser(
        "fingerprint", help="print the fingerprint of this node's key, to hand to a peer's operator"
    )

    peer = commands.add_parser("peer", help="the nodes this one exchanges with").add_subparsers(
        dest="peer_command", required=True, metavar="ACTION"
    )
    peer_add = peer.add_parser(
        "add",
        help="peer with a node: read its signed node document, check its key against the fingerprint "
        "its operator gave you, record it (again with a new fingerprint: confirm its new key)",
    )
    peer_add.add_argument("url", help="the node's base URL (its MSNET_PUBLIC_URL)")
    peer_add.add_argument(
        "--fingerprint", required=True, help="SHA256:… as `msnet node fingerprint` prints it"
    )
    peer.add_parser("list", help="the peers: issuer, state, organisations")
    peer_status = peer.add_parser(
        "status", help="each peer's state, last successful sync, lag, failures and last error"
    )
    peer_status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    peer_remove = peer.add_parser(
        "remove", help="stop exchanging with a peer and drop the records it replicated here (tombstones)"
    )
    peer_remove.add_argument("url", help="the peer's base URL")

    audit = commands.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    audit.add_parser(
        "verify",
        help="check the hash chain, and against the checkpoints of it the peers hold; names the first bad "
        "entry or the checkpoint it contradicts",
    )

    digest = commands.add_parser("digest", help="digests of new trainings and publications").add_subparsers(
        dest="digest_command", required=True, metavar="ACTION"
    )
    digest_send = digest.add_parser(
        "send", help="queue the digests of the last whole period not yet sent (each goes out once)"
    )
    digest_send.add_argument("--period", required=True, choices=("weekly", "monthly"))

    openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument(
        "--output", type=Path, default=Path("openapi/openapi.json"), help="default: openapi/openapi.json"
    )
    return parser


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # as uvicorn binds: connections of a stopped msnet waiting out TIME_WAIT do not stop a restart
        # on its port, a process listening there does
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(f"port {port} on {host} is already in use") from None
            raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@contextmanager
def _refusing_schema_ahead(settings: Settings) -> Iterator[None]:
    """Refuse, in one line and with exit 2, a schema that a newer release of msnet migrated (as
    preparing or migrating the database finds)."""
    from msnet.db.migrate import SchemaAhead

    try:
        yield
    except SchemaAhead as exc:
        print(f"msnet: {exc.detail}", file=sys.stderr)
        sys.exit(EXIT_BAD_SETTING)


def _serve(
    settings: Settings, *, demo: bool, load_only: bool = False, homes: list[str] | None = None
) -> None:
    import uvicorn

    from msnet import demo as demo_data
    from msnet.app import create_app
    from msnet.db.runtime import database
    from msnet.taxonomy import service as taxonomy

    with (
        _refusing_schema_ahead(settings),
        database(settings, unreachable_ok=not demo) as ready,
        _demo_provider(demo and not load_only) as issuer,
    ):
        if demo:
            credentials = ready.data_dir / "demo-credentials.json"
            print(asyncio.run(demo_data.load(ready, credentials_file=credentials, homes=homes)), flush=True)
        if issuer:
            from msnet.demo import staff

            print(asyncio.run(staff.register(ready, issuer, homes)), flush=True)
            # the demo's provider is on a loopback address, which msnet otherwise never calls
            ready = dataclasses.replace(ready, identity_provider_private_addresses=True)
        if load_only:
            return
        app = create_app(ready)
        taxonomy.taxonomy()
        # What is loaded by now lives as long as the process: out of the collector's full passes,
        # which would otherwise walk it every few dozen requests (about 150 ms each).
        gc.freeze()
        # A request's objects die with it, by their counts, but an answer holds thousands of them
        # until it is sent (a page of fifty experts: rows, lists, structs), so at the default
        # threshold (700) the young pass ran about twice an expert search, and a middle one every
        # sixth, each walking what was still alive: 4 % of its instructions. 10,000 lets a request
        # end first; an office PATCH, which allocates little, is as it was.
        gc.set_threshold(10_000, 10, 10)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        logs.get_logger("msnet").info(
            "serving", url=f"http://{settings.host}:{settings.port}", processes=settings.processes
        )
        signal.signal(signal.SIGTERM, _raise_shutdown)
        try:
            if settings.processes == 1:
                uvicorn.Server(config).run()
            else:
                _serve_forked(config, settings.processes)
        except (KeyboardInterrupt, Shutdown):
            logs.get_logger("msnet").info("stopped")


def _demo_homes(args: argparse.Namespace) -> list[str] | None:
    """``msnet demo --organisations``: the demo organisations to load (None: all), each one known."""
    if not getattr(args, "organisations", None):
        return None
    from msnet.demo import specs

    slugs = [s.strip() for s in args.organisations.split(",") if s.strip()]
    unknown = sorted(set(slugs) - {o.slug for o in specs.organisations()})
    if unknown or not slugs:
        raise SettingsError(f"--organisations: not demo organisations: {', '.join(unknown) or '(none)'}")
    return slugs


@contextmanager
def _demo_provider(wanted: bool) -> Iterator[str | None]:
    """``msnet demo``'s OpenID Connect provider for the demo staff, on a free loopback port, while it
    serves (never for ``msnet serve``); its issuer, or None (not wanted, or the demo extra missing)."""
    if not wanted:
        yield None
        return
    from msnet.demo import provider, staff

    with ExitStack() as stack:
        try:
            issuer = stack.enter_context(provider.running(staff.users()))
        except StartupError as exc:
            print(f"msnet demo: no sign-in for the demo staff: {exc.detail}", file=sys.stderr, flush=True)
            issuer = None
        yield issuer


@contextmanager
def _shared_metrics(processes: int) -> Iterator[None]:
    """With several serving processes, a directory they all write their metrics to (prometheus-client's
    multiprocess mode: whichever answers /metrics reads every process's), named in the environment
    before any metric is made, emptied of a dead process's gauges, and removed at the end."""
    if processes == 1:
        yield
        return
    import shutil
    import tempfile

    if "prometheus_client" in sys.modules:  # it has chosen already: metrics of this process alone
        raise StartupError("metrics of several processes: prometheus_client was imported too early")
    directory = tempfile.mkdtemp(prefix="msnet-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        shutil.rmtree(directory, ignore_errors=True)


def _serve_forked(config: Any, processes: int) -> None:
    """Serve ``config`` from ``processes`` forks of this process on one listening socket: they share
    the frozen startup heap copy-on-write, and each opens its own connections when it starts. Ends
    when this process is told to stop (the forks are stopped first, each finishing what it serves)
    or when a fork ends by itself: the others are then stopped and msnet fails, for the process
    manager to restart it whole."""
    import uvicorn
    from prometheus_client.multiprocess import mark_process_dead

    listening = config.bind_socket()
    # Ctrl-C stops this process even where it was started with SIGINT ignored (in the background
    # of a shell), as it stops a single uvicorn process, which handles it itself.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    forks: list[int] = []
    try:
        for _ in range(processes):
            pid = os.fork()
            if pid == 0:  # a fork: serve until told to stop, then leave without running the parent's exits
                status = 0
                try:
                    uvicorn.Server(config).run(sockets=[listening])
                except (KeyboardInterrupt, Shutdown):
                    pass
                except BaseException:
                    logs.get_logger("msnet").exception("serving process failed")
                    status = EXIT_FAILED
                os._exit(status)
            forks.append(pid)
        ended, status = os.wait()
        forks.remove(ended)
        mark_process_dead(ended)
        raise StartupError(
            f"serving process {ended} ended ({os.waitstatus_to_exitcode(status)}); stopped the others"
        )
    finally:
        for pid in forks:
            os.kill(pid, signal.SIGTERM)
        for pid in forks:
            os.waitpid(pid, 0)
            mark_process_dead(pid)
        listening.close()


def _worker(settings: Settings) -> None:
    from msnet.db.runtime import database
    from msnet.jobs import run_alone

    with database(settings) as ready:
        asyncio.run(run_alone(ready))


def _migrate(settings: Settings) -> None:
    from msnet.db.runtime import database

    if not settings.embedded and not settings.database_admin_url:
        raise SettingsError("MSNET_DATABASE_ADMIN_URL: needed by `msnet migrate` (the schema owner's URL)")
    from msnet.db.migrate import head_revision

    with database(settings):
        print(f"schema at head ({head_revision()})")


def _migrate_check(settings: Settings) -> None:
    from msnet.db.embedded import EmbeddedServer
    from msnet.db.migrate import SchemaState, ahead_error, head_revision, schema_state

    if settings.embedded:
        server = EmbeddedServer(settings.data_dir)
        try:
            state, revision = asyncio.run(schema_state(server.start().admin))
        finally:
            server.stop()
    else:
        assert settings.database_url
        state, revision = asyncio.run(schema_state(settings.database_admin_url or settings.database_url))
    if state is SchemaState.HEAD:
        print(f"schema at head ({revision})")
    elif state is SchemaState.BEHIND:
        print(
            f"msnet: the schema is at {revision or 'no revision (never migrated)'}, behind this "
            f"release's {head_revision()}: run `msnet migrate`",
            file=sys.stderr,
        )
        sys.exit(EXIT_FAILED)
    else:
        print(f"msnet: {ahead_error(revision).detail}", file=sys.stderr)
        sys.exit(EXIT_BAD_SETTING)


def _backup(settings: Settings, file: Path) -> None:
    from msnet.db.backup import backup

    size = backup(settings, file, progress=_progress)
    print(f"backed up the database to {file} ({size:,} bytes)")


def _restore(settings: Settings, file: Path, force: bool) -> None:
    from msnet.db.backup import restore

    restore(settings, file, force=force, progress=_progress)
    print(f"restored the database from {file}")


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _org_create(settings: Settings, args: argparse.Namespace) -> None:
    from msnet.db.runtime import cli_session, database
    from msnet.organisations import schemas, service

    try:
        data = msgspec.convert(
            {
                "slug": args.slug,
                "name": args.name,
                "acronym": args.acronym,
                "kind": args.kind,
                "identifiers": args.identifier,
                "home_node": args.home_node,
            },
            schemas.OrganisationCreate,
        )
    except msgspec.ValidationError as exc:
        raise InvalidInput(str(exc)) from None

    async def run(url: str) -> schemas.Organisation:
        async with cli_session(url) as session:
            return service.to_schema(await service.create_organisation(session, data, origin=settings.issuer))

    with database(settings) as ready:
        assert ready.database_url
        org = asyncio.run(run(ready.database_url))
    print(msgspec.json.encode(org).decode())


def _org_idp_set(settings: Settings, args: argparse.Namespace) -> None:
    from msnet.auth.principal import Principal
    from msnet.db.engine import set_organisation
    from msnet.db.runtime import cli_session, database
    from msnet.organisations import service as organisations
    from msnet.web import identity, signin

    try:
        secret = args.client_secret_file.read_text().strip()
    except OSError as exc:
        raise InvalidInput(
            f"--client-secret-file: cannot read {args.client_secret_file}: {exc.strerror}"
        ) from None
    data = identity.ProviderSettings(
        issuer=args.issuer,
        client_id=args.client_id,
        client_secret=secret,
        email_domains=args.email_domain,
        role_claim=args.role_claim,
    )

    async def run(url: str) -> dict[str, object]:
        async with cli_session(url) as session:
            org = await organisations.get_by_slug(session, args.slug)
            await set_organisation(session, org.id)
            provider = await identity.set_provider(
                session,
                Principal.operator(org.id, org.slug, "msnet org idp set"),
                data,
                secret_key=settings.secret_key or "",
                private_addresses=settings.identity_provider_private_addresses,
            )
            return {
                "organisation": org.slug,
                "issuer": provider.issuer,
                "client_id": provider.client_id,
                "email_domains": provider.email_domains,
                "role_claim": provider.role_claim,
                "redirect_uri": signin.redirect_uri(settings, org.slug),
            }

    with database(settings) as ready:
        assert ready.database_url
        print(json.dumps(asyncio.run(run(ready.database_url))))


def _user_roles(settings: Settings, args: argparse.Namespace) -> None:
    from msnet.auth.principal import Principal
    from msnet.db.engine import set_organisation
    from msnet.db.runtime import cli_session, database
    from msnet.organisations import service as organisations
    from msnet.web import people

    people.check_roles(args.roles, "ROLE")

    async def run(url: str) -> dict[str, object]:
        async with cli_session(url) as session:
            org = await organisations.get_by_slug(session, args.org)
            await set_organisation(session, org.id)
            person = await people.find(session, org.id, email=args.email, subject=args.subject)
            held = set(person.roles)
            roles = held | set(args.roles) if args.user_command == "grant" else held - set(args.roles)
            await people.set_roles(
                session,
                Principal.operator(org.id, org.slug, f"msnet user {args.user_command}"),
                person,
                list(roles),
            )
            return {
                "organisation": org.slug,
                "issuer": person.issuer,
                "subject": person.subject,
                "email": person.email,
                "roles": person.roles,
            }

    with database(settings) as ready:
        assert ready.database_url
        print(json.dumps(asyncio.run(run(ready.database_url))))


def _client_create(settings: Settings, args: argparse.Namespace) -> None:
    from msnet.audit.service import AuditEvent, record
    from msnet.auth import schemas as auth_schemas
    from msnet.auth import service as auth
    from msnet.db.engine import set_organisation
    from msnet.db.runtime import cli_session, database
    from msnet.organisations import service as organisations

    jwks = None
    if args.jwks_file:
        try:
            jwks = json.loads(args.jwks_file.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"--jwks-file: cannot read a JSON key set from {args.jwks_file}: {exc}"
            ) from None
    try:
        data = msgspec.convert(
            {"name": args.name, "scopes": args.scopes.split(), "jwks": jwks}, auth_schemas.ClientCreate
        )
    except msgspec.ValidationError as exc:
        raise InvalidInput(str(exc)) from None

    async def run(url: str) -> auth_schemas.ClientCreated:
        async with cli_session(url) as session:
            org = await organisations.get_by_slug(session, args.org)
            await set_organisation(session, org.id)
            created = await auth.create_client(
                session, org, data, secret_key=settings.secret_key, created_by="operator"
            )
            await record(
                session,
                AuditEvent(
                    organisation_id=org.id,
                    actor="operator",
                    action="client.create",
                    resource_type="client",
                    resource_id=created.client_id,
                    outcome="success",
                    request_id=None,
                    source="cli",
                    payload={"name": data.name, "scopes": sorted(data.scopes), "jwks": jwks is not None},
                ),
            )
            return created

    with database(settings) as ready:
        assert ready.database_url
        created = asyncio.run(run(ready.database_url))
    print(json.dumps({k: v for k, v in msgspec.to_builtins(created).items() if v is not None}, indent=2))


def _roster_import(settings: Settings, args: argparse.Namespace) -> None:
    from msnet.auth.principal import Principal
    from msnet.db.engine import set_organisation
    from msnet.db.runtime import cli_session, database
    from msnet.organisations import service as organisations
    from msnet.roster import schemas
    from msnet.roster.transfer import decoded, import_roster

    try:
        text = decoded(args.file.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"{args.file}: cannot read it: {exc}") from None

    async def run(url: str) -> schemas.ImportReport:
        async with cli_session(url) as session:
            org = await organisations.get_by_slug(session, args.org)
            await set_organisation(session, org.id)
            try:
                return await import_roster(
                    session,
                    Principal.operator(org.id, org.slug, "cli"),
                    text,
                    origin=settings.issuer,
                    mode=args.mode,
                    dry_run=args.dry_run,
                    progress=_progress,
                )
            except InvalidInput as exc:
                for e in exc.extra["errors"]:
                    print(f"{e['field']}: {e['message']}", file=sys.stderr)
                raise MsnetError(f"{args.file}: {exc.detail}") from None

    with database(settings) as ready:
        assert ready.database_url
        report = asyncio.run(run(ready.database_url))
    listed = ("created", "updated", "unchanged") if args.dry_run else ("created", "updated")
    for kind in listed:
        for e in getattr(report, kind):
            changed = f" ({', '.join(e.changed)})" if e.changed else ""
            print(f"row {e.row}: {kind} {e.id or '(new)'} {e.external_id or '-'} {e.name}{changed}")
    counts = ", ".join(f"{len(getattr(report, k))} {k}" for k in ("created", "updated", "unchanged"))
    if args.dry_run:
        print(
            f"dry run ({report.mode}): would be {counts} in the roster of '{args.org}'; nothing was written"
        )
    else:
        print(f"imported ({report.mode}): {counts} in the roster of '{args.org}'")


def _keys_rotate(settings: Settings) -> None:
    from msnet.auth.keys import create_signing_key
    from msnet.db.runtime import cli_session, database

    async def run(url: str) -> str:
        async with cli_session(url) as session:
            return await create_signing_key(session, settings.secret_key)

    with database(settings) as ready:
        assert ready.database_url
        kid = asyncio.run(run(ready.database_url))
    print(f"new signing key {kid}; the previous key verifies until its tokens expire")


def _node_fingerprint(settings: Settings) -> None:
    from msnet.auth.keys import load_key_ring
    from msnet.db.engine import make_engine, make_sessionmaker
    from msnet.db.runtime import database
    from msnet.federation.node import fingerprint

    async def run(ready: Settings) -> str:
        engine = make_engine(ready.database_url, pool_size=1)  # type: ignore[arg-type]
        try:
            key_ring = await load_key_ring(make_sessionmaker(engine), ready)
        finally:
            await engine.dispose()
        return fingerprint(key_ring.signing.as_dict(private=False))

    with database(settings) as ready:
        print(asyncio.run(run(ready)))


def _peer(settings: Settings, args: argparse.Namespace) -> None:
    import msgspec

    from msnet.db.runtime import cli_session, database
    from msnet.federation import service

    async def run(url: str) -> Any:
        async with cli_session(url) as session:
            if args.peer_command == "add":
                return await service.add_peer(session, args.url, args.fingerprint, settings.issuer)
            if args.peer_command == "remove":
                return await service.remove_peer(session, args.url, settings.access_token_ttl)
            return await service.peer_statuses(session)

    with database(settings) as ready:
        assert ready.database_url
        result = asyncio.run(run(ready.database_url))
    if args.peer_command == "add":
        print(
            f"peered with {result.peer.issuer} ({result.peer.state}): organisations {', '.join(result.organisations) or '(none)'}"
        )
        if result.refused:
            print(f"refused (homed on another node): {', '.join(result.refused)}", file=sys.stderr)
    elif args.peer_command == "remove":
        print(f"removed {service.normalise(args.url)}: {result} replicated records dropped (tombstones left)")
    elif getattr(args, "json", False):
        print(msgspec.json.encode(result).decode())
    elif args.peer_command == "list":
        for status in result:
            print(f"{status.issuer}  {status.state}  {', '.join(status.organisations) or '-'}")
    else:
        print(_peer_table(result))


def _peer_table(statuses: list[Any]) -> str:
    """``msnet peer status`` as a table: one line a peer."""
    header = ("ISSUER", "STATE", "LAST SYNC", "LAG", "FAILURES", "LAST ERROR")
    rows = [header]
    for s in statuses:
        last_error = s.refused_reason or s.last_error or "-"
        rows.append(
            (
                s.issuer,
                s.state,
                s.last_sync_at.isoformat(timespec="seconds") if s.last_sync_at else "never",
                f"{s.lag_seconds:.0f}s" if s.lag_seconds is not None else "-",
                str(s.failures),
                last_error,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]) for row in rows
    )


def _audit_verify(settings: Settings) -> None:
    from msnet.audit.service import verify
    from msnet.db.engine import make_engine, make_sessionmaker
    from msnet.db.runtime import database
    from msnet.federation.checkpoints import witnessed_of_this_node

    if not settings.embedded and not settings.database_admin_url:
        raise SettingsError(
            "MSNET_DATABASE_ADMIN_URL: `msnet audit verify` reads the whole chain as the owner"
        )

    async def run(ready: Settings) -> Any:
        assert ready.database_admin_url
        engine = make_engine(ready.database_url, pool_size=1)  # type: ignore[arg-type]
        try:
            witnessed = await witnessed_of_this_node(make_sessionmaker(engine), ready)
        finally:
            await engine.dispose()
        return witnessed, await verify(ready.database_admin_url, anchors=witnessed.anchors)

    with database(settings) as ready:
        witnessed, report = asyncio.run(run(ready))
    for problem in witnessed.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if report.anchor is not None:
        raise MsnetError(f"audit chain rewritten before the witnessed {report.anchor}: {report.reason}")
    if report.first_bad is not None:
        raise MsnetError(f"audit chain broken at entry {report.first_bad}: {report.reason}")
    print(f"audit chain intact: {report.checked} entries checked")
    if report.anchored:
        print(
            f"witnessed: {len(witnessed.anchors)} checkpoints held by {', '.join(witnessed.asked)} match, "
            f"up to entry {report.anchored}; later entries are vouched for by the chain alone"
        )
    else:
        asked = ", ".join(witnessed.asked) or "no peer"
        print(f"not witnessed: {asked} holds no checkpoint of this chain; it is vouched for by itself alone")


def _digest_send(settings: Settings, period: str) -> None:
    from datetime import timedelta

    from msnet.db.engine import make_engine, make_sessionmaker
    from msnet.db.runtime import database
    from msnet.training.digest import send_due

    async def run(ready: Settings) -> Any:
        engine = make_engine(ready.database_url, pool_size=2)  # type: ignore[arg-type]
        try:
            return await send_due(make_sessionmaker(engine), ready, period)
        finally:
            await engine.dispose()

    with database(settings) as ready:
        report = asyncio.run(run(ready))
    last = report.end - timedelta(days=1)
    print(
        f"{period} digests for {report.start}..{last}: {report.sent} queued, "
        f"{report.empty} with nothing new (not sent)"
    )


def _openapi(settings: Settings, output: Path) -> None:
    from msnet.app import create_app

    document = create_app(settings).openapi_schema.to_schema()
    # Litestar gathers a handler's response headers in a set: name them in order, so the same code
    # writes the same bytes whatever the hash seed.
    for operations in document["paths"].values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                if "headers" in response:
                    response["headers"] = dict(sorted(response["headers"].items()))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {output}")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        environ = dict(os.environ)
        for option, variable in (
            ("host", "MSNET_HOST"),
            ("port", "MSNET_PORT"),
            ("processes", "MSNET_PROCESSES"),
        ):
            if getattr(args, option, None):
                environ[variable] = getattr(args, option)
        settings = Settings.from_env(environ)
        logs.configure(settings.log_level, settings.log_format)
        if args.command == "demo" and args.nodes != 1:
            from msnet.demo import nodes

            for port in range(settings.port, settings.port + args.nodes):
                _check_port_free(settings.host, port)
            sys.exit(nodes.run(settings, args.nodes))
        if args.command in ("serve", "demo") and not getattr(args, "no_serve", False):
            _check_port_free(settings.host, settings.port)  # before anything is written
        if (
            args.command in ("serve", "demo", "worker", "client", "digest", "node")
            or (args.command == "keys" and args.keys_command == "rotate")
            or (args.command == "org" and args.org_command == "idp")
        ):
            if settings.embedded:
                from msnet.db.embedded import check_data_dir

                check_data_dir(settings.data_dir)  # before the secret key is kept in it
            try:
                settings = ensure_secret_key(settings)
            except OSError as exc:  # MSNET_DATA_DIR/secret.key is a directory, say
                raise StartupError(
                    f"cannot read or make the node's secret key {exc.filename}: {exc.strerror}"
                ) from None
        if args.command in ("serve", "demo"):
            with _shared_metrics(settings.processes):
                _serve(
                    settings,
                    demo=args.command == "demo",
                    load_only=getattr(args, "no_serve", False),
                    homes=_demo_homes(args),
                )
        elif args.command == "worker":
            _worker(settings)
        elif args.command == "migrate" and args.check:
            _migrate_check(settings)
        elif args.command == "migrate":
            _migrate(settings)
        elif args.command == "backup":
            _backup(settings, args.file)
        elif args.command == "restore":
            _restore(settings, args.file, args.force)
        elif args.command == "org" and args.org_command == "idp":
            _org_idp_set(settings, args)
        elif args.command == "org":
            _org_create(settings, args)
        elif args.command == "user":
            _user_roles(settings, args)
        elif args.command == "roster":
            _roster_import(settings, args)
        elif args.command == "client":
            _client_create(settings, args)
        elif args.command == "keys" and args.keys_command == "rotate":
            _keys_rotate(settings)
        elif args.command == "keys":
            print(new_secret_key())
        elif args.command == "node":
            _node_fingerprint(settings)
        elif args.command == "peer":
            _peer(settings, args)
        elif args.command == "audit":
            _audit_verify(settings)
        elif args.command == "digest":
            _digest_send(settings, args.period)
        elif args.command == "openapi":
            _openapi(settings, args.output)
    except SettingsError as exc:
        print(f"msnet: bad setting: {exc.detail}", file=sys.stderr)
        sys.exit(EXIT_BAD_SETTING)
    except MsnetError as exc:
        print(f"msnet: {exc.detail}", file=sys.stderr)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
