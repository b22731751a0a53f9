"""A small SQL layer under genrec's stores: one interface, an embedded DuckDB and a PostgreSQL backend.

Stores write SQL with ``?`` placeholders and portable types (VARCHAR, BIGINT, DOUBLE PRECISION,
sequences, ``RETURNING``); the PostgreSQL backend turns ``?`` into psycopg's ``%s``. A write runs
in ``transaction()`` and is committed when the block ends (rolled back on an exception), so a
caller that acknowledges after the block acknowledges only what is stored.

DuckDB allows one writing process per file. ``open_database`` opens a file once per process and
holds it (the server, ``genrec chat``): every store in the process shares that connection, writes
are serialised by a lock, reads use one cursor per thread. ``database_for`` gives the held one when
there is one, else a transient database that connects per call (the CLI's one-off commands).
"""

from __future__ import annotations

import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genrec.data.store import connect_file, default_store_path

ENV_URL = "GENREC_DB_URL"
_PG = re.compile(r"^postgres(ql)?://")


class StoreUnavailableError(RuntimeError):
    """The database cannot be reached (PostgreSQL down, wrong URL or credentials)."""


class Tx:
    """The statements of one transaction."""

    def __init__(self, cursor: Any, convert: bool) -> None:
        self._cur = cursor
        self._convert = convert

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; returns its rows (empty for statements without a result)."""
        self._cur.execute(_pg_sql(sql) if self._convert else sql, list(params))
        return _rows(self._cur)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each parameter row."""
        if rows:
            self._cur.executemany(_pg_sql(sql) if self._convert else sql, [list(r) for r in rows])


class Database(ABC):
    """A SQL database genrec's stores keep their tables in."""

    kind: str = ""
    url: str = ""

    def __init__(self) -> None:
        self._ensured: set[str] = set()
        self._ensure_lock = threading.Lock()

    @abstractmethod
    def transaction(self) -> Any:
        """A context manager yielding a ``Tx``; committed when the block ends, rolled back on error."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement (sees every committed write)."""

    def close(self) -> None:
        """Release connections (a held database is forgotten by ``open_database``)."""
        self._ensured.clear()

    def ensure(self, name: str, ddl: Sequence[str]) -> None:
        """Run a store's ``CREATE ... IF NOT EXISTS`` statements once per database object."""
        if name in self._ensured:
            return
        with self._ensure_lock:
            if name in self._ensured:
                return
            with self.transaction() as tx:
                for statement in ddl:
                    tx.execute(statement)
            self._ensured.add(name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact(self.url)!r})"


class DuckDBDatabase(Database):
    """An embedded DuckDB file: held open (one writer per process) or connected per call."""

    kind = "duckdb"

    def __init__(self, path: str | Path, hold: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        self.url = str(self.path)
        self.hold = hold
        self._lock = threading.RLock()
        self._local = threading.local()
        self._con: Any = None
        if hold:
            self._con = self._connect()

    def _connect(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return connect_file(self.path) if self._con is None else self._con.cursor()

    def new_cursor(self) -> Any:
        """A new cursor of the held connection (the caller closes it), or None when transient."""
        return None if self._con is None else self._con.cursor()

    def cursor(self) -> Any:
        """A connection for this thread (a cursor of the held connection), or None when transient."""
        if self._con is None:
            return None
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction (serialised with the process's other writes)."""
        with self._lock:
            con = self._con.cursor() if self._con is not None else self._connect()
            try:
                con.execute("BEGIN TRANSACTION")
                try:
                    yield Tx(con, convert=False)
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                con.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement."""
        cur = self.cursor()
        if cur is not None:
            return list(cur.execute(sql, list(params)).fetchall())
        with self._lock:
            con = self._connect()
            try:
                return list(con.execute(sql, list(params)).fetchall())
            finally:
                con.close()

    def close(self) -> None:
        """Close the held connection and forget it."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
        super().close()
        _forget(self)


class PostgresDatabase(Database):
    """PostgreSQL through a psycopg 3 connection pool: for several server processes sharing one store."""

    kind = "postgresql"

    def __init__(self, url: str, min_size: int = 1, max_size: int = 8) -> None:
        super().__init__()
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError as err:  # pragma: no cover - the serve extra installs them
            raise StoreUnavailableError(
                "PostgreSQL needs psycopg and psycopg-pool: pip install 'genrec[serve]'"
            ) from err
        self.url = url
        self._errors = (psycopg.OperationalError,)
        self._pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=False, kwargs={"autocommit": False})
        try:
            self._pool.open(wait=True, timeout=10)
        except Exception as err:
            self._pool.close()
            raise StoreUnavailableError(f"cannot reach PostgreSQL at {redact(url)}: {err}") from err

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One transaction on a pooled connection."""
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield Tx(cur, convert=True)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement."""
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(_pg_sql(sql), list(params))
            rows = _rows(cur)
            conn.rollback()  # end the implicit read transaction
            return rows

    def close(self) -> None:
        """Close the pool and forget it."""
        self._pool.close()
        super().close()
        _forget(self)


_HELD: dict[str, Database] = {}
_HELD_LOCK = threading.RLock()


def resolve_url(url: str | Path | None = None, store_path: str | Path | None = None) -> str:
    """The database to use: ``url`` if given, else $GENREC_DB_URL, else the DuckDB store file."""
    if url:
        return str(url)
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    return str(Path(store_path) if store_path else default_store_path())


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return bool(_PG.match(url))


def _key(url: str) -> str:
    if is_postgres(url):
        return url
    return str(Path(url.removeprefix("duckdb://")).expanduser().resolve())


def open_database(url: str | Path | None = None) -> Database:
    """The process's held database for ``url`` (see ``resolve_url``), opened on first use."""
    target = resolve_url(url)
    key = _key(target)
    with _HELD_LOCK:
        db = _HELD.get(key)
        if db is None:
            db = PostgresDatabase(target) if is_postgres(target) else DuckDBDatabase(key, hold=True)
            _HELD[key] = db
        return db


def database_for(target: str | Path | Database | None = None) -> Database:
    """A database for a store: the given one, the held one for that URL or path, or a transient DuckDB."""
    if isinstance(target, Database):
        return target
    url = resolve_url(target)
    if is_postgres(url):
        return open_database(url)
    with _HELD_LOCK:
        held = _HELD.get(_key(url))
    return held if held is not None else DuckDBDatabase(_key(url), hold=False)


def held_duckdb(path: str | Path) -> DuckDBDatabase | None:
    """The DuckDB database this process holds for ``path``, if any (readers must share its connection)."""
    with _HELD_LOCK:
        db = _HELD.get(_key(str(path)))
    return db if isinstance(db, DuckDBDatabase) else None


def _forget(db: Database) -> None:
    with _HELD_LOCK:
        for key, value in list(_HELD.items()):
            if value is db:
                del _HELD[key]


def redact(url: str) -> str:
    """``url`` without its password."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _rows(cursor: Any) -> list[tuple[Any, ...]]:
    if cursor.description is None:
        return []
    return [tuple(r) for r in cursor.fetchall()]
