"""A small SQL layer under genrec's stores: one interface, an embedded DuckDB and a PostgreSQL backend.

Stores write SQL with ``?`` placeholders and portable types (VARCHAR, BIGINT, DOUBLE PRECISION,
sequences, ``RETURNING``); the PostgreSQL backend turns ``?`` into psycopg's ``%s``. A write runs
in ``transaction()`` and is committed when the block ends (rolled back on an exception), so a
caller that acknowledges after the block acknowledges only what is stored.

DuckDB allows one writing process per file, and every DuckDB connection is opened by
``genrec.data.connection`` (lock-aware: a file another process holds is waited for, then named in a
one-line ``StoreBusyError``). ``open_database`` holds a file for the process (the server,
``genrec chat``): every store in the process shares that connection, writes are serialised by a
lock, reads use one cursor per thread. ``database_for`` gives the held one when there is one, else a
transient database that connects per call (the CLI's one-off commands): its reads open the file
read-only (several processes may read at once) and never create anything.
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

from genrec.data import connection
from genrec.data.errors import StoreUnavailableError
from genrec.data.store import check_store_path, default_store_path

ENV_URL = "GENREC_DB_URL"
_PG = re.compile(r"^postgres(ql)?://")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
KNOWN_SCHEMES = ("postgresql", "postgres", "duckdb")
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)

__all__ = ["ENV_URL", "Database", "DuckDBDatabase", "PostgresDatabase", "StoreUnavailableError", "Tx"]


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
    _ddl_guard: str = ""  # run first in the transaction that creates a store's tables

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
                if self._ddl_guard:
                    tx.execute(self._ddl_guard)
                for statement in ddl:
                    tx.execute(statement)
            self._ensured.add(name)

    def readable(self, name: str, ddl: Sequence[str]) -> bool:
        """Whether a store's tables are there to read (a store that was never written has none)."""
        self.ensure(name, ddl)
        return True

    def read(self, name: str, ddl: Sequence[str], sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a store's read-only statement; none when the store's tables were never created."""
        return self.query(sql, params) if self.readable(name, ddl) else []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact(self.url)!r})"


class DuckDBDatabase(Database):
    """An embedded DuckDB file: held open by this process (its one writer) or connected per call."""

    kind = "duckdb"

    def __init__(self, path: str | Path, hold: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        self.url = str(self.path)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._held = False
        if hold:
            connection.hold(self.path)
            self._held = True

    @property
    def held(self) -> bool:
        """Whether this process holds the file (else each call opens it)."""
        return self._held

    def _cursor(self) -> Any:
        """This thread's cursor of the held connection (None when transient)."""
        if not self._held:
            return None
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = connection.connect(self.path)
            self._local.cursor = cur
        return cur

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction (serialised with the process's other writes)."""
        with self._lock:
            if not self._held:
                connection.prepare_store_dir(self.path)
            con = connection.connect(self.path)
            try:
                with connection.transaction(con, self.path):
                    yield Tx(con, convert=False)
            finally:
                con.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement (a transient database opens the file read-only)."""
        cur = self._cursor()
        if cur is not None:
            return list(cur.execute(sql, list(params)).fetchall())
        with connection.connect(self.path, read_only=True) as con:
            return list(con.execute(sql, list(params)).fetchall())

    def readable(self, name: str, ddl: Sequence[str]) -> bool:
        """Held: create the tables if needed. Transient: whether the file has them (checked read-only)."""
        if self._held or name in self._ensured:
            return super().readable(name, ddl)
        if not self.path.exists():
            return False
        tables = _TABLE.findall(" ".join(ddl))
        marks = ", ".join("?" for _ in tables)
        found = self.query(
            f"SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() "
            f"AND table_name IN ({marks})",
            tables,
        )
        if int(found[0][0]) < len(tables):
            return False
        self._ensured.add(name)
        return True

    def close(self) -> None:
        """Release the held file (other processes may open it again) and forget this database."""
        with self._lock:
            if self._held:
                connection.release(self.path)
                self._held = False
        super().close()
        _forget(self)


class PostgresDatabase(Database):
    """PostgreSQL through a psycopg 3 connection pool: for several server processes sharing one store."""

    kind = "postgresql"
    # Two processes creating the same table at once collide in PostgreSQL's catalog even with
    # IF NOT EXISTS: a transaction-scoped advisory lock makes them take turns.
    _ddl_guard = "SELECT pg_advisory_xact_lock(4711027)"

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
        try:  # one direct attempt first: a refused or misspelt URL fails now, not after the pool's retries
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as err:
            raise StoreUnavailableError(f"cannot reach PostgreSQL at {redact(url)}: {_first_line(err)}") from None
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


_OPEN: dict[str, Database] = {}
_OPEN_LOCK = threading.RLock()


def resolve_url(url: str | Path | None = None, store_path: str | Path | None = None) -> str:
    """The database to use: ``url`` if given, else $GENREC_DB_URL, else the DuckDB store file.

    A URL is ``postgresql://...`` (or ``postgres://``), ``duckdb://PATH`` or a plain file path; any
    other ``scheme://`` is a ValueError (it would otherwise become a DuckDB file of that name).
    """
    if url:
        return check_url(str(url), "--db")
    if os.environ.get(ENV_URL):
        return check_url(os.environ[ENV_URL], ENV_URL)
    return str(check_store_path(store_path) if store_path else default_store_path())


def check_url(url: str, source: str = "the database URL") -> str:
    """``url`` if its scheme is one genrec speaks (postgresql, postgres, duckdb, or none: a file path)."""
    scheme = _SCHEME.match(url)
    if scheme and scheme.group(1) not in KNOWN_SCHEMES:  # lower case only, as is_postgres reads it
        raise ValueError(
            f"{source} {redact(url)}: unknown scheme '{scheme.group(1)}://'; "
            "use postgresql://..., duckdb://PATH or the path of a DuckDB file"
        )
    return url


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
    with _OPEN_LOCK:
        db = _OPEN.get(key)
        if db is None:
            db = PostgresDatabase(target) if is_postgres(target) else DuckDBDatabase(key, hold=True)
            _OPEN[key] = db
        return db


def database_for(target: str | Path | Database | None = None) -> Database:
    """A database for a store: the given one, the held one for that URL or path, or a transient DuckDB."""
    if isinstance(target, Database):
        return target
    url = resolve_url(target)
    if is_postgres(url):
        return open_database(url)
    with _OPEN_LOCK:
        held = _OPEN.get(_key(url))
    return held if held is not None else DuckDBDatabase(_key(url), hold=False)


def _forget(db: Database) -> None:
    with _OPEN_LOCK:
        for key, value in list(_OPEN.items()):
            if value is db:
                del _OPEN[key]


def redact(url: str) -> str:
    """``url`` without its password."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _first_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300]


def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _rows(cursor: Any) -> list[tuple[Any, ...]]:
    if cursor.description is None:
        return []
    return [tuple(r) for r in cursor.fetchall()]
