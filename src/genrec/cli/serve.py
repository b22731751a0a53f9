"""``genrec serve`` (the web service and browser UI) and ``genrec keys`` (API keys).

Every option is a key of ``genrec.config.ServeConfig`` (``--set`` reaches its ``loop`` part, as in
``genrec chat``); bad values are one-line errors naming the option, exit code 2 (``cli/errors.py``).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Optional, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from genrec.cli.errors import EXIT_USAGE, print_error
from genrec.cli.render import literal

if TYPE_CHECKING:
    from collections.abc import Callable

    from genrec.config import ServeConfig
    from genrec.data.accounts import AccountStore
    from genrec.data.dataset import Dataset

T = TypeVar("T")

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
console = Console(stderr=True)
out = Console()

DB_OPT = typer.Option(
    None,
    "--db",
    help="Database URL for users' data: postgresql://... or a DuckDB file (default: $GENREC_DB_URL or the store).",
)
STORE_OPT = typer.Option(None, "--store", help="DuckDB store file (default: $GENREC_HOME/genrec.duckdb).")
#: ServeConfig keys whose command-line option is named otherwise.
OPTION_NAMES = {"dataset_options": "--opt", "build_loop": "--loop/--no-loop", "log_impressions": "--no-impressions"}


def _fail(message: str) -> NoReturn:
    print_error(message)
    raise typer.Exit(EXIT_USAGE)


def serve(
    dataset: str = typer.Option("synthetic", "--dataset", help="Dataset spec (default: the built-in synthetic one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", help="Server processes (more than one needs PostgreSQL: --db)."),
    db: Optional[str] = DB_OPT,
    store: Optional[Path] = STORE_OPT,
    options: Optional[list[str]] = typer.Option(None, "--opt", help="Dataset option key=value (repeatable)."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="Loop setting part.key=value (as genrec chat)."),
    recommender: Optional[str] = typer.Option(None, "--recommender", help="Model behind /v1/recommendations."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", help="A saved model for /v1/recommendations."),
    loop: bool = typer.Option(True, "--loop/--no-loop", help="Build the generative loop (off: recommendations only)."),
    threads: int = typer.Option(1, "--threads", help="Torch threads of the recommendations model."),
    batch_max: int = typer.Option(64, "--batch-max", help="Most recommendation requests in one forward pass."),
    batch_wait_ms: float = typer.Option(2.0, "--batch-wait-ms", help="Longest wait to fill a batch (ms)."),
    turn_workers: int = typer.Option(1, "--turn-workers", help="Turns of the loop run at once."),
    turn_queue: int = typer.Option(32, "--turn-queue", help="Turns waiting at most (more get 429)."),
    secure_cookies: bool = typer.Option(False, "--secure-cookies", help="Mark cookies Secure (behind HTTPS)."),
    max_body_bytes: int = typer.Option(1 << 20, "--max-body-bytes", help="Larger request bodies get 413."),
    no_impressions: bool = typer.Option(False, "--no-impressions", help="Do not store the recommendation lists shown."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Serve the REST API and the browser UI (http://HOST:PORT/). The first start trains the models."""
    from genrec.cli.main import _parse_options

    settings = serve_config(
        {
            "dataset": dataset,
            "dataset_options": _parse_options(options),
            "store": str(store or ""),
            "db": db or "",
            "host": host,
            "port": port,
            "workers": workers,
            "build_loop": loop,
            "recommender": recommender or "",
            "model_dir": str(model_dir or ""),
            "threads": threads,
            "batch_max": batch_max,
            "batch_wait_ms": batch_wait_ms,
            "turn_workers": turn_workers,
            "turn_queue": turn_queue,
            "secure_cookies": secure_cookies,
            "max_body_bytes": max_body_bytes,
            "log_impressions": not no_impressions,
            "log_level": log_level.lower(),
        },
        overrides or [],
    )
    run_server(settings)


