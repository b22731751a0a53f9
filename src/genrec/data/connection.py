"""The one way genrec opens the embedded DuckDB file: wait briefly for another process's lock, name who holds it.

DuckDB lets one process write a database file, or several processes read it, never both. A
connection that finds the file locked is retried for up to ``GENREC_LOCK_TIMEOUT`` seconds
(default 30); after that a ``StoreBusyError`` names the process holding the lock. Other failures
(not a DuckDB file, no permission, a full disk) become one-line ``StoreError``s too, and a write
transaction that fails is rolled back without hiding the reason it failed.

A long-running process (``genrec serve``, ``genrec chat``) ``hold``s the file: it opens it once,
read-write, and is its one writer until it ``release``s it. While it holds it, every ``connect``
in that process (any store, read-only or not) gets a cursor of the held connection instead of
opening the file again; other processes wait for the lock and then get the one-line error.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from genrec.data.errors import StoreBusyError, StoreError

DEFAULT_LOCK_TIMEOUT = 30.0
_PID_RE = re.compile(r"PID (\d+)")
_HELD: dict[Path, duckdb.DuckDBPyConnection] = {}
_HELD_LOCK = threading.Lock()


def lock_timeout() -> float:
    """Seconds to wait for a locked store: $GENREC_LOCK_TIMEOUT or 30; anything but seconds >= 0 is a ValueError."""
    text = os.environ.get("GENREC_LOCK_TIMEOUT", "").strip()
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds >= 0:  # NaN too
        raise ValueError(f"GENREC_LOCK_TIMEOUT={text!r}: expected seconds to wait for a locked store (a number >= 0)")
    return seconds


def connect(path: str | Path, read_only: bool = False, timeout: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open ``path``, waiting up to ``timeout`` seconds (default ``lock_timeout()``) while another process holds it.

    In a process that holds ``path`` (``hold``) this is a new cursor of the held connection (close it
    when done; the held connection stays open).
    """
    path = Path(path)
    with _HELD_LOCK:
        held = _HELD.get(_key(path))
        if held is not None:
            return held.cursor()
    if read_only and not path.exists():
        raise FileNotFoundError(f"no store at {path}")
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a DuckDB store file: give a file path")
    wait = lock_timeout() if timeout is None else timeout
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as err:
            text = str(err)
            if not _is_lock_conflict(text):
                raise store_error(err, path, "open") from None
            if time.monotonic() >= deadline:
                raise StoreBusyError(_lock_message(path, text, wait)) from None
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def hold(path: str | Path, timeout: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open ``path`` read-write once for this process and keep it (the process becomes the file's one writer)."""
    path = Path(path)
    prepare_store_dir(path)
    key = _key(path)
    with _HELD_LOCK:
        if key in _HELD:
            return _HELD[key]
    con = connect(path, timeout=timeout)
    with _HELD_LOCK:
        if key in _HELD:  # another thread won the race: keep its connection
            con.close()
        else:
            _HELD[key] = con
        return _HELD[key]


def release(path: str | Path) -> None:
    """Close this process's held connection to ``path`` (other processes may open it again)."""
    with _HELD_LOCK:
        con = _HELD.pop(_key(Path(path)), None)
    if con is not None:
        con.close()


def is_held(path: str | Path) -> bool:
    """Whether this process holds ``path``."""
    with _HELD_LOCK:
        return _key(Path(path)) in _HELD


def prepare_store_dir(path: Path) -> None:
    """Create the folder of a store file, or raise a StoreError saying why it cannot be (e.g. GENREC_HOME is a file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StoreError(
            f"cannot create the store folder {path.parent}: a file has that name (is GENREC_HOME a file?)"
        ) from None
    except NotADirectoryError:
        raise StoreError(f"cannot create the store folder {path.parent}: part of that path is a file") from None
    except OSError as err:
        raise StoreError(
            f"cannot create the store folder {path.parent} ({err.strerror}): set GENREC_HOME or --store to a writable place"
        ) from None


def _key(path: Path) -> Path:
    return path.expanduser().resolve()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection, path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """One write transaction: committed whole, or rolled back with the original error re-raised."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException as err:
        # After a failed write DuckDB may already have aborted the transaction (or invalidated the
        # database); a second error from ROLLBACK must not hide the first.
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        if isinstance(err, (duckdb.Error, OSError)) and not isinstance(err, FileNotFoundError):
            raise store_error(err, path, "write") from err
        raise


def store_error(err: BaseException, path: str | Path, action: str) -> StoreError:
    """A one-line StoreError for a DuckDB / OS error met while opening or writing ``path``."""
    text = " ".join(str(err).split())
    low = text.lower()
    if "not a valid duckdb database" in low or "not a valid database" in low:
        return StoreError(
            f"{path} is not a DuckDB database: give --store (or --db) a file genrec created, or a path that does not exist yet"
        )
    if "no space left" in low or "file too large" in low or "disk quota" in low:
        return StoreError(
            f"could not {action} the store {path}: the disk is full ({_reason(text)}); nothing was changed"
        )
    if "read-only file system" in low or "permission denied" in low or "read-only" in low:
        return StoreError(
            f"cannot {action} the store {path} ({_reason(text)}): set GENREC_HOME or --store to a writable place"
        )
    if "not a directory" in low:
        return StoreError(f"cannot {action} the store {path}: a parent of it is a file, not a directory")
    return StoreError(f"could not {action} the store {path}: {_reason(text)}")


def _is_lock_conflict(text: str) -> bool:
    return "Could not set lock" in text or "Conflicting lock" in text


def _lock_message(path: Path, text: str, waited: float) -> str:
    match = _PID_RE.search(text)
    holder, command = "another process", ""
    if match:
        pid = int(match.group(1))
        command = _command_of(pid)
        holder = f"process {pid}" + (f" ({command})" if command else "")
    if re.search(r"genrec.*\bserve\b", command):
        return (
            f"the store {path} is locked by {holder}, a running genrec serve (the file's one writer while it runs); "
            f"waited {waited:.0f}s. Stop it, or let several processes share a PostgreSQL database "
            "(--db / GENREC_DB_URL)"
        )
    return (
        f"the store {path} is locked by {holder}; waited {waited:.0f}s. Try again when it has finished, "
        "or use another --store / GENREC_HOME (GENREC_LOCK_TIMEOUT sets the wait)"
    )


def _command_of(pid: int) -> str:
    """The command line of a process, shortened, or '' when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    parts = [p.decode(errors="replace") for p in raw.split(b"\0") if p]
    if parts and "python" in Path(parts[0]).name and len(parts) > 1:
        parts = parts[1:]
    if parts:
        parts[0] = Path(parts[0]).name
    command = " ".join(parts)
    return command if len(command) <= 80 else command[:77] + "..."


def _reason(text: str) -> str:
    """The DuckDB message without its 'IO Error:' prefix and documentation link."""
    text = re.sub(r"^[A-Za-z ]*Error: ", "", text)
    text = re.sub(r"\s*See also https?://\S+", "", text)
    return text[:300]
