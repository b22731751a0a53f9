"""Opening the embedded DuckDB file safely: wait briefly for another process's lock, name who holds it.

DuckDB lets one process write a database file, or several processes read it, never both. A
connection that finds the file locked is retried for up to ``GENREC_LOCK_TIMEOUT`` seconds
(default 30); after that a ``StoreError`` names the process holding the lock. Other failures
(not a DuckDB file, no permission, a full disk) become one-line ``StoreError``s too, and a write
transaction that fails is rolled back without hiding the reason it failed.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from genrec.data.errors import StoreError

DEFAULT_LOCK_TIMEOUT = 30.0
_PID_RE = re.compile(r"PID (\d+)")


def lock_timeout() -> float:
    """Seconds to wait for a locked store: $GENREC_LOCK_TIMEOUT or 30."""
    text = os.environ.get("GENREC_LOCK_TIMEOUT", "")
    try:
        return max(0.0, float(text)) if text else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT


def connect(path: str | Path, read_only: bool = False, timeout: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open ``path``, waiting up to ``timeout`` seconds (default ``lock_timeout()``) while another process holds it."""
    path = Path(path)
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
                raise StoreError(_lock_message(path, text, wait)) from None
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


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
            f"{path} is not a DuckDB database: give --store a file genrec created, or a path that does not exist yet"
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
    holder = "another process"
    if match:
        pid = int(match.group(1))
        command = _command_of(pid)
        holder = f"process {pid}" + (f" ({command})" if command else "")
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