def serve_config(options: dict[str, Any], overrides: list[str]) -> ServeConfig:
    """The validated ServeConfig of the command line; a bad value is a one-line error naming its option."""
    from genrec.config import LoopSettings, ServeConfig, apply_overrides
    from genrec.protocol import model_config

    try:
        settings = ServeConfig.model_validate(options)
    except ValidationError as err:
        first = err.errors()[0]
        key = str(first["loc"][0])
        option = OPTION_NAMES.get(key, "--" + key.replace("_", "-"))
        got = f" (got {first['input']!r})" if first["type"] != "missing" else ""
        _fail(f"{option}: {first['msg']}{got}")
    try:
        loop = apply_overrides(LoopSettings(progress=False), overrides)
        model_config(loop.pipeline.recommender, loop.recommender)  # recommender.* keys checked now, not at load
    except ValueError as err:  # ConfigError, or an unknown pipeline.recommender
        _fail(f"--set: {err}")
    if settings.recommender:
        try:
            model_config(settings.recommender)
        except ValueError as err:
            _fail(f"--recommender: {err}")
    if settings.model_dir:
        path = Path(settings.model_dir)
        if not path.is_dir():
            _fail(f"--model-dir {path}: no such folder")
        if not (path / "meta.json").is_file():
            _fail(f"--model-dir {path}: not a saved genrec model (no meta.json)")
    return settings.replace(loop=loop)


def run_server(settings: ServeConfig) -> None:
    """Check everything a start needs (listening address, store, dataset, saved model), then run uvicorn.

    Every check runs before the server listens, so a bad setting is one line and exit code 2, never
    a server that answers "loading failed" forever. This process holds a DuckDB file: its one writer.
    """
    import uvicorn

    from genrec.data.sql import is_postgres, open_database, resolve_url
    from genrec.serve.settings import to_env

    url = resolve_url(settings.db or None, settings.store or None)
    if settings.workers > 1 and not is_postgres(url):
        _fail(
            "--workers > 1 needs PostgreSQL (--db postgresql://... or GENREC_DB_URL): the embedded DuckDB "
            "file allows one writing process"
        )
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sock = _bind(settings.host, settings.port)
    # Opened and first written here, before uvicorn starts, so a busy, foreign, read-only, full or
    # unreachable store is a one-line error (cli/errors.py); the app's start-up gets the same held database.
    db = open_database(url)
    dataset = _load_dataset(settings)
    if settings.model_dir:
        _check_saved_model(Path(settings.model_dir), dataset)
    if settings.bootstrap_admin:
        from genrec.data.accounts import AccountStore
        from genrec.serve.app import bootstrap_admin

        bootstrap_admin(AccountStore(db))
    settings = settings.replace(bootstrap_admin=False)
    if settings.workers == 1:
        from genrec.serve.app import create_app

        app = create_app(settings, dataset=dataset)
        config = uvicorn.Config(app, log_level=settings.log_level, access_log=False)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        logging.getLogger("genrec.serve").info("listening on http://%s:%d (Ctrl+C stops)", shown, port)
        uvicorn.Server(config).run(sockets=[sock])  # the socket bound above: no second bind that could fail
        return
    sock.close()  # each worker binds for itself (SO_REUSEADDR); the check above caught a taken port
    _prepare_for_workers(settings, db, dataset)
    os.environ.update(to_env(settings))
    uvicorn.run(
        "genrec.serve.app:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
    )


def _bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (as uvicorn binds); a taken port or a bad host is one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, UnicodeError, OverflowError) as err:
        sock.close()
        if isinstance(err, socket.gaierror) or not isinstance(err, OSError):
            _fail(f"--host {host!r}: not an address or host name this machine can listen on ({err})")
        if err.errno == errno.EADDRINUSE:
            _fail(f"--port {port}: the port is in use on {host} (another server?); choose another with --port")
        if err.errno == errno.EADDRNOTAVAIL:
            _fail(f"--host {host!r}: not an address of this machine")
        if err.errno in (errno.EACCES, errno.EPERM):
            _fail(f"--port {port}: not allowed to listen on it ({err.strerror}); ports below 1024 need privileges")
        _fail(f"--host/--port: cannot listen on {host}:{port} ({err.strerror or err})")
    return sock


def _load_dataset(settings: ServeConfig) -> Dataset:
    """The dataset of ``--dataset`` (loaded, or found in the store); a failure names the setting."""
    from genrec.cli.errors import describe
    from genrec.data.sources import resolve_dataset
    from genrec.data.store import Store

    try:
        dataset = resolve_dataset(settings.dataset, Store(settings.store or None), dict(settings.dataset_options))
    except Exception as err:
        message = describe(err)
        if message is None:
            raise
        _fail(f"--dataset {settings.dataset}: {message}")
    logging.getLogger("genrec.serve").info(
        "dataset %s: %d users, %d items", dataset.name, dataset.n_users, dataset.n_items
    )
    return dataset


