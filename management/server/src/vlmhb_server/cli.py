"""``vlmhb-server``: serve (the default), ``token create|list|revoke``, ``migrate``, ``import``."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .db import Database, redact_url
from .settings import Settings

#: the settings of ``--workers N`` processes, as JSON (see ``worker_app``)
SETTINGS_ENV = "VLMHB_SERVER_SETTINGS"
PARENT_ENV = "VLMHB_SERVER_PARENT_PID"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", type=Path, default=Path(".work"), help="default: .work")
    parser.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy async URL (default: sqlite+aiosqlite:///<workdir>/server.sqlite; "
        "PostgreSQL: postgresql+asyncpg://user:pass@host/db)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vlmhb-server",
        description="VLMHyperBench management server. Every route but GET /api/health needs "
        "'Authorization: Bearer <token>' (tokens: VLMHB_SERVER_TOKEN, `vlmhb-server token create`).",
    )
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the server (the default command)")
    _common(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--registries", type=Path, default=Path("registries"))
    serve.add_argument("--mode", default=None, help="registry mode (default: RUN_MODE or prod)")
    serve.add_argument("--max-concurrent", type=int, default=1, help="experiments run at once")
    serve.add_argument(
        "--executor", default=None, help="executor for runs (default: the experiment's)"
    )
    serve.add_argument(
        "--no-resume", action="store_true", help="leave interrupted experiments for a manual resume"
    )
    serve.add_argument("--ws-queue-size", type=int, default=1000, help=argparse.SUPPRESS)
    serve.add_argument("--worker-module", default="vlmhb_server.worker", help=argparse.SUPPRESS)
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--max-body-mb",
        type=float,
        default=4.0,
        help="the largest request body, JSON and uploads alike (default: 4)",
    )
    serve.add_argument(
        "--import-root",
        type=Path,
        action="append",
        default=[],
        help="a folder POST /api/import may import from (repeatable; default: --workdir)",
    )
    serve.add_argument(
        "--allow-storage",
        action="append",
        default=[],
        metavar="PREFIX",
        help="a storage URI prefix a submitted experiment may name (repeatable; default: only "
        "the registry entry's own storage)",
    )
    serve.add_argument(
        "--allow-storage-endpoint",
        action="append",
        default=[],
        metavar="URL",
        help="an S3 endpoint a submitted experiment may name (repeatable)",
    )
    serve.add_argument(
        "--max-parallelism",
        type=int,
        default=8,
        help="the most models a submitted experiment may serve at once (default: 8)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes answering the API; one of them supervises the experiment queue "
        f"(default: min(4, CPU count) = {default_workers()})",
    )
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log every request at INFO (--no-access-log, or --log-level warning, under load: "
        "a log line costs about as much as a samples page)",
    )
    token = sub.add_parser("token", help="manage API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token and print it (shown once)")
    _common(create)
    create.add_argument(
        "--name", default="default", help="the token's owner (recorded as who launched a run)"
    )
    create.add_argument(
        "--scope",
        choices=["read", "run", "admin"],
        default="read",
        help="read: dashboard and results; run: also submit, cancel, resume; admin: also "
        "tokens and imports (default: read)",
    )
    listing = token_sub.add_parser("list", help="list tokens: id, owner, scope, created")
    _common(listing)
    revoke = token_sub.add_parser(
        "revoke", help="delete a token (by id) or every token of an owner; refused at once"
    )
    _common(revoke)
    revoke.add_argument("token", help="a token id (from `token list`) or an owner's name")
    migrate_cmd = sub.add_parser("migrate", help="apply database migrations and exit")
    _common(migrate_cmd)
    imp = sub.add_parser(
        "import", help="bring the reports of CLI runs in a work dir into the database"
    )
    _common(imp)
    imp.add_argument("source", type=Path, help="the work dir of `vlmhb run` (e.g. .work)")
    imp.add_argument("--experiment", action="append", help="only these (default: every report)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list = ["serve", *args_list]
    args = _parser().parse_args(args_list)
    from .migrate import SchemaError, migrate

    if args.command in ("token", "migrate", "import"):
        settings = Settings(workdir=args.workdir, database_url=args.database_url)
        settings.create_dirs()

        async def run() -> str:
            database = Database(settings.url)
            try:
                revision = await migrate(database)
                if args.command == "migrate":
                    return f"{redact_url(settings.url)}: schema at revision {revision}"
                if args.command == "import":
                    return await _import(database, args.source, args.experiment)
                return await _token_command(database, args)
            finally:
                await database.dispose()

        try:
            print(asyncio.run(run()))
        except (SchemaError, FileNotFoundError, LookupError, ValueError) as exc:
            print(f"vlmhb-server: {exc}", file=sys.stderr)
            return 2
        return 0
    return _serve(args)


async def _token_command(database: Database, args: argparse.Namespace) -> str:
    from datetime import UTC, datetime

    from .auth import create_token, list_tokens, revoke_tokens

    if args.token_command == "create":
        return await create_token(database, args.name, args.scope)
    if args.token_command == "list":
        rows = await list_tokens(database)
        return (
            "\n".join(
                f"{r['id']}\t{r['scope']}\t{r['name']}\t"
                f"{datetime.fromtimestamp(r['created_at'], UTC):%Y-%m-%d %H:%M}"
                for r in rows
            )
            or "no stored tokens (VLMHB_SERVER_TOKEN, if set, is not stored)"
        )
    count = await revoke_tokens(database, args.token)
    if not count:
        raise LookupError(f"no token with id or owner {args.token!r} (see `token list`)")
    return f"revoked {count} token(s): {args.token}"


async def _import(database: Database, source: Path, only: list[str] | None) -> str:
    from . import core_bridge
    from .importer import import_experiment

    workdir = source.expanduser().resolve()
    names = only or core_bridge.experiments_in(workdir)
    if not names:
        raise FileNotFoundError(f"{workdir}: no reports/<experiment>/runs.json to import")
    lines = []
    for name in names:
        done = await import_experiment(database, workdir, name)
        lines.append(
            f"imported {name} from {workdir} as experiment {done['id']}: "
            f"{done['runs']} runs, {done['samples']} samples"
        )
    return "\n".join(lines)


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _die_with_parent() -> None:
    """A worker of ``--workers N`` dies with the process that started it, even by ``kill -9``:
    left behind it would keep the port and the supervisor lock, and the next server would
    share the queue with a ghost. (Experiment workers are separate and do survive.)"""
    parent = int(os.environ.get(PARENT_ENV, "0") or 0)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):

        def watch() -> None:  # elsewhere: notice the parent's death within a second
            while os.getppid() == parent:
                time.sleep(1.0)
            os.kill(os.getpid(), signal.SIGKILL)

        threading.Thread(target=watch, name="vlmhb-parent-watch", daemon=True).start()
    if parent and os.getppid() != parent:
        os._exit(1)  # the parent died before the line above took effect


def worker_app() -> Any:
    """The app of one of ``--workers N`` processes (uvicorn calls this factory in each)."""
    _die_with_parent()
    from .app import create_app

    return create_app(Settings.from_json(os.environ[SETTINGS_ENV]))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .auth import install_log_redaction
    from .migrate import SchemaError, migrate

    workers = args.workers if args.workers is not None else default_workers()
    if workers < 1:
        print(f"vlmhb-server: --workers: expected 1 or more, got {workers}", file=sys.stderr)
        return 2
    settings = Settings(
        workdir=args.workdir,
        registries=args.registries,
        database_url=args.database_url,
        mode=args.mode,
        max_concurrent=args.max_concurrent,
        resume_interrupted=not args.no_resume,
        executor=args.executor,
        ws_queue_size=args.ws_queue_size,
        worker_module=args.worker_module,
        workers=workers,
        migrate_on_start=False,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        import_roots=args.import_root,
        storage_allow=args.allow_storage,
        storage_endpoints=args.allow_storage_endpoint,
        max_parallelism=args.max_parallelism,
    )
    settings.create_dirs()
    install_log_redaction()
    if not settings.tokens:
        print(
            "vlmhb-server: no VLMHB_SERVER_TOKEN set; only tokens made by "
            "`vlmhb-server token create` are accepted",
            file=sys.stderr,
        )

    async def migrate_once() -> str:  # here, once, not racing in N processes
        database = Database(settings.url)
        try:
            return await migrate(database)
        finally:
            await database.dispose()

    try:
        asyncio.run(migrate_once())
    except SchemaError as exc:
        print(f"vlmhb-server: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(
            f"vlmhb-server: cannot migrate database {redact_url(settings.url)}: "
            f"{type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 2
    print(
        f"vlmhb-server: http://{args.host}:{args.port}/api/docs  database "
        f"{redact_url(settings.url)}  workdir {settings.workdir}  workers {workers}",
        file=sys.stderr,
        flush=True,
    )
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "access_log": args.access_log,
        "ws": "websockets",
    }
    if workers > 1:
        os.environ[SETTINGS_ENV] = settings.to_json()
        os.environ[PARENT_ENV] = str(os.getpid())
        uvicorn.run(f"{__name__}:worker_app", factory=True, workers=workers, **common)
        return 0
    from .app import create_app  # here: with --workers N only the N processes need the app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), **common))
    try:
        server.run()
    except SchemaError as exc:
        print(f"vlmhb-server: {exc}", file=sys.stderr)
        return 2
    return 0 if server.started else 2
