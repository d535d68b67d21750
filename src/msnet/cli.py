"""msnet: serve | demo | migrate | org … | openapi."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec

from msnet import logs
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
        if name == "demo":
            cmd.add_argument("--no-serve", action="store_true", help="load the demo data and exit")

    commands.add_parser("migrate", help="bring the schema to the latest revision")

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

    openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument(
        "--output", type=Path, default=Path("openapi/openapi.json"), help="default: openapi/openapi.json"
    )
    return parser


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(f"port {port} on {host} is already in use") from None
            raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _serve(settings: Settings, *, demo: bool, load_only: bool = False) -> None:
    import uvicorn

    from msnet import demo as demo_data
    from msnet.app import create_app
    from msnet.db.runtime import database

    if not load_only:
        _check_port_free(settings.host, settings.port)
    with database(settings) as ready:
        if demo:
            print(asyncio.run(demo_data.load(ready)), flush=True)
        if load_only:
            return
        config = uvicorn.Config(
            create_app(ready),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        logs.get_logger("msnet").info("serving", url=f"http://{settings.host}:{settings.port}")
        signal.signal(signal.SIGTERM, _raise_shutdown)
        try:
            uvicorn.Server(config).run()
        except (KeyboardInterrupt, Shutdown):
            logs.get_logger("msnet").info("stopped")


def _migrate(settings: Settings) -> None:
    from msnet.db.runtime import database

    if not settings.embedded and not settings.database_admin_url:
        raise SettingsError("MSNET_DATABASE_ADMIN_URL: needed by `msnet migrate` (the schema owner's URL)")
    from msnet.db.migrate import head_revision

    with database(settings):
        print(f"schema at head ({head_revision()})")


def _org_create(settings: Settings, args: argparse.Namespace) -> None:
    from msnet.db.runtime import cli_session, database
    from msnet.directory import schemas, service

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


def _openapi(settings: Settings, output: Path) -> None:
    from msnet.app import create_app

    document = create_app(settings).openapi_schema.to_schema()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {output}")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        environ = dict(os.environ)
        for option, variable in (("host", "MSNET_HOST"), ("port", "MSNET_PORT")):
            if getattr(args, option, None):
                environ[variable] = getattr(args, option)
        settings = Settings.from_env(environ)
        logs.configure(settings.log_level, settings.log_format)
        if args.command in ("serve", "demo"):
            _serve(settings, demo=args.command == "demo", load_only=getattr(args, "no_serve", False))
        elif args.command == "migrate":
            _migrate(settings)
        elif args.command == "org":
            _org_create(settings, args)
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