def _check_saved_model(path: Path, dataset: Dataset) -> None:
    """Refuse a saved model that does not load or was trained on another catalog than ``dataset``."""
    from genrec.cli.errors import describe
    from genrec.models.base import Recommender, catalog_mismatch

    try:
        model = Recommender.load(path)  # a damaged file is a ValueError naming it
    except Exception as err:
        message = describe(err)
        if message is None:
            raise
        _fail(f"--model-dir {path}: {message}")
    difference = catalog_mismatch(model, dataset)
    if difference:
        _fail(f"--model-dir {path}: trained on another catalog than {dataset.name}: {difference}")


def _prepare_for_workers(settings: ServeConfig, db: Any, dataset: Dataset) -> None:
    """Train (or find cached) every model once before the worker processes start."""
    from genrec.serve.service import Service

    service = Service(settings, db, dataset=dataset)
    logging.getLogger("genrec.serve").info("preparing the models once for %d workers", settings.workers)
    service.engine.build(0)
    db.close()


def _accounts(db: Optional[str], store: Optional[Path], existing: bool = False) -> AccountStore:
    """The key store of ``--db`` / ``--store``; ``existing``: a DuckDB file that is not there is an error."""
    from genrec.data.accounts import AccountStore
    from genrec.data.sql import database_for, is_postgres, resolve_url

    url = resolve_url(db, store)
    if existing and not is_postgres(url):
        path = Path(url.removeprefix("duckdb://")).expanduser()
        if not path.parent.is_dir():
            _fail(f"{path}: no such folder {path.parent}, so no store and no keys there (check --store or --db)")
        if not path.is_file():
            _fail(f"{path}: no such store file, so no keys there (check --store or --db; genrec keys create makes one)")
    return AccountStore(database_for(url))


def _busy(call: Callable[[], T]) -> T:
    """Run a key command; a store a running server holds gets a hint how to manage keys then."""
    from genrec.data.errors import StoreBusyError

    try:
        return call()
    except StoreBusyError as err:
        _fail(f"{err}. With the server running, manage keys on its admin page or with POST /v1/admin/keys")


@keys_app.command("create")
def keys_create(
    user: str = typer.Option(..., "--user", help="The user the key acts as."),
    admin: bool = typer.Option(False, "--admin", help="An admin key (audit log, keys, reload)."),
    label: str = typer.Option("", "--label", help="A note stored with the key."),
    db: Optional[str] = DB_OPT,
    store: Optional[Path] = STORE_OPT,
) -> None:
    """Create an API key and print it (only now: only its hash is stored)."""
    accounts = _accounts(db, store)
    key_id, key = _busy(lambda: accounts.create_key(user, "admin" if admin else "user", label))
    console.print(literal(f"created {'admin ' if admin else ''}key {key_id} for {user}; it is shown only now:"))
    out.print(key, soft_wrap=True)


@keys_app.command("list")
def keys_list(db: Optional[str] = DB_OPT, store: Optional[Path] = STORE_OPT) -> None:
    """List the keys (ids, users, roles; never secrets)."""
    accounts = _accounts(db, store, existing=True)
    rows = _busy(accounts.keys)
    table = Table(title="API keys")
    for col in ("key id", "user", "role", "label", "revoked"):
        table.add_column(col)
    for r in rows:
        row = (r["key_id"], r["user_id"], r["role"], r["label"] or "", "yes" if r["revoked_at"] else "")
        table.add_row(*(literal(str(cell)) for cell in row))
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key id (the 12 hex digits after grk_)."),
    db: Optional[str] = DB_OPT,
    store: Optional[Path] = STORE_OPT,
) -> None:
    """Revoke a key (its browser sessions end too)."""
    accounts = _accounts(db, store, existing=True)
    if not _busy(lambda: accounts.revoke_key(key_id)):
        _fail(f"no active key {key_id!r}")
    console.print(literal(f"revoked {key_id}"))
